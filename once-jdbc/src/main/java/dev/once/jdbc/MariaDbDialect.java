package dev.once.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

final class MariaDbDialect extends Dialect {
    private static final int DUPLICATE_ENTRY = 1062;
    private static final int DUPLICATE_KEY = 1586;
    private static final int LOCK_WAIT_TIMEOUT = 1205;
    private static final int DEADLOCK = 1213;
    private static final int RECORD_CHANGED = 1020; // innodb_snapshot_isolation (MariaDB 11.6+)

    @Override
    String name() {
        return "MariaDB";
    }

    @Override
    Failure classify(SQLException e) {
        return switch (e.getErrorCode()) {
            case DUPLICATE_ENTRY, DUPLICATE_KEY -> Failure.UNIQUE_VIOLATION;
            case DEADLOCK -> Failure.DEADLOCK;
            case LOCK_WAIT_TIMEOUT -> Failure.LOCK_TIMEOUT;
            case RECORD_CHANGED -> Failure.SERIALIZATION;
            default -> "40001".equals(e.getSQLState()) ? Failure.SERIALIZATION : Failure.OTHER;
        };
    }

    @Override
    SQLException uniqueViolation(String message, SQLException cause) {
        return new SQLException(message, "23000", DUPLICATE_ENTRY, cause);
    }

    @Override
    String quote(String identifier) {
        return '`' + identifier.replace("`", "``") + '`'; // a backtick in a name is doubled (helper-63)
    }

    @Override
    boolean columnNamesIgnoreCase() {
        return true;
    }

    @Override
    boolean hasTargetedConflictClause() {
        return false;
    }

    @Override
    String latestRowLock() {
        // InnoDB's locking reads see the latest committed row even at REPEATABLE READ.
        return " LOCK IN SHARE MODE";
    }

    @Override
    boolean updateReturns() {
        return false;
    }

    @Override
    String differs(String existingColumn, String incomingColumn, boolean text) {
        // BINARY only for text: a DECIMAL's or a DATETIME's text would differ from the bound value's
        if (text) return "NOT (BINARY " + existingColumn + " <=> BINARY " + incomingColumn + ")";
        return "NOT (" + existingColumn + " <=> " + incomingColumn + ")";
    }

    @Override
    String rowLock() {
        return " FOR UPDATE";
    }

    @Override
    boolean schemasAreCatalogs() {
        return true;
    }

    /**
     * A bound string has the connection's collation, which a comparison with the column gives way to but a
     * PARTITION BY does not: a UNION with the table's (empty) column first gives the incoming keys the
     * column's collation ('a' and 'A' one key under utf8mb4_general_ci, two under a _bin or _cs one).
     */
    @Override
    String incomingKeys(TableInfo t, List<String> key, int count) {
        return "SELECT * FROM (SELECT NULL AS once_ord, " + columnList(key) + " FROM " + t.quotedName()
                + " WHERE 0 UNION ALL " + incomingRows(t, key, count) + ") once_k WHERE once_ord IS NOT NULL";
    }

    /**
     * Columns whose stored value is not the bound one, so a lookup must convert it as the insert does
     * (helper-67): FLOAT holds the nearest single-precision number (0.1 is stored as 0.100000001490116...,
     * which the double 0.1 does not equal), BINARY(n) pads to n bytes with 0x00 (the 3 bytes 010203 are
     * stored as 16, which the 3 do not equal). Both casts also clip, onto a stored row: a value beyond FLOAT's
     * range, or longer than n bytes, is refused before any statement ({@code Once.checkKey}).
     */
    @Override
    Map<String, Cast> valueCasts(Connection c, TableInfo.Name name) throws SQLException {
        Map<String, Cast> casts = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_OCTET_LENGTH"
                + " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?"
                + " AND DATA_TYPE IN ('float', 'binary')")) {
            ps.setString(1, name.schema() == null ? c.getCatalog() : name.schema());
            ps.setString(2, name.table());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String type = "float".equalsIgnoreCase(rs.getString(2)) ? "FLOAT" : "BINARY(" + rs.getLong(3) + ")";
                    casts.put(rs.getString(1), new Cast(type, ""));
                }
            }
        }
        return casts;
    }

    /**
     * Reads information_schema.STATISTICS, whose SUB_PART the JDBC metadata leaves out: a unique index on
     * a prefix ({@code UNIQUE (item(2))}) makes "AbC" and "AbD" duplicates, so it cannot serve a key on item.
     */
    @Override
    List<List<String>> uniqueKeys(Connection c, TableInfo.Name name, List<String> columns) throws SQLException {
        Map<String, List<String>> indexes = new LinkedHashMap<>();
        Set<String> unusable = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT INDEX_NAME, COLUMN_NAME, SUB_PART"
                + " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0"
                + " ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX")) {
            ps.setString(1, name.schema() == null ? c.getCatalog() : name.schema());
            ps.setString(2, name.table());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String index = rs.getString("INDEX_NAME");
                    String column = rs.getString("COLUMN_NAME");
                    if (column == null || rs.getObject("SUB_PART") != null) unusable.add(index);
                    indexes.computeIfAbsent(index, k -> new ArrayList<>()).add(column);
                }
            }
        }
        List<List<String>> keys = new ArrayList<>();
        indexes.forEach((index, key) -> {
            if (!unusable.contains(index))
                TableInfo.canonical(this, key, columns).ifPresent(keys::add);
        });
        return keys;
    }
}
