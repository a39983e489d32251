package dev.once.jdbc;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;

/**
 * A guarded batch ({@code upsertAll} with {@code onlyIfIncoming}) applied as its rows would be one call
 * each, in input order: every row's outcome and the rows stored are those. Merging a key's rows as an
 * unguarded batch does (the last occurrence wins) let an older version after a newer one pass a GREATER
 * guard against the stored row (helper-63).
 *
 * <p>A key is the unique index's: the database numbers each row's occurrence of its key ({@code
 * ROW_NUMBER() OVER (PARTITION BY key ORDER BY once_ord)} over the numbered incoming keys, in the index's
 * collation). Split by Java's equality, rows equal only by the collation ('a' v7, 'A' v6 under a
 * case-insensitive key) met in one round, where v6 won (PostgreSQL, SQLite), or fell into rounds out of
 * their order (MariaDB; helper-67). Chunks are applied one after another, each completely, so a key's rows
 * keep their order across chunks. A chunk whose keys each occur once is one merged statement. Otherwise:
 *
 * <ul>
 *   <li><b>By the running extreme</b> (PostgreSQL and SQLite; one guard comparing by order on a column that
 *       is not the key, a value in every row, onlyIfChanged only beside a strict comparison, which implies
 *       it): one by one, a row is written iff its value passes the key's running maximum (GREATER,
 *       GREATER_OR_EQUAL; minimum for LESS...) of the stored value and the rows before it, and what is stored
 *       at the end is the last row written. So three statements however often keys repeat: (1) each key's
 *       first row inserted where no row has its key (ON CONFLICT DO NOTHING): that row is INSERTED; (2) the
 *       stored values read, locked on PostgreSQL ({@code FOR UPDATE}; SQLite's writer holds the file since
 *       (1)), with each row's running extreme before it (a window over the key in input order), which says
 *       whether the row passes; (3) each key's last passing row written with {@code UPDATE ... WHERE key}.
 *       A row gone between (1) and (3) (deleted by another transaction) is a {@link
 *       SnapshotConflictException}: Once retries its own transaction, a caller runs theirs again.
 *   <li><b>In rounds</b> otherwise: round n holds every key's n-th row, one merged statement each, so a key
 *       repeated n times costs n statements.
 * </ul>
 */
final class GuardedBatch {
    private final Upserts upserts;
    private final Dialect d;

    GuardedBatch(Upserts upserts, Dialect dialect) {
        this.upserts = upserts;
        this.d = dialect;
    }

    List<UpsertOutcome> upsertAll(
            Connection c,
            boolean callerOwned,
            TableInfo t,
            List<Map<String, Object>> rows,
            Upsert spec,
            List<String> key,
            List<String> updateColumns)
            throws SQLException {
        List<UpsertOutcome> out = new ArrayList<>(rows.size());
        for (List<Map<String, Object>> chunk : Sql.chunks(rows, d.maxParameters(), 1))
            out.addAll(chunk(c, callerOwned, t, chunk, spec, key, updateColumns));
        return out;
    }

    private List<UpsertOutcome> chunk(
            Connection c,
            boolean callerOwned,
            TableInfo t,
            List<Map<String, Object>> rows,
            Upsert spec,
            List<String> key,
            List<String> updateColumns)
            throws SQLException {
        int[] occurrence = occurrences(c, t, rows, key);
        List<List<Integer>> rounds = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            while (rounds.size() <= occurrence[i]) rounds.add(new ArrayList<>());
            rounds.get(occurrence[i]).add(i);
        }
        if (rounds.size() == 1) return upserts.merged(c, callerOwned, t, rows, spec, key, updateColumns);
        if (byRunningExtreme(t, spec, key, rows))
            return runningExtreme(c, callerOwned, t, rows, spec, key, updateColumns, rounds.get(0));
        UpsertOutcome[] out = new UpsertOutcome[rows.size()];
        for (List<Integer> round : rounds) {
            List<Map<String, Object>> these = new ArrayList<>(round.size());
            for (int i : round) these.add(rows.get(i));
            List<UpsertOutcome> outcomes = upserts.merged(c, callerOwned, t, these, spec, key, updateColumns);
            for (int j = 0; j < round.size(); j++) out[round.get(j)] = outcomes.get(j);
        }
        return Arrays.asList(out);
    }

    /** For each row, how many rows before it have its key by the unique index's equality. */
    private int[] occurrences(Connection c, TableInfo t, List<Map<String, Object>> rows, List<String> key)
            throws SQLException {
        int[] out = new int[rows.size()];
        String sql = "WITH once_v AS (" + d.incomingKeys(t, key, rows.size()) + ") SELECT once_ord,"
                + " ROW_NUMBER() OVER (PARTITION BY " + partition(t, key) + " ORDER BY once_ord) AS once_n FROM once_v";
        for (Map<String, Object> r : Sql.query(c, sql, Sql.numbered(rows, key)))
            out[((Number) r.get("once_ord")).intValue()] = ((Number) r.get("once_n")).intValue() - 1;
        return out;
    }

    private String partition(TableInfo t, List<String> key) {
        StringJoiner keys = new StringJoiner(", ");
        for (String k : key) keys.add("once_v." + d.quote(k) + t.keyCollation(k));
        return keys.toString();
    }

    /** Whether the running extreme decides every row (see the class comment). */
    private boolean byRunningExtreme(TableInfo t, Upsert spec, List<String> key, List<Map<String, Object>> rows) {
        if (d instanceof MariaDbDialect || spec.guards.size() != 1) return false;
        Upsert.Guard g = spec.guards.get(0);
        if (key.contains(g.column())) return false;
        if (g.comparison() == Upsert.Comparison.NOT_EQUAL) return false;
        boolean strict = g.comparison() == Upsert.Comparison.GREATER || g.comparison() == Upsert.Comparison.LESS;
        if (spec.onlyIfChanged && !strict) return false; // a strict pass changes the guard column, so it implies it
        for (Map<String, Object> r : rows) if (r.get(g.column()) == null) return false;
        return !t.rewritesWrites() && comparesAsStored(t, g.column(), rows);
    }

    /** PostgreSQL types with a max() and min() (uuid, boolean, bytea, bit and jsonb compare but have none). */
    private static final java.util.Set<Integer> AGGREGATED = java.util.Set.of(
            java.sql.Types.TINYINT,
            java.sql.Types.SMALLINT,
            java.sql.Types.INTEGER,
            java.sql.Types.BIGINT,
            java.sql.Types.DECIMAL,
            java.sql.Types.NUMERIC,
            java.sql.Types.REAL,
            java.sql.Types.FLOAT,
            java.sql.Types.DOUBLE,
            java.sql.Types.CHAR,
            java.sql.Types.VARCHAR,
            java.sql.Types.LONGVARCHAR,
            java.sql.Types.NCHAR,
            java.sql.Types.NVARCHAR,
            java.sql.Types.LONGNVARCHAR,
            java.sql.Types.DATE,
            java.sql.Types.TIME,
            java.sql.Types.TIMESTAMP,
            java.sql.Types.TIME_WITH_TIMEZONE,
            java.sql.Types.TIMESTAMP_WITH_TIMEZONE);

    /**
     * Whether the running extreme of the incoming guard values is that of the values one call per row would
     * store (helper-69). PostgreSQL: they are cast to the column's type, whose max() must exist (a uuid
     * guard failed with "function max(uuid) does not exist"). SQLite: a value is converted by the column's
     * affinity only when stored, so a text column's (cast to TEXT here) or numbers that every affinity keeps
     * as they compare: a BigDecimal or a String is bound as text, and '9' > 10 (text sorts after numbers)
     * wrote 9 over 10; a Long beyond 2^53 is stored rounded in a REAL column.
     */
    private boolean comparesAsStored(TableInfo t, String column, List<Map<String, Object>> rows) {
        if (!(d instanceof SqliteDialect)) return AGGREGATED.contains(t.sqlType(column));
        if (t.isText(column)) return true;
        boolean real = SqliteDialect.realAffinity(t.typeName(column));
        for (Map<String, Object> r : rows) {
            Object v = r.get(column);
            if (v instanceof Integer
                    || v instanceof Short
                    || v instanceof Byte
                    || v instanceof Double
                    || v instanceof Float) continue;
            if (v instanceof Long l && (!real || Math.abs(l) <= 1L << 53)) continue;
            return false;
        }
        return true;
    }

    private List<UpsertOutcome> runningExtreme(
            Connection c,
            boolean callerOwned,
            TableInfo t,
            List<Map<String, Object>> rows,
            Upsert spec,
            List<String> key,
            List<String> updateColumns,
            List<Integer> firsts)
            throws SQLException {
        // (1) each key's first row where no row has its key
        List<Map<String, Object>> first = new ArrayList<>(firsts.size());
        for (int i : firsts) first.add(rows.get(i));
        Upsert insertOnly = Upsert.on(key.toArray(String[]::new)).doNothing();
        List<UpsertOutcome> firstOutcomes = upserts.merged(c, callerOwned, t, first, insertOnly, key, List.of());
        boolean[] inserted = new boolean[rows.size()];
        for (int j = 0; j < firsts.size(); j++)
            inserted[firsts.get(j)] = firstOutcomes.get(j) == UpsertOutcome.INSERTED;

        // (2) the stored values, and whether each row passes its key's running extreme
        Upsert.Guard g = spec.guards.get(0);
        String guard = d.quote(g.column());
        List<String> columns = new ArrayList<>(key);
        columns.add(g.column());
        StringJoiner on = new StringJoiner(" AND ");
        for (String k : key) {
            String collation = t.keyCollation(k);
            on.add("once_t." + d.quote(k) + collation + " = once_v." + d.quote(k) + collation);
        }
        String lock = d.rowLock().isEmpty() ? "" : d.rowLock() + " OF once_t";
        String extreme =
                g.comparison() == Upsert.Comparison.GREATER || g.comparison() == Upsert.Comparison.GREATER_OR_EQUAL
                        ? "MAX"
                        : "MIN";
        String op = g.comparison().operator;
        String sql = "WITH once_v AS (" + d.incomingRows(t, columns, rows.size()) + "), once_s AS (SELECT"
                + " once_v.once_ord AS once_o, once_t." + guard + " AS once_s0 FROM once_v JOIN " + t.quotedName()
                + " once_t ON " + on + lock + "), once_p AS (SELECT once_v.once_ord, once_v." + guard + " AS once_g,"
                + " once_s.once_o IS NOT NULL AS once_found, once_s.once_s0, " + extreme + "(once_v." + guard
                + ") OVER (PARTITION BY " + partition(t, key) + " ORDER BY once_v.once_ord ROWS BETWEEN UNBOUNDED"
                + " PRECEDING AND 1 PRECEDING) AS once_prev, FIRST_VALUE(once_v.once_ord) OVER (PARTITION BY "
                + partition(t, key) + " ORDER BY once_v.once_ord) AS once_first FROM once_v LEFT JOIN once_s ON"
                + " once_s.once_o = once_v.once_ord) SELECT once_ord, once_first, once_found, ((once_prev IS NULL"
                + " OR once_g " + op + " once_prev) AND (once_s0 IS NULL OR once_g " + op + " once_s0)) AS"
                + " once_passes FROM once_p";
        int n = rows.size();
        int[] firstOf = new int[n];
        boolean[] found = new boolean[n];
        boolean[] passes = new boolean[n];
        for (Map<String, Object> r : Sql.query(c, sql, Sql.numbered(rows, columns))) {
            int o = ((Number) r.get("once_ord")).intValue();
            firstOf[o] = ((Number) r.get("once_first")).intValue();
            found[o] = truth(r.get("once_found"));
            passes[o] = truth(r.get("once_passes"));
        }

        // (3) each key's last passing row written, unless it is the row (1) inserted
        UpsertOutcome[] out = new UpsertOutcome[n];
        Map<Integer, Integer> last = new HashMap<>(); // a key's first row: its last passing row
        for (int o = 0; o < n; o++) {
            if (!found[o]) throw gone(t, key);
            boolean insertedHere = inserted[firstOf[o]] && o == firstOf[o];
            out[o] =
                    insertedHere ? UpsertOutcome.INSERTED : passes[o] ? UpsertOutcome.UPDATED : UpsertOutcome.UNCHANGED;
            if (passes[o] || insertedHere) last.put(firstOf[o], o);
        }
        List<Map<String, Object>> write = new ArrayList<>();
        for (Map.Entry<Integer, Integer> e : last.entrySet())
            if (!(inserted[e.getKey()] && e.getValue().equals(e.getKey()))) write.add(rows.get(e.getValue()));
        for (int changed : upserts.updateAll(c, callerOwned, t, key, updateColumns, write))
            if (changed == 0) throw gone(t, key);
        return Arrays.asList(out);
    }

    private static boolean truth(Object v) {
        return v instanceof Number n ? n.intValue() != 0 : Boolean.TRUE.equals(v);
    }

    private static SnapshotConflictException gone(TableInfo t, List<String> key) {
        return new SnapshotConflictException(
                "upsert on " + t.name() + key + ": a row of the batch's keys was deleted by another transaction"
                        + " while the batch applied it. Run the transaction again (Once does so itself when it"
                        + " owns the transaction)",
                null);
    }
}
