package dev.once.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 *       condition evaluated against the incoming values). Rows found are written with {@code UPDATE ...
 *       WHERE key = ?} (a JDBC batch, only those whose condition held), never {@code ON DUPLICATE KEY
 *       UPDATE}, which acts on whichever unique key conflicts. The absent rows are inserted with one plain
 *       {@code INSERT} per chunk. A duplicate-key error means a row appeared after the read (committed by a
 *       concurrent transaction: at READ COMMITTED there are no gap locks), or two rows of the batch that
 *       the collation calls equal ('m1' and 'M1'), or a conflict on another unique key: the chunk's rows
 *       are then inserted one by one, and a row whose insert is a duplicate is read again with the lock
 *       (a locking read sees the latest committed row at every isolation level) and updated or left as
 *       its condition says; no row with its key means the conflict was on another key, and the
 *       database's error is rethrown. Incoming rows that the collation maps to one existing row are
 *       applied one at a time in input order, each condition evaluated against the row as the previous
 *       one left it.
 * </ul>
 * Keys the database calls equal that land in different chunks (batches above a chunk) are written one
 * after the other, each reporting what its own statement did.
 */
final class Upserts {
    private final Dialect d;

    /** One upsertAll call: what every chunk's statement needs, and where outcomes are collected. */
    private record Batch(
            Connection c,
            boolean callerOwned,
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
            boolean callerOwned,
            TableInfo t,
            List<Map<String, Object>> rows,
            Upsert spec,
            List<String> key,
            List<String> updateColumns)
            throws SQLException {
        boolean update = spec.update && !updateColumns.isEmpty();
        if (update && !spec.guards.isEmpty() && rows.size() > 1) { // as one call per row: see GuardedBatch
            return new GuardedBatch(this, d).upsertAll(c, callerOwned, t, rows, spec, key, updateColumns);
        }
        return merged(c, callerOwned, t, rows, spec, key, updateColumns);
    }

    /** Rows repeating a key merged (the last wins for do-update, the first for do-nothing), then written by chunks. */
    List<UpsertOutcome> merged(
            Connection c,
            boolean callerOwned,
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
        Batch b = new Batch(c, callerOwned, t, spec, key, update, updateColumns, new HashMap<>());
        List<List<Map<String, Object>>> chunks = Sql.chunks(new ArrayList<>(merged.values()), d.maxParameters(), 1);
        // in a caller's transaction the whole call runs under a savepoint (Once.upsertAll): a failure
        // leaves nothing of it behind
        for (List<Map<String, Object>> chunk : chunks) {
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
     * by the unique index's collation (the last for do-update, the first for do-nothing) and the stored
     * row; only representatives are written.
     */
    private void sqlite(Batch b, List<Map<String, Object>> chunk) throws SQLException {
        List<String> columns = new ArrayList<>(chunk.get(0).keySet());
        StringJoiner keys = new StringJoiner(", ");
        StringJoiner on = new StringJoiner(" AND ");
        for (String k : b.key) {
            keys.add("once_v." + d.quote(k) + b.t.keyCollation(k));
            on.add("once_t." + d.quote(k) + b.t.keyCollation(k) + " = once_r." + d.quote(k));
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

    /** MariaDB: see the class comment. */
    private void mariadb(Batch b, List<Map<String, Object>> chunk) throws SQLException {
        Map<List<Object>, Boolean> holds = new HashMap<>(); // incoming key found: whether its condition holds
        Map<List<Object>, List<Object>> stored = new HashMap<>(); // incoming key found: the row's stored key
        Map<List<Object>, Integer> finders = new HashMap<>(); // stored key: how many incoming keys found it
        for (Map<String, Object> r : existingRows(b, chunk, d.rowLock())) {
            List<Object> k = Sql.keyOf(r, b.key);
            List<Object> s = Sql.keyOf(r, storedKey(b));
            holds.put(k, conditionHolds(b, r));
            stored.put(k, s);
            finders.merge(s, 1, Integer::sum);
        }
        List<Map<String, Object>> update = new ArrayList<>();
        List<Map<String, Object>> oneByOne = new ArrayList<>();
        List<Map<String, Object>> insert = new ArrayList<>();
        for (Map<String, Object> r : chunk) {
            List<Object> k = Sql.keyOf(r, b.key);
            Boolean h = holds.get(k);
            if (h == null) insert.add(r);
            else if (finders.get(stored.get(k)) > 1) oneByOne.add(r); // 'sku1' and 'SKU1' found row 'Sku1'
            else {
                b.outcomes.put(k, h ? UpsertOutcome.UPDATED : UpsertOutcome.UNCHANGED);
                if (h) update.add(r);
            }
        }
        updateAll(b, update);
        for (Map<String, Object> r : oneByOne) b.outcomes.put(Sql.keyOf(r, b.key), lockedUpsert(b, r));
        insertAbsent(b, insert);
    }

    /**
     * Inserts rows the locking read found absent: one statement, or when it meets a duplicate, one row at a
     * time, each under its own savepoint in a caller's transaction (InnoDB rolls back a failed statement).
     */
    private void insertAbsent(Batch b, List<Map<String, Object>> rows) throws SQLException {
        if (rows.isEmpty()) return;
        try {
            insertPlainly(b, rows);
            for (Map<String, Object> r : rows) b.outcomes.put(Sql.keyOf(r, b.key), UpsertOutcome.INSERTED);
            return;
        } catch (SQLException e) {
            if (d.classify(e) != Dialect.Failure.UNIQUE_VIOLATION) throw e;
        }
        for (Map<String, Object> r : rows) {
            UpsertOutcome o;
            try {
                insertPlainly(b, List.of(r));
                o = UpsertOutcome.INSERTED;
            } catch (SQLException e) {
                if (d.classify(e) != Dialect.Failure.UNIQUE_VIOLATION) throw e;
                o = lockedUpsert(b, r);
                if (o == null) throw e; // no row has the key: the duplicate is on another unique key
            }
            b.outcomes.put(Sql.keyOf(r, b.key), o);
        }
    }

    private void insertPlainly(Batch b, List<Map<String, Object>> rows) throws SQLException {
        List<Object> params = new ArrayList<>();
        String sql = insert(b.t, rows, params);
        Transactions.guarded(b.c, b.callerOwned, () -> Sql.update(b.c, sql, params));
    }

    /**
     * One row that has (or may have) a row with its key: reads it again with the row lock, which sees the
     * latest committed row, and updates it if the condition holds. Null when no row has the key.
     */
    private UpsertOutcome lockedUpsert(Batch b, Map<String, Object> r) throws SQLException {
        // a shared lock is enough to leave a row: concurrent losers of one key then do not deadlock
        List<Map<String, Object>> found = existingRows(b, List.of(r), b.update ? d.rowLock() : d.latestRowLock());
        if (found.isEmpty()) return null;
        if (!conditionHolds(b, found.get(0))) return UpsertOutcome.UNCHANGED;
        updateAll(b, List.of(r));
        return UpsertOutcome.UPDATED;
    }

    /**
     * {@code UPDATE ... SET updateColumns WHERE key = ?} for rows whose lock this transaction holds (or, on
     * SQLite, whose write lock), as one JDBC batch; the rows each statement changed.
     */
    int[] updateAll(
            Connection c,
            boolean callerOwned,
            TableInfo t,
            List<String> key,
            List<String> updateColumns,
            List<Map<String, Object>> rows)
            throws SQLException {
        return updateAll(new Batch(c, callerOwned, t, null, key, true, updateColumns, null), rows);
    }

    /** {@code UPDATE ... SET columns WHERE key = ?} for rows whose lock this transaction holds, as one JDBC batch. */
    private int[] updateAll(Batch b, List<Map<String, Object>> rows) throws SQLException {
        if (rows.isEmpty()) return new int[0];
        String sql = d.update() + b.t.quotedName() + " SET " + Sql.assignments(d, b.updateColumns) + " WHERE "
                + Sql.equalities(d, b.t, b.key);
        try (PreparedStatement ps = b.c.prepareStatement(sql)) {
            for (Map<String, Object> r : rows) {
                int i = 1;
                for (Object v : Sql.values(r, b.updateColumns)) ps.setObject(i++, v);
                for (Object v : Sql.values(r, b.key)) ps.setObject(i++, v);
                ps.addBatch();
            }
            return ps.executeBatch();
        }
    }

    private boolean conditionHolds(Batch b, Map<String, Object> found) {
        Object yes = found.get("once_update");
        return b.update && (yes instanceof Number n ? n.intValue() != 0 : Boolean.TRUE.equals(yes));
    }

    /** The labels under which existingRows returns the stored key (the table's own spelling of the value). */
    private static List<String> storedKey(Batch b) {
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < b.key.size(); i++) labels.add("once_stored_" + i);
        return labels;
    }

    private String insert(TableInfo t, List<Map<String, Object>> rows, List<Object> params) {
        List<String> columns = new ArrayList<>(rows.get(0).keySet());
        for (Map<String, Object> r : rows) params.addAll(Sql.values(r, columns));
        return d.insertInto() + t.quotedName() + " (" + d.columnList(columns) + ") VALUES "
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
     * MariaDB: the incoming key values that have a row, each with whether the update's condition holds against the
     * incoming values ({@code once_update}).
     */
    private List<Map<String, Object>> existingRows(Batch b, List<Map<String, Object>> rows, String lock)
            throws SQLException {
        List<String> columns = new ArrayList<>(rows.get(0).keySet());
        String incoming = "(" + d.incomingRows(b.t, columns, rows.size()) + ") once_v";
        StringJoiner on = new StringJoiner(" AND ");
        for (String k : b.key) on.add("once_t." + d.quote(k) + " = once_v." + d.quote(k));
        String condition = condition(b, col -> "once_t." + d.quote(col), col -> "once_v." + d.quote(col));
        List<String> selected = new ArrayList<>();
        for (String k : b.key) selected.add("once_v." + d.quote(k));
        for (int i = 0; i < b.key.size(); i++) selected.add("once_t." + d.quote(b.key.get(i)) + " AS once_stored_" + i);
        String sql = "SELECT " + String.join(", ", selected) + ", ("
                + (condition.isEmpty() ? "1 = 1" : condition) + ") AS once_update FROM " + b.t.quotedName()
                + " once_t JOIN " + incoming + " ON " + on + lock;
        return Sql.query(b.c, sql, Sql.numbered(rows, columns));
    }
}
