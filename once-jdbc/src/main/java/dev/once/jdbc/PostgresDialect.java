package dev.once.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

final class PostgresDialect extends Dialect {

    @Override
    String name() {
        return "PostgreSQL";
    }

    @Override
    Failure classify(SQLException e) {
        String state = e.getSQLState();
        if (state == null) return Failure.OTHER;
        return switch (state) {
            case "23505" -> Failure.UNIQUE_VIOLATION;
            case "40001" -> Failure.SERIALIZATION;
            case "40P01" -> Failure.DEADLOCK;
            case "55P03" -> Failure.LOCK_TIMEOUT;
            // the server is shutting down, crashed, or not yet accepting connections
            case "57P01", "57P02", "57P03" -> Failure.CONNECTION;
            default -> Failure.OTHER;
        };
    }

    @Override
    String differs(String existingColumn, String incomingColumn, boolean text) {
        // deterministic collations (all but nondeterministic ICU ones) call only identical strings equal
        return existingColumn + " IS DISTINCT FROM " + incomingColumn;
    }

    @Override
    boolean insertsInWith() {
        return true;
    }

    @Override
    String rowLock() {
        return " FOR UPDATE";
    }

    /**
     * Reads pg_index, which tells what JDBC metadata does not: a DEFERRABLE constraint (indimmediate false)
     * and an index left INVALID by a failed CREATE UNIQUE INDEX CONCURRENTLY cannot be ON CONFLICT's
     * arbiter, nor can partial or expression indexes. INCLUDE columns are not part of the key.
     */
    @Override
    List<List<String>> uniqueKeys(Connection c, TableInfo.Name name, List<String> columns) throws SQLException {
        Map<Long, List<String>> indexes = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT i.indexrelid, a.attname FROM pg_index i"
                + " CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)"
                + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                + " WHERE i.indrelid = ?::regclass AND i.indisunique AND i.indisvalid AND i.indimmediate"
                + " AND i.indpred IS NULL AND i.indexprs IS NULL AND k.position <= i.indnkeyatts"
                + " ORDER BY NOT i.indisprimary, i.indexrelid, k.position")) {
            ps.setString(
                    1,
                    (name.schema() == null ? "" : quote(name.schema().replace("\"", "\"\"")) + ".")
                            + quote(name.table()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    indexes.computeIfAbsent(rs.getLong(1), k -> new ArrayList<>())
                            .add(rs.getString(2));
                }
            }
        }
        List<List<String>> keys = new ArrayList<>();
        for (List<String> key : indexes.values())
            TableInfo.canonical(this, key, columns).ifPresent(keys::add);
        return keys;
    }
}
