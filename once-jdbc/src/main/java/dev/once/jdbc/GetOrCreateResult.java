package dev.once.jdbc;

import java.util.Map;

/**
 * The row that {@code getOrCreate} found or created, and which of the two happened.
 *
 * @param row every column of the row, named as the database names them, in table order
 * @param created true when this call inserted the row, false when it already existed
 */
public record GetOrCreateResult(Map<String, Object> row, boolean created) {
    /**
     * The result, holding an unmodifiable view of the row.
     *
     * @param row every column of the row
     * @param created whether this call inserted it
     */
    public GetOrCreateResult {
        row = java.util.Collections.unmodifiableMap(row);
    }

    /**
     * The value of one column, looked up without regard to case.
     *
     * @param column the column's name
     * @return its value, possibly null
     * @throws IllegalArgumentException when the row has no such column
     */
    public Object get(String column) {
        Object v = row.get(column);
        if (v != null || row.containsKey(column)) return v;
        for (Map.Entry<String, Object> e : row.entrySet()) if (e.getKey().equalsIgnoreCase(column)) return e.getValue();
        throw new IllegalArgumentException("no column " + column + " in " + row.keySet());
    }
}
