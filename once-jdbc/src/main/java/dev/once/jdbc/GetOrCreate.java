package dev.once.jdbc;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;
import java.util.function.Supplier;

/**
 * Get-or-create and update-or-create that stay correct when many processes race for one key.
 *
 * <h2>getOrCreate</h2>
 * <ol>
 *   <li>{@code SELECT} by the lookup columns. Found: done, nothing written.
 *   <li>Insert lookup + defaults. PostgreSQL and SQLite: {@code INSERT ... ON CONFLICT (key) DO NOTHING
 *       RETURNING *}, where {@code key} is a unique key within the lookup columns; a conflict on any
 *       other unique key still raises its error. MariaDB has no conflict target ({@code ON DUPLICATE KEY}
 *       fires on every key), so it inserts plainly and catches the duplicate-key error.
 *   <li>A row came back: created. Otherwise another transaction holds the key: {@code SELECT} again,
 *       on MariaDB with a locking read, which sees the latest committed row at every isolation level.
 *   <li>Still nothing: a row with the key that differs in the other lookup columns is reported as a
 *       unique violation saying so. Else on MariaDB the duplicate was on another key, so the original
 *       error is rethrown. On PostgreSQL and SQLite, a read that saw every committed row (auto-commit,
 *       READ COMMITTED, SQLite's single writer) means the unique index calls a row equal that the
 *       lookup's {@code =} does not (an index with its own collation): a unique violation saying so,
 *       not retried. Otherwise the snapshot cannot see the row: a {@link SnapshotConflictException},
 *       retried in a fresh transaction when Once owns it.
 * </ol>
 * On PostgreSQL, when the defaults are given as values (nothing to compute lazily), Once owns the
 * transaction and lookups on the table have lately mostly missed, steps 1 and 2 are one statement, one
 * round trip where the plain path takes two:
 * {@code WITH s AS (SELECT ...), i AS (INSERT ... SELECT ... WHERE NOT EXISTS (SELECT 1 FROM s) ON
 * CONFLICT (key) DO NOTHING RETURNING *) SELECT ... FROM i UNION ALL SELECT ... FROM s}. A found row
 * forms no insert tuple, so column defaults such as {@code nextval} are not evaluated; a lost race
 * returns nothing and goes on at step 3. While lookups mostly find their rows the plain SELECT stays
 * first: measured on PostgreSQL 15, the combined statement costs a found row about a fifth of its
 * throughput, and saves a created row a round trip.
 *
 * <p>Invariants: a lookup never inserts a second row for its key (the unique index decides, not the
 * read); a failed insert never loses the caller's transaction (savepoint); defaults are computed
 * only on the way to an insert.
 *
 * <h2>updateOrCreate</h2>
 * {@code UPDATE ... WHERE lookup} takes the row lock; if it matched nothing, insert as above; if the
 * insert lost a race, the next round's UPDATE finds the winner's row. Bounded rounds.
 */
final class GetOrCreate {
    private static final int ROUNDS = 4;
    private static final String CREATED_FLAG = "once$created";

    private final Dialect d;

    GetOrCreate(Dialect dialect) {
        this.d = dialect;
    }

    GetOrCreateResult getOrCreate(
            Connection c,
            boolean callerOwned,
            TableInfo t,
            Map<String, Object> lookup,
            List<String> key,
            Supplier<Map<String, Object>> defaults,
            boolean eager)
            throws SQLException {
        // a row that made the insert conflict can be deleted before the read after it: where that read saw
        // every committed row, the key is free again and the call inserts anew, up to ROUNDS times (it threw)
        for (int round = 1; ; round++) {
            boolean last = round >= ROUNDS;
            GetOrCreateResult r = attempt(c, callerOwned, t, lookup, key, defaults, eager && round == 1, last);
            if (r != null) return r;
        }
    }

    /** One round of {@link #getOrCreate}; null when the conflicting row was gone and another round may insert. */
    private GetOrCreateResult attempt(
            Connection c,
            boolean callerOwned,
            TableInfo t,
            Map<String, Object> lookup,
            List<String> key,
            Supplier<Map<String, Object>> defaults,
            boolean eager,
            boolean last)
            throws SQLException {
        if (eager && !callerOwned && d.insertsInWith() && t.mostlyMisses()) {
            GetOrCreateResult r = selectOrInsert(c, t, lookup, key, merge(t, lookup, defaults.get()));
            t.observeLookup(r == null || r.created());
            return r != null ? r : afterLostRace(c, t, lookup, key, last);
        }
        Map<String, Object> row = select(c, t, lookup, "");
        t.observeLookup(row == null);
        if (row != null) return new GetOrCreateResult(row, false);
        Map<String, Object> values = merge(t, lookup, defaults.get());
        if (d.hasTargetedConflictClause()) {
            Map<String, Object> inserted = Transactions.guarded(c, callerOwned, () -> insert(c, t, values, key));
            if (inserted != null) return new GetOrCreateResult(Sql.canonical(t, inserted), true);
            return afterLostRace(c, t, lookup, key, last);
        }
        try {
            Map<String, Object> inserted = Transactions.guarded(c, callerOwned, () -> insert(c, t, values, null));
            return new GetOrCreateResult(Sql.canonical(t, inserted), true);
        } catch (SQLException e) {
            if (d.classify(e) != Dialect.Failure.UNIQUE_VIOLATION) throw e;
            row = select(c, t, lookup, d.latestRowLock());
            if (row != null) return new GetOrCreateResult(row, false);
            SQLException other = otherLookupValues(c, t, lookup, key, e);
            if (other != null) throw other;
            // deleted meanwhile (the read took the latest rows), or a duplicate on another unique key, which
            // the next rounds meet again. Not inside a caller's REPEATABLE READ transaction: each round's locking
            // read takes a gap lock there, and two such callers could deadlock, rolling back the caller's whole
            // transaction where it got a duplicate-key error it could handle (helper-71)
            if (last || !seesLatest(c)) throw e;
            return null;
        }
    }

    GetOrCreateResult updateOrCreate(
            Connection c,
            boolean callerOwned,
            TableInfo t,
            Map<String, Object> lookup,
            List<String> key,
            Map<String, Object> updates,
            Map<String, Object> createDefaults)
            throws SQLException {
        Map<String, Object> values = merge(t, lookup, updates);
        values.putAll(createDefaults);
        for (int round = 1; ; round++) {
            Map<String, Object> row = updated(c, t, lookup, updates);
            if (row != null) return new GetOrCreateResult(row, false);
            SQLException duplicate = null;
            Map<String, Object> inserted = null;
            try {
                inserted = Transactions.guarded(
                        c, callerOwned, () -> insert(c, t, values, d.hasTargetedConflictClause() ? key : null));
            } catch (SQLException e) {
                if (d.classify(e) != Dialect.Failure.UNIQUE_VIOLATION || d.hasTargetedConflictClause()) throw e;
                duplicate = e;
            }
            if (inserted != null) return new GetOrCreateResult(Sql.canonical(t, inserted), true);
            if (select(c, t, lookup, d.latestRowLock()) == null) {
                SQLException other = duplicate == null ? null : otherLookupValues(c, t, lookup, key, duplicate);
                if (other != null) throw other;
                // deleted since the conflict: the next round inserts (where reads see the latest rows; see attempt)
                if (round < ROUNDS && seesLatest(c)) continue;
                if (duplicate != null) throw duplicate;
                throw unresolved(c, t, lookup, key);
            }
            if (round >= ROUNDS) {
                throw Transactions.snapshotConflict("updateOrCreate on " + t.name() + lookup.keySet(), duplicate);
            }
        }
    }

    /**
     * Batch getOrCreate: one SELECT for all, one INSERT for the missing, one SELECT for the lookups no
     * inserted row equals in Java (lost races, and keys stored in another form: another case under a
     * case-insensitive collation, char(n) padding). Rows are matched to lookups by the database: each
     * SELECT joins the numbered lookups to the table with the columns' own equality. Of lookups that
     * share an inserted row, the first reports it created.
     */
    List<GetOrCreateResult> getOrCreateAll(
            Connection c,
            boolean callerOwned,
            TableInfo t,
            List<Map<String, Object>> lookups,
            List<String> key,
            java.util.function.Function<Map<String, Object>, Map<String, Object>> defaults)
            throws SQLException {
        List<String> columns = new ArrayList<>(lookups.get(0).keySet());
        Map<List<Object>, Integer> position = new HashMap<>();
        List<Map<String, Object>> wanted = new ArrayList<>();
        for (Map<String, Object> l : lookups) {
            position.computeIfAbsent(Sql.keyOf(l, columns), k -> {
                wanted.add(l);
                return wanted.size() - 1;
            });
        }
        List<Map<String, Object>> found = new ArrayList<>(java.util.Collections.nCopies(wanted.size(), null));
        List<Integer> missing = selectAll(c, t, columns, wanted, range(wanted.size()), found);
        Set<List<Object>> created = new HashSet<>(); // the lookup values of inserted rows, as stored
        if (!missing.isEmpty() && d.hasTargetedConflictClause()) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (int i : missing) rows.add(merge(t, wanted.get(i), defaults.apply(wanted.get(i))));
            Map<List<Object>, Map<String, Object>> inserted = new HashMap<>();
            for (List<Map<String, Object>> chunk : chunks(rows)) {
                for (Map<String, Object> r : Transactions.guarded(c, callerOwned, () -> insertAll(c, t, chunk, key))) {
                    Map<String, Object> row = Sql.canonical(t, r);
                    created.add(Sql.keyOf(row, columns));
                    inserted.put(Sql.keyOf(row, columns), row);
                }
            }
            List<Integer> unmatched = new ArrayList<>();
            for (int i : missing) {
                Map<String, Object> row = inserted.get(Sql.keyOf(wanted.get(i), columns));
                if (row != null) found.set(i, row);
                else unmatched.add(i);
            }
            List<Integer> lost = selectAll(c, t, columns, wanted, unmatched, found);
            if (!lost.isEmpty()) throw unresolved(c, t, wanted.get(lost.get(0)), key);
        } else {
            for (int i : missing) {
                Map<String, Object> l = wanted.get(i);
                GetOrCreateResult r = getOrCreate(c, callerOwned, t, l, key, () -> defaults.apply(l), false);
                found.set(i, r.row());
                if (r.created()) created.add(Sql.keyOf(r.row(), columns));
            }
        }
        List<GetOrCreateResult> out = new ArrayList<>(lookups.size());
        for (Map<String, Object> l : lookups) {
            Map<String, Object> row = found.get(position.get(Sql.keyOf(l, columns)));
            out.add(new GetOrCreateResult(row, created.remove(Sql.keyOf(row, columns))));
        }
        return out;
    }

    private static List<Integer> range(int n) {
        List<Integer> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(i);
        return out;
    }

    /**
     * Reads the rows of the lookups at {@code which} into {@code found}, matched by the database
     * ({@link Dialect#incomingRows}), and returns the positions that have none.
     */
    private List<Integer> selectAll(
            Connection c,
            TableInfo t,
            List<String> columns,
            List<Map<String, Object>> lookups,
            List<Integer> which,
            List<Map<String, Object>> found)
            throws SQLException {
        StringJoiner on = new StringJoiner(" AND ");
        // as the unique index compares (helper-66: getOrCreateAll disagreed with getOrCreate)
        for (String col : columns)
            on.add("once_t." + d.quote(col) + t.keyCollation(col) + " = once_v." + d.quote(col) + t.keyCollation(col));
        int size = Sql.rowsPerStatement(d.maxParameters(), columns.size() + 1); // each lookup and its ordinal
        for (int from = 0; from < which.size(); from += size) {
            List<Integer> chunk = which.subList(from, Math.min(which.size(), from + size));
            List<Map<String, Object>> rows = new ArrayList<>(chunk.size());
            for (int i : chunk) rows.add(lookups.get(i));
            String sql = "WITH once_v AS (" + d.incomingRows(t, columns, rows.size())
                    + ") SELECT once_v.once_ord AS once_ord, once_t.* FROM once_v JOIN " + t.quotedName()
                    + " once_t ON " + on;
            for (Map<String, Object> r : Sql.query(c, sql, Sql.numbered(rows, columns))) {
                int ord = ((Number) r.remove("once_ord")).intValue();
                found.set(chunk.get(ord), Sql.canonical(t, r));
            }
        }
        List<Integer> none = new ArrayList<>();
        for (int i : which) if (found.get(i) == null) none.add(i);
        return none;
    }

    private List<List<Map<String, Object>>> chunks(List<Map<String, Object>> rows) {
        return Sql.chunks(rows, d.maxParameters());
    }

    private Map<String, Object> select(Connection c, TableInfo t, Map<String, Object> lookup, String lock)
            throws SQLException {
        String sql = t.statement(
                List.of("select", List.copyOf(lookup.keySet()), lock),
                () -> "SELECT * FROM " + t.quotedName() + " WHERE " + Sql.equalities(d, t, lookup.keySet()) + lock);
        Map<String, Object> row = Sql.first(c, sql, new ArrayList<>(lookup.values()));
        return row == null ? null : Sql.canonical(t, row);
    }

    /** Step 3 where the insert had a conflict target: another transaction holds the key; read it, or say why not. */
    private GetOrCreateResult afterLostRace(
            Connection c, TableInfo t, Map<String, Object> lookup, List<String> key, boolean last) throws SQLException {
        Map<String, Object> row = select(c, t, lookup, "");
        if (row != null) return new GetOrCreateResult(row, false);
        if (!last && seesLatest(c) && otherLookupValues(c, t, lookup, key, null) == null)
            return null; // deleted since the conflict: the key is free again
        throw unresolved(c, t, lookup, key);
    }

    /** Whether a read on {@code c} sees every committed row: no snapshot older than the statement hides one. */
    private boolean seesLatest(Connection c) throws SQLException {
        return d instanceof SqliteDialect // one writer: a write sees the latest rows, or fails itself
                || c.getAutoCommit()
                || c.getTransactionIsolation() <= Connection.TRANSACTION_READ_COMMITTED;
    }

    /** Steps 1 and 2 in one statement; null when a concurrent insert won the key (step 3 follows). */
    private GetOrCreateResult selectOrInsert(
            Connection c, TableInfo t, Map<String, Object> lookup, List<String> key, Map<String, Object> values)
            throws SQLException {
        List<String> columns = new ArrayList<>(values.keySet());
        String sql = t.statement(
                List.of("selectOrInsert", List.copyOf(lookup.keySet()), columns, key),
                () -> "WITH s AS (SELECT * FROM " + t.quotedName() + " WHERE " + Sql.equalities(d, t, lookup.keySet())
                        + "), i AS (INSERT INTO " + t.quotedName() + " (" + d.columnList(columns) + ") SELECT "
                        + String.join(", ", java.util.Collections.nCopies(columns.size(), "?"))
                        + " WHERE NOT EXISTS (SELECT 1 FROM s) ON CONFLICT (" + d.columnList(key)
                        + ") DO NOTHING RETURNING *) SELECT *, true AS " + d.quote(CREATED_FLAG)
                        + " FROM i UNION ALL SELECT *, false FROM s");
        List<Object> params = new ArrayList<>(lookup.values());
        params.addAll(Sql.values(values, columns));
        Map<String, Object> row = Sql.first(c, sql, params);
        if (row == null) return null;
        boolean wasCreated = Boolean.TRUE.equals(row.remove(CREATED_FLAG));
        return new GetOrCreateResult(Sql.canonical(t, row), wasCreated);
    }

    /** UPDATE the row (taking its lock) and return it, or null when no row has the lookup values. */
    private Map<String, Object> updated(
            Connection c, TableInfo t, Map<String, Object> lookup, Map<String, Object> updates) throws SQLException {
        if (updates.isEmpty()) {
            return select(c, t, lookup, d.rowLock());
        }
        List<Object> params = new ArrayList<>(updates.values());
        params.addAll(lookup.values());
        String sql = d.update() + t.quotedName() + " SET " + Sql.assignments(d, updates.keySet()) + " WHERE "
                + Sql.equalities(d, t, lookup.keySet());
        if (d.updateReturns()) {
            Map<String, Object> row = Sql.first(c, sql + " RETURNING *", params);
            return row == null ? null : Sql.canonical(t, row);
        }
        if (Sql.update(c, sql, params) == 0) return select(c, t, lookup, d.rowLock());
        return select(c, t, lookup, "");
    }

    /** INSERT one row and return it; with a conflict key, null when a row with that key exists. */
    private Map<String, Object> insert(Connection c, TableInfo t, Map<String, Object> values, List<String> key)
            throws SQLException {
        List<Map<String, Object>> rows = insertAll(c, t, List.of(values), key);
        return rows.isEmpty() ? null : rows.get(0);
    }

    private List<Map<String, Object>> insertAll(
            Connection c, TableInfo t, List<Map<String, Object>> rows, List<String> key) throws SQLException {
        List<String> columns = new ArrayList<>(rows.get(0).keySet());
        List<Object> params = new ArrayList<>(rows.size() * columns.size());
        for (Map<String, Object> r : rows) params.addAll(Sql.values(r, columns));
        String sql = d.insertInto() + t.quotedName() + " (" + d.columnList(columns) + ") VALUES "
                + Sql.tuples(columns.size(), rows.size())
                + (key == null ? "" : " ON CONFLICT (" + d.columnList(key) + ") DO NOTHING") + " RETURNING *";
        return Sql.query(c, sql, params);
    }

    private Map<String, Object> merge(TableInfo t, Map<String, Object> lookup, Map<String, ?> extra) {
        Map<String, Object> values = new LinkedHashMap<>(lookup);
        if (extra == null) return values;
        t.resolve(extra, "defaults").forEach((column, value) -> {
            if (values.containsKey(column) && !Objects.equals(values.get(column), value)) {
                throw new IllegalArgumentException("defaults set " + column + " = " + value + " but the lookup has "
                        + column + " = " + values.get(column));
            }
            values.put(column, value);
        });
        return values;
    }

    /** The insert found a conflicting row on the key that the lookup cannot see: say why. */
    private SQLException unresolved(Connection c, TableInfo t, Map<String, Object> lookup, List<String> key)
            throws SQLException {
        SQLException other = otherLookupValues(c, t, lookup, key, null);
        if (other != null) return other;
        if (seesLatest(c)) {
            // The read after the conflict saw every committed row, so no snapshot hides the one in the way.
            return d.uniqueViolation(
                    "getOrCreate on " + t.name() + lookup.keySet() + ": the insert conflicted on unique key " + key
                            + " but no row has " + lookup + ": the unique index calls another row equal that the"
                            + " column's = does not (an index with its own collation, e.g. case-insensitive; or"
                            + " the row was deleted meanwhile). Look the row up by its stored value, or give the"
                            + " column the index's collation",
                    null);
        }
        return Transactions.snapshotConflict("getOrCreate on " + t.name() + lookup.keySet(), null);
    }

    /**
     * A row with the key's values exists but differs in the other lookup columns: the unique violation
     * that explains it (with the database's SQLState and vendor code when there was one), or null.
     */
    private SQLException otherLookupValues(
            Connection c, TableInfo t, Map<String, Object> lookup, List<String> key, SQLException duplicate)
            throws SQLException {
        if (key.size() >= lookup.size()) return null;
        Map<String, Object> keyValues = new LinkedHashMap<>();
        for (String k : key) keyValues.put(k, lookup.get(k));
        if (select(c, t, keyValues, d.latestRowLock()) == null) return null;
        return d.uniqueViolation(
                "getOrCreate on " + t.name() + ": a row with " + keyValues
                        + " exists but differs in the other lookup columns; unique key " + key
                        + " forbids a second one",
                duplicate);
    }
}
