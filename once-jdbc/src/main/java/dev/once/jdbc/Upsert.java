package dev.once.jdbc;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What an upsert does when a row with the same key exists: nothing, or update it with the incoming
 * values, optionally only when a condition on the existing and incoming values holds.
 *
 * <pre>{@code
 * Upsert.on("sku").doNothing()
 * Upsert.on("sku").doUpdate()                        // every incoming column but the key
 * Upsert.on("sku").doUpdate("price").onlyIfChanged() // UNCHANGED when the price is the same
 * Upsert.on("sku").doUpdate().onlyIfIncoming("version", Upsert.Comparison.GREATER)
 * }</pre>
 */
public final class Upsert {
    /** How the incoming value compares with the existing one for the update to happen. */
    public enum Comparison {
        /** incoming &gt; existing */
        GREATER(">"),
        /** incoming &gt;= existing */
        GREATER_OR_EQUAL(">="),
        /** incoming &lt; existing */
        LESS("<"),
        /** incoming &lt;= existing */
        LESS_OR_EQUAL("<="),
        /** incoming differs from existing */
        NOT_EQUAL("<>");

        final String operator;

        Comparison(String operator) {
            this.operator = operator;
        }
    }

    record Guard(String column, Comparison comparison) {}

    /** The same spec with its guards' columns spelled as the table spells them. */
    Upsert withGuardColumns(java.util.function.UnaryOperator<String> spelling) {
        List<Guard> spelled = new ArrayList<>();
        for (Guard g : guards) spelled.add(new Guard(spelling.apply(g.column()), g.comparison()));
        return new Upsert(keyColumns, update, updateColumns, onlyIfChanged, spelled);
    }

    final List<String> keyColumns;
    final boolean update;
    final List<String> updateColumns;
    final boolean onlyIfChanged;
    final List<Guard> guards;

    private Upsert(
            List<String> keyColumns,
            boolean update,
            List<String> updateColumns,
            boolean onlyIfChanged,
            List<Guard> guards) {
        this.keyColumns = List.copyOf(keyColumns);
        this.update = update;
        this.updateColumns = List.copyOf(updateColumns);
        this.onlyIfChanged = onlyIfChanged;
        this.guards = List.copyOf(guards);
    }

    /**
     * The columns that identify a row; a unique index on exactly these columns must exist.
     *
     * @param keyColumns one or more column names
     * @return an upsert that updates every incoming non-key column of an existing row
     */
    public static Upsert on(String... keyColumns) {
        if (keyColumns.length == 0) throw new IllegalArgumentException("Upsert.on needs at least one key column");
        for (String c : keyColumns) Objects.requireNonNull(c, "key column");
        return new Upsert(List.of(keyColumns), true, List.of(), false, List.of());
    }

    /**
     * Leave an existing row as it is.
     *
     * @return an upsert with the same key that inserts or does nothing
     */
    public Upsert doNothing() {
        return new Upsert(keyColumns, false, List.of(), false, List.of());
    }

    /**
     * Update these columns of an existing row with the incoming values; none named: every non-key column given.
     *
     * @param columns the columns to update, or none for all
     * @return an upsert with the same key that updates those columns
     */
    public Upsert doUpdate(String... columns) {
        return new Upsert(keyColumns, true, List.of(columns), onlyIfChanged, guards);
    }

    /**
     * Update only when at least one updated column's value differs (NULLs compare as values).
     *
     * @return an upsert reporting {@code UNCHANGED} for rows whose values are already those given
     */
    public Upsert onlyIfChanged() {
        requireUpdate();
        return new Upsert(keyColumns, true, updateColumns, true, guards);
    }

    /**
     * Update only when {@code incoming.column <comparison> existing.column}, or the existing value is
     * NULL; e.g. {@code onlyIfIncoming("version", GREATER)} keeps the newest version. Conditions add up (AND).
     *
     * @param column a column the rows set
     * @param comparison how the incoming value must compare with the existing one
     * @return an upsert with this condition added
     */
    public Upsert onlyIfIncoming(String column, Comparison comparison) {
        requireUpdate();
        List<Guard> g = new ArrayList<>(guards);
        g.add(new Guard(Objects.requireNonNull(column), Objects.requireNonNull(comparison)));
        return new Upsert(keyColumns, true, updateColumns, onlyIfChanged, g);
    }

    private void requireUpdate() {
        if (!update) throw new IllegalStateException("a condition needs doUpdate(), not doNothing()");
    }

    boolean conditional() {
        return onlyIfChanged || !guards.isEmpty();
    }

    @Override
    public String toString() {
        return "Upsert.on" + keyColumns + (update ? ".doUpdate" + updateColumns : ".doNothing()")
                + (onlyIfChanged ? ".onlyIfChanged()" : "") + (guards.isEmpty() ? "" : ".onlyIfIncoming" + guards);
    }
}
