package dev.once.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

final class SqliteDialect extends Dialect {
    // Primary and extended result codes, https://www.sqlite.org/rescode.html
    private static final int BUSY = 5;
    private static final int LOCKED = 6;
    private static final int CONSTRAINT = 19;
    private static final int BUSY_SNAPSHOT = 517;
    private static final int CONSTRAINT_PRIMARYKEY = 1555;
    private static final int CONSTRAINT_UNIQUE = 2067;

    @Override
    String name() {
        return "SQLite";
    }

    /**
     * OR ABORT: a table's own conflict clause ({@code UNIQUE ON CONFLICT REPLACE}) would otherwise apply to
     * every unique key the statement's ON CONFLICT does not name, and REPLACE deletes the row in the way:
     * a new key colliding on another unique key deleted an existing row instead of failing.
     */
    @Override
    String insertInto() {
        return "INSERT OR ABORT INTO ";
    }

    @Override
    String update() {
        return "UPDATE OR ABORT ";
    }

    @Override
    Failure classify(SQLException e) {
        // The driver's getErrorCode() gives the primary code (19 for every constraint); the extended
        // code tells a unique violation from NOT NULL, and a stale snapshot from a busy lock.
        int code = e instanceof org.sqlite.SQLiteException s ? s.getResultCode().code : e.getErrorCode();
        return switch (code) {
            case CONSTRAINT_UNIQUE, CONSTRAINT_PRIMARYKEY -> Failure.UNIQUE_VIOLATION;
            case BUSY_SNAPSHOT -> Failure.SERIALIZATION;
            case BUSY, LOCKED -> Failure.LOCK_TIMEOUT;
            default -> (code & 0xff) == BUSY ? Failure.LOCK_TIMEOUT : Failure.OTHER;
        };
    }

    @Override
    boolean columnNamesIgnoreCase() {
        return true;
    }

    @Override
    SQLException uniqueViolation(String message, SQLException cause) {
        SQLException e = new org.sqlite.SQLiteException(message, org.sqlite.SQLiteErrorCode.SQLITE_CONSTRAINT_UNIQUE);
        if (cause != null) e.initCause(cause);
        return e;
    }

    @Override
    String differs(String existingColumn, String incomingColumn, boolean text) {
        // an explicit collation wins over a column's (NOCASE, RTRIM), and only text has one
        return existingColumn + " IS NOT " + incomingColumn + " COLLATE BINARY";
    }

    /**
     * Each key column's collation as its unique indexes compare it ({@code PRAGMA index_xinfo}), so that
     * lookups compare as the index does: a NOCASE column with a BINARY unique index holds 'A' and 'a' as two
     * keys, and a lookup in the column's NOCASE returned the row 'A' for 'a' (helper-63). A column whose
     * unique indexes compare it in different collations is left to its own.
     */
    @Override
    Map<String, String> keyCollations(Connection c, TableInfo.Name name) throws SQLException {
        Map<String, String> collations = new java.util.HashMap<>();
        java.util.Set<String> ambiguous = new java.util.HashSet<>();
        String schema = name.schema() == null ? "main" : name.schema();
        try (Statement s = c.createStatement()) {
            for (String index : uniqueIndexes(s, schema, name.table())) {
                try (ResultSet rs = s.executeQuery("PRAGMA " + quote(schema) + ".index_xinfo(" + quote(index) + ")")) {
                    while (rs.next()) {
                        String column = rs.getString("name");
                        String coll = rs.getString("coll");
                        if (rs.getInt("key") != 1 || column == null || coll == null) continue;
                        String previous = collations.putIfAbsent(column, " COLLATE " + quote(coll));
                        if (previous != null && !previous.equals(" COLLATE " + quote(coll))) ambiguous.add(column);
                    }
                }
            }
        }
        collations.keySet().removeAll(ambiguous);
        return collations;
    }

    /**
     * Whether SQLite gives a column of this declared type REAL affinity (no INT, CHAR, CLOB, TEXT or BLOB;
     * REAL, FLOA or DOUB): it stores an integer as the nearest double, so 2^53 + 1 is stored as 2^53.
     */
    static boolean realAffinity(String declaredType) {
        String t = declaredType == null ? "" : declaredType.toUpperCase(java.util.Locale.ROOT);
        return !t.contains("INT")
                && !textAffinity(declaredType)
                && !t.contains("BLOB")
                && (t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB"));
    }

    /**
     * Whether SQLite gives a column of this declared type text affinity, by its own rules (INT first, then
     * CHAR, CLOB or TEXT): its driver reports BLOB, untyped, DATE and JSON columns as VARCHAR, and casting
     * their values to text made a blob key 1 find the row '1' in batches (helper-63).
     */
    static boolean textAffinity(String declaredType) {
        String t = declaredType == null ? "" : declaredType.toUpperCase(java.util.Locale.ROOT);
        return !t.contains("INT") && (t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT"));
    }

    /** Triggers on the table, in its schema or in temp (a temp trigger may watch a main table). */
    @Override
    boolean rewritesWrites(Connection c, TableInfo.Name name) throws SQLException {
        String schema = name.schema() == null ? "main" : name.schema();
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM " + quote(schema) + ".sqlite_master WHERE"
                + " type = 'trigger' AND tbl_name = ? COLLATE NOCASE UNION ALL SELECT 1 FROM temp.sqlite_master"
                + " WHERE type = 'trigger' AND tbl_name = ? COLLATE NOCASE")) {
            ps.setString(1, name.table());
            ps.setString(2, name.table());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** The table's unique indexes that are not partial (PRAGMA index_list), by name. */
    private List<String> uniqueIndexes(Statement s, String schema, String table) throws SQLException {
        List<String> indexes = new ArrayList<>();
        try (ResultSet rs = s.executeQuery("PRAGMA " + quote(schema) + ".index_list(" + quote(table) + ")")) {
            while (rs.next()) {
                if (rs.getInt("unique") == 1 && rs.getInt("partial") == 0) indexes.add(rs.getString("name"));
            }
        }
        return indexes;
    }

    /** SQLite's PRAGMAs tell partial indexes apart, which its JDBC metadata does not. */
    @Override
    List<List<String>> uniqueKeys(Connection c, TableInfo.Name name, List<String> columns) throws SQLException {
        List<List<String>> keys = new ArrayList<>();
        String schema = name.schema() == null ? "main" : name.schema();
        try (Statement s = c.createStatement()) {
            List<String> pk = new ArrayList<>();
            try (ResultSet rs =
                    s.executeQuery("PRAGMA " + quote(schema) + ".table_info(" + quote(name.table()) + ")")) {
                List<int[]> order = new ArrayList<>();
                List<String> names = new ArrayList<>();
                while (rs.next()) {
                    int position = rs.getInt("pk");
                    if (position > 0) {
                        order.add(new int[] {position, names.size()});
                        names.add(rs.getString("name"));
                    }
                }
                order.sort((a, b) -> Integer.compare(a[0], b[0]));
                for (int[] o : order) pk.add(names.get(o[1]));
            }
            if (!pk.isEmpty()) TableInfo.canonical(this, pk, columns).ifPresent(keys::add);
            for (String index : uniqueIndexes(s, schema, name.table())) {
                List<String> key = new ArrayList<>();
                boolean plain = true;
                try (ResultSet rs = s.executeQuery("PRAGMA " + quote(schema) + ".index_info(" + quote(index) + ")")) {
                    while (rs.next()) {
                        String column = rs.getString("name");
                        if (column == null) plain = false; // expression index
                        else key.add(column);
                    }
                }
                if (plain && !key.isEmpty())
                    TableInfo.canonical(this, key, columns).ifPresent(keys::add);
            }
        }
        return keys;
    }

    /**
     * {@code SELECT NULL AS once_ord, a, b FROM t WHERE 0 UNION ALL VALUES (?, ?, ?), ...}: the columns of
     * a compound SELECT take their collation and affinity from its first SELECT, here the table's, so the
     * incoming values compare as the column does (NOCASE, RTRIM, an application's collation). VALUES
     * rows do not count toward the 500-term limit of a compound SELECT.
     */
    @Override
    String incomingRows(TableInfo t, List<String> columns, int count) {
        // a number bound for a text column is made text, as the column's affinity makes it when stored:
        // in VALUES it kept its type, so 8 did not find the row '8' (reported INSERTED, then updated it)
        return "SELECT NULL AS once_ord, " + columnList(columns) + " FROM " + t.quotedName()
                + " WHERE 0 UNION ALL VALUES "
                + Sql.numberedTuples(columns, col -> t.isText(col) ? "CAST(? AS TEXT)" : "?", count);
    }

    @Override
    String rowLock() {
        return "";
    }
}
