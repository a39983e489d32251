package dev.once.jdbc;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.function.UnaryOperator;

/**
 * Insert-or-update of many rows, a statement per chunk of up to {@link Dialect#maxParameters()} bound
 * values, reporting for every row whether it was inserted, updated or left unchanged.
 *
 * <p>Rows that repeat a key inside one batch are merged first (a database cannot touch one row twice
 * in one statement): for do-update the last occurrence wins, for do-nothing the first; every occurrence
 * reports its key's outcome. "Repeat a key" is the database's equality, not Java's: {@code m1} and
 * {@code M1} under a case-insensitive collation, {@code 'ab'} and {@code 'ab '} in a char(n) column.
 * Java merges equal values before chunking; within a chunk the database merges the rest, and the
 * database matches its rows to the caller's: each incoming row carries its position ({@code once_ord})
 * through the statement ({@link Dialect#incomingRows}), and outcomes come back by position, never by
 * comparing a stored key with the incoming one in Java.
 *
 * <ul>
 *   <li>PostgreSQL, one statement: {@code WITH once_v AS (numbered VALUES cast to the columns' types and
 *       collations), once_m AS (SELECT DISTINCT ON (key) ... ORDER BY key, once_ord), once_w AS (INSERT
 *       ... SELECT FROM once_m ON CONFLICT (key) DO UPDATE SET ... WHERE cond RETURNING key, (xmax = 0))
 *       SELECT once_ord, ... FROM once_v JOIN once_w ON key}: a joined row with xmax 0 was inserted,
 *       another was updated, a row with no partner was left.
 *   <li>SQLite: the existing rows are read first in the same transaction, with the condition evaluated
 *       against the incoming values and each row's representative among its duplicates (a window over the
 *       key, which has the column's collation); then one statement writes the representatives to insert
 *       or update (SQLite has one writer at a time, so the read and the write see the same rows).
 *   <li>MariaDB: the existing rows are read and locked first ({@code SELECT ... FOR UPDATE}, with the
 *       condition evaluated against the incoming values), then {@code INSERT ... ON DUPLICATE KEY UPDATE}
 *       writes the rows to insert or update. Once runs its own transaction at REPEATABLE READ so the lock
 *       also covers keys that do not exist yet (gap locks).
 * </ul>
 * Keys the database calls equal that land in different chunks (batches above a chunk) are written one
 * after the other, each reporting what its own statement did.
 */
final class Upserts {
    private final Dialect d;

    /** One upsertAll call: what every chunk's statement needs, and where outcomes are collected. */
    private record Batch(
            Connection c,
            TableInfo t,
            Upsert spec,
            List<String> key,
            boolean update,
            List<String> updateColumns,
            Map<List<Object>, UpsertOutcome> outcomes) {}

    Upserts(Dialect dialect) {
        this.d = dialect;
    }

    List<UpsertOutcome> upsertAll(
            Connection c,
            TableInfo t,
            List<Map<String, Object>> rows,
            Upsert spec,
            List<String> key,
            List<String> updateColumns)
            throws SQLException {
        boolean update = spec.update && !updateColumns.isEmpty();
        Map<List<Object>, Map<String, Object>> merged = new LinkedHashMap<>();
        for (Map<String, Object> r : rows) {
            List<Object> k = Sql.keyOf(r, key);
            if (update) merged.remove(k);
            merged.putIfAbsent(k, r);
        }
        Batch b = new Batch(c, t, spec, key, update, updateColumns, new HashMap<>());
        for (List<Map<String, Object>> chunk : Sql.chunks(new ArrayList<>(merged.values()), d.maxParameters(), 1)) {
            if (d instanceof PostgresDialect) postgres(b, chunk);
            else if (d instanceof SqliteDialect) sqlite(b, chunk);
            else mariadb(b, chunk);
        }
        List<UpsertOutcome> out = new ArrayList<>(rows.size());
        for (Map<String, Object> r : rows) out.add(b.outcomes.get(Sql.keyOf(r, key)));
        return out;
    }

    /**
     * One statement: the incoming rows, numbered, merged by the key's own equality, written, and the
     * written rows joined back to every incoming row that has their key.
     */
    private void postgres(Batch b, List<Map<String, Object>> chunk) throws SQLException {
        List<String> columns = new ArrayList<>(chunk.get(0).keySet());
        StringJoiner keys = new StringJoiner(", "); // compared as the unique index compares them
        StringJoiner same = new StringJoiner(" AND ");
        for (String k : b.key) {
            String incoming = "once_v." + d.quote(k) + b.t.keyCollation(k);
            keys.add(incoming);
            same.add(incoming + " = once_w." + d.quote(k));
        }
        String sql = "WITH once_v AS (" + d.incomingRows(b.t, columns, chunk.size())
                + "), once_m AS (SELECT DISTINCT ON ("
                + keys + ") * FROM once_v ORDER BY " + keys + ", once_ord" + (b.update ? " DESC" : "")
                + "), once_w AS (INSERT INTO " + b.t.quotedName() + " (" + d.columnList(columns) + ") SELECT "
                + d.columnList(columns) + " FROM once_m" + conflictClause(b) + " RETURNING " + d.columnList(b.key)
                + (b.update ? ", (xmax = 0) AS once_inserted" : "") + ") SELECT once_v.once_ord"
                + (b.update ? ", once_w.once_inserted" : "") + " FROM once_v JOIN once_w ON " + same;
        for (Map<String, Object> r : chunk) b.outcomes.put(Sql.keyOf(r, b.key), UpsertOutcome.UNCHANGED);
        for (Map<String, Object> r : Sql.query(b.c, sql, Sql.numbered(chunk, columns))) {
            boolean inserted = !b.update || Boolean.TRUE.equals(r.get("once_inserted"));
            Map<String, Object> incoming = chunk.get(((Number) r.get("once_ord")).intValue());
            b.outcomes.put(Sql.keyOf(incoming, b.key), inserted ? UpsertOutcome.INSERTED : UpsertOutcome.UPDATED);
        }
    }

    /**
     * SQLite: one writer, so the outcomes read first in this transaction are what the statement does.
     * The read numbers the incoming rows, finds each one's representative among the rows with its key
     * by the column's collation (the last for do-update, the first for do-nothing) and the stored row;
     * only representatives are written.
     */
    private void sqlite(Batch b, List<Map<String, Object>> chunk) throws SQLException {
        List<String> columns = new ArrayList<>(chunk.get(0).keySet());
        StringJoiner keys = new StringJoiner(", ");
        StringJoiner on = new StringJoiner(" AND ");
        for (String k : b.key) {
            keys.add("once_v." + d.quote(k));
            on.add("once_t." + d.quote(k) + " = once_r." + d.quote(k));
        }
        String condition = condition(b, col -> "once_t." + d.quote(col), col -> "once_r." + d.quote(col));
        String sql = "WITH once_v AS (" + d.incomingRows(b.t, columns, chunk.size()) + "), once_r AS (SELECT *, "
                + (b.update ? "MAX" : "MIN") + "(once_ord) OVER (PARTITION BY " + keys + ") AS once_rep FROM once_v)"
                + " SELECT once_r.once_ord, once_r.once_rep, once_t." + d.quote(b.key.get(0))
                + " IS NOT NULL AS once_exists, (" + (condition.isEmpty() ? "1 = 1" : condition)
                + ") AS once_update FROM once_r LEFT JOIN " + b.t.quotedName() + " once_t ON " + on;
        int n = chunk.size();
        int[] rep = new int[n];
        boolean[] exists = new boolean[n];
        boolean[] update = new boolean[n];
        for (Map<String, Object> r : Sql.query(b.c, sql, Sql.numbered(chunk, columns))) {
            int o = ((Number) r.get("once_ord")).intValue();
            rep[o] = ((Number) r.get("once_rep")).intValue();
            exists[o] = r.get("once_exists") instanceof Number e && e.intValue() != 0;
            update[o] = r.get("once_update") instanceof Number u && u.intValue() != 0;
        }
        List<Map<String, Object>> write = new ArrayList<>();
        for (int o = 0; o < n; o++) {
            int r = rep[o];
            UpsertOutcome outcome = !exists[r]
                    ? UpsertOutcome.INSERTED
                    : b.update && update[r] ? UpsertOutcome.UPDATED : UpsertOutcome.UNCHANGED;
            b.outcomes.put(Sql.keyOf(chunk.get(o), b.key), outcome);
            if (o == r && outcome != UpsertOutcome.UNCHANGED) write.add(chunk.get(o));
        }
        if (write.isEmpty()) return;
        List<Object> params = new ArrayList<>();
        Sql.update(b.c, insert(b.t, write, params) + conflictClause(b), params);
    }

    private void mariadb(Batch b, List<Map<String, Object>> chunk) throws SQLException {
        List<Map<String, Object>> write = outcomes(b, chunk, d.rowLock());
        if (write.isEmpty()) return;
        List<Object> params = new ArrayList<>();
        StringJoiner set = new StringJoiner(", ");
        if (b.update) for (String u : b.updateColumns) set.add(d.quote(u) + " = VALUES(" + d.quote(u) + ")");
        else set.add(d.quote(b.key.get(0)) + " = " + d.quote(b.key.get(0)));
        Sql.update(b.c, insert(b.t, write, params) + " ON DUPLICATE KEY UPDATE " + set, params);
    }

    private String insert(TableInfo t, List<Map<String, Object>> rows, List<Object> params) {
        List<String> columns = new ArrayList<>(rows.get(0).keySet());
        for (Map<String, Object> r : rows) params.addAll(Sql.values(r, columns));
        return "INSERT INTO " + t.quotedName() + " (" + d.columnList(columns) + ") VALUES "
                + Sql.tuples(columns.size(), rows.size());
    }

    private String conflictClause(Batch b) {
        String target = " ON CONFLICT (" + d.columnList(b.key) + ")";
        if (!b.update) return target + " DO NOTHING";
        StringJoiner set = new StringJoiner(", ");
        for (String u : b.updateColumns) set.add(d.quote(u) + " = excluded." + d.quote(u));
        String table = d.quote(b.t.name().table());
        String condition = condition(b, c -> table + "." + d.quote(c), c -> "excluded." + d.quote(c));
        return target + " DO UPDATE SET " + set + (condition.isEmpty() ? "" : " WHERE " + condition);
    }

    /** The update's condition: any updated column differs (onlyIfChanged) AND every guard holds. */
    private String condition(Batch b, UnaryOperator<String> existing, UnaryOperator<String> incoming) {
        StringJoiner all = new StringJoiner(" AND ");
        if (b.spec.onlyIfChanged) {
            StringJoiner any = new StringJoiner(" OR ", "(", ")");
            for (String u : b.updateColumns) any.add(d.differs(existing.apply(u), incoming.apply(u), b.t.isText(u)));
            all.add(any.toString());
        }
        for (Upsert.Guard g : b.spec.guards) {
            String e = existing.apply(g.column());
            all.add("(" + e + " IS NULL OR " + incoming.apply(g.column()) + " " + g.comparison().operator + " " + e
                    + ")");
        }
        return all.toString();
    }

    /**
     * Reads (and with {@code lock}, locks) the existing rows, sets every row's outcome and returns the rows
     * to write. Outcomes are keyed by the incoming key values, which the database matched to its rows
     * with the column's collation: 'sku1' finds 'SKU1' under a case-insensitive one.
     */
    private List<Map<String, Object>> outcomes(Batch b, List<Map<String, Object>> chunk, String lock)
            throws SQLException {
        Set<List<Object>> existing = new HashSet<>();
        Set<List<Object>> toUpdate = new HashSet<>();
        for (Map<String, Object> r : existingRows(b, chunk, lock)) {
            List<Object> k = Sql.keyOf(r, b.key);
            existing.add(k);
            Object yes = r.get("once_update");
            if (b.update && (yes instanceof Number n ? n.intValue() != 0 : Boolean.TRUE.equals(yes))) toUpdate.add(k);
        }
        List<Map<String, Object>> write = new ArrayList<>();
        for (Map<String, Object> r : chunk) {
            List<Object> k = Sql.keyOf(r, b.key);
            UpsertOutcome o = !existing.contains(k)
                    ? UpsertOutcome.INSERTED
                    : toUpdate.contains(k) ? UpsertOutcome.UPDATED : UpsertOutcome.UNCHANGED;
            b.outcomes.put(k, o);
            if (o != UpsertOutcome.UNCHANGED) write.add(r);
        }
        return write;
    }

    /**
     * The incoming key values that have a row, each with whether the update's condition holds against the
     * incoming values ({@code once_update}).
     */
    private List<Map<String, Object>> existingRows(Batch b, List<Map<String, Object>> rows, String lock)
            throws SQLException {
        List<String> columns = new ArrayList<>(rows.get(0).keySet());
        List<Object> params = new ArrayList<>();
        for (Map<String, Object> r : rows) params.addAll(Sql.values(r, columns));
        String with = "";
        String incoming = "once_v";
        if (d instanceof SqliteDialect) { // VALUES has no limit on its rows; a compound SELECT has 500
            with = "WITH once_v (" + d.columnList(columns) + ") AS (VALUES " + Sql.tuples(columns.size(), rows.size())
                    + ") ";
        } else {
            StringJoiner union = new StringJoiner(" UNION ALL ", "(", ") once_v");
            for (int i = 0; i < rows.size(); i++) {
                StringJoiner select = new StringJoiner(", ", "SELECT ", "");
                for (String col : columns) select.add(i == 0 ? "? AS " + d.quote(col) : "?");
                union.add(select.toString());
            }
            incoming = union.toString();
        }
        StringJoiner on = new StringJoiner(" AND ");
        for (String k : b.key) on.add("once_t." + d.quote(k) + " = once_v." + d.quote(k));
        String condition = condition(b, col -> "once_t." + d.quote(col), col -> "once_v." + d.quote(col));
        List<String> selected = new ArrayList<>();
        for (String k : b.key) selected.add("once_v." + d.quote(k));
        String sql = with + "SELECT " + String.join(", ", selected) + ", ("
                + (condition.isEmpty() ? "1 = 1" : condition) + ") AS once_update FROM " + b.t.quotedName()
                + " once_t JOIN " + incoming + " ON " + on + lock;
        return Sql.query(b.c, sql, params);
    }
}
