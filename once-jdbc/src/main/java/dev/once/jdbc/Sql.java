package dev.once.jdbc;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.function.UnaryOperator;

/** Statement text, parameter binding and row mapping. Values are always bound, never written into SQL. */
final class Sql {
    private Sql() {}

    static List<Map<String, Object>> query(Connection c, String sql, List<?> params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, params);
            try (ResultSet rs = ps.executeQuery()) {
                ResultSetMetaData meta = rs.getMetaData();
                int n = meta.getColumnCount();
                List<Map<String, Object>> rows = new ArrayList<>();
                while (rs.next()) {
                    Map<String, Object> row = new LinkedHashMap<>(n * 2);
                    for (int i = 1; i <= n; i++) row.put(meta.getColumnLabel(i), rs.getObject(i));
                    rows.add(row);
                }
                return rows;
            }
        }
    }

    static Map<String, Object> first(Connection c, String sql, List<?> params) throws SQLException {
        List<Map<String, Object>> rows = query(c, sql, params);
        return rows.isEmpty() ? null : rows.get(0);
    }

    static int update(Connection c, String sql, List<?> params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, params);
            return ps.executeUpdate();
        }
    }

    private static void bind(PreparedStatement ps, List<?> params) throws SQLException {
        for (int i = 0; i < params.size(); i++) ps.setObject(i + 1, params.get(i));
    }

    /**
     * {@code a = ? AND b = ?}, each value as its column compares it ({@link TableInfo#typed}): on
     * PostgreSQL a String binds as varchar, and {@code citext = varchar} would compare as text, with case;
     * a key column in the collation its unique index compares it in ({@link TableInfo#keyCollation}).
     */
    static String equalities(Dialect d, TableInfo t, Collection<String> columns) {
        StringJoiner j = new StringJoiner(" AND ");
        for (String c : columns) j.add(d.quote(c) + t.keyCollation(c) + " = " + t.keyTyped(c, "?"));
        return j.toString();
    }

    /** {@code a = ?, b = ?} */
    static String assignments(Dialect d, Collection<String> columns) {
        StringJoiner j = new StringJoiner(", ");
        for (String c : columns) j.add(d.quote(c) + " = ?");
        return j.toString();
    }

    /** {@code (?, ?, ?)} */
    static String tuple(int width) {
        StringJoiner j = new StringJoiner(", ", "(", ")");
        for (int i = 0; i < width; i++) j.add("?");
        return j.toString();
    }

    /** {@code (?, ?), (?, ?)} */
    static String tuples(int width, int count) {
        return repeated(tuple(width), count);
    }

    /**
     * The rows of {@link Dialect#incomingRows} as VALUES tuples: {@code (?, a, b), ...}, each an ordinal
     * then every column's placeholder as {@code placeholder} writes it (a cast, say).
     */
    static String numberedTuples(List<String> columns, UnaryOperator<String> placeholder, int count) {
        StringJoiner row = new StringJoiner(", ", "(?, ", ")");
        for (String col : columns) row.add(placeholder.apply(col));
        return repeated(row.toString(), count);
    }

    private static String repeated(String tuple, int count) {
        StringJoiner j = new StringJoiner(", ");
        for (int i = 0; i < count; i++) j.add(tuple);
        return j.toString();
    }

    /** How many rows binding {@code width} values each one statement may hold (at least one). */
    static int rowsPerStatement(int maxParameters, int width) {
        return Math.max(1, maxParameters / width);
    }

    /** Splits rows so that no statement binds more than maxParameters values. */
    static List<List<Map<String, Object>>> chunks(List<Map<String, Object>> rows, int maxParameters) {
        return chunks(rows, maxParameters, 0);
    }

    /** As {@link #chunks(List, int)}, where each row binds {@code extra} values more than its columns (an ordinal). */
    static List<List<Map<String, Object>>> chunks(List<Map<String, Object>> rows, int maxParameters, int extra) {
        int size = rowsPerStatement(
                maxParameters, (rows.isEmpty() ? 1 : Math.max(1, rows.get(0).size())) + extra);
        List<List<Map<String, Object>>> out = new ArrayList<>();
        for (int i = 0; i < rows.size(); i += size) out.add(rows.subList(i, Math.min(rows.size(), i + size)));
        return out;
    }

    static List<Object> values(Map<String, Object> row, Collection<String> columns) {
        List<Object> out = new ArrayList<>(columns.size());
        for (String c : columns) out.add(row.get(c));
        return out;
    }

    /** The bound values of {@link Dialect#incomingRows}: each row's ordinal in {@code rows}, then its values. */
    static List<Object> numbered(List<Map<String, Object>> rows, List<String> columns) {
        List<Object> params = new ArrayList<>(rows.size() * (columns.size() + 1));
        for (int i = 0; i < rows.size(); i++) {
            params.add(i);
            params.addAll(values(rows.get(i), columns));
        }
        return params;
    }

    /**
     * A comparable identity for key values, so a value the caller bound (an Integer, a String) matches
     * the one the driver returns (a Long, a BigDecimal): numbers by value, byte arrays by content.
     */
    static List<Object> keyOf(Map<String, Object> row, List<String> columns) {
        List<Object> key = new ArrayList<>(columns.size());
        for (String c : columns) key.add(normalize(valueIgnoringCase(row, c)));
        return key;
    }

    private static Object valueIgnoringCase(Map<String, Object> row, String column) {
        if (row.containsKey(column)) return row.get(column);
        for (Map.Entry<String, Object> e : row.entrySet()) if (e.getKey().equalsIgnoreCase(column)) return e.getValue();
        return null;
    }

    private static Object normalize(Object v) {
        if (v instanceof Boolean b) return b ? BigDecimal.ONE : BigDecimal.ZERO;
        if (v instanceof Number n) {
            try {
                return new BigDecimal(n.toString()).stripTrailingZeros();
            } catch (NumberFormatException e) {
                return n.toString();
            }
        }
        if (v instanceof byte[] b) return ByteBuffer.wrap(b);
        if (v instanceof java.sql.Timestamp t) return t.toLocalDateTime();
        if (v instanceof java.sql.Date d) return d.toLocalDate();
        if (v instanceof CharSequence || v instanceof java.util.UUID) return v.toString();
        return v;
    }

    /** Renames a row's keys to the table's spelling of its columns. */
    static Map<String, Object> canonical(TableInfo table, Map<String, Object> row) {
        Map<String, Object> out = new LinkedHashMap<>(row.size() * 2);
        row.forEach((k, v) -> out.put(table.spelling(k), v));
        return out;
    }
}
