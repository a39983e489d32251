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
 * reports its key's outcome.
 *
 * <ul>
 *   <li>PostgreSQL: {@code INSERT ... ON CONFLICT (key) DO UPDATE SET ... WHERE cond RETURNING key,
 *       (xmax = 0)}: a returned row with xmax 0 was inserted, another was updated, a missing one was left.
 *   <li>SQLite: the same statement without xmax; rows that existed are read first in the same
 *       transaction (SQLite has one writer at a time, so the read and the write see the same rows).
 *   <li>MariaDB: the existing rows are read and locked first ({@code SELECT ... FOR UPDATE}, with the
 *       condition evaluated against the incoming values), then {@code INSERT ... ON DUPLICATE KEY UPDATE}
 *       writes the rows to insert or update. Once runs its own transaction at REPEATABLE READ so the lock
 *       also covers keys that do not exist yet (gap locks).
 * </ul>
 */
final class Upserts {
    private final Dialect d;

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
        Map<List<Object>, UpsertOutcome> outcomes = new HashMap<>();
        for (List<Map<String, Object>> chunk : Sql.chunks(new ArrayList<>(merged.values()), d.maxParameters())) {
            if (d instanceof PostgresDialect) postgres(c, t, chunk, spec, key, update, updateColumns, outcomes);
            else if (d instanceof SqliteDialect) sqlite(c, t, chunk, spec, key, update, updateColumns, outcomes);
            else mariadb(c, t, chunk, spec, key, update, updateColumns, outcomes);
        }
        List<UpsertOutcome> out = new ArrayList<>(rows.size());
        for (Map<String, Object> r : rows) out.add(outcomes.get(Sql.keyOf(r, key)));
        return out;
    }

    private void postgres(
            Connection c,
            TableInfo t,
            List<Map<String, Object>> chunk,
            Upsert spec,
            List<String> key,
            boolean update,
            List<String> updateColumns,
            Map<List<Object>, UpsertOutcome> outcomes)
            throws SQLException {
        List<Object> params = new ArrayList<>();
        String sql = insert(t, chunk, params) + conflictClause(t, spec, key, update, updateColumns) + " RETURNING "
                + d.columnList(key) + (update ? ", (xmax = 0) AS once_inserted" : "");
        for (Map<String, Object> r : chunk) outcomes.put(Sql.keyOf(r, key), UpsertOutcome.UNCHANGED);
        for (Map<String, Object> r : Sql.query(c, sql, params)) {
            boolean inserted = !update || Boolean.TRUE.equals(r.get("once_inserted"));
            outcomes.put(Sql.keyOf(r, key), inserted ? UpsertOutcome.INSERTED : UpsertOutcome.UPDATED);
        }
    }

    private void sqlite(
            Connection c,
            TableInfo t,
            List<Map<String, Object>> chunk,
            Upsert spec,
            List<String> key,
            boolean update,
            List<String> updateColumns,
            Map<List<Object>, UpsertOutcome> outcomes)
            throws SQLException {
        Set<List<Object>> existing = existingKeys(c, t, chunk, key, "");
        List<Object> params = new ArrayList<>();
        String sql = insert(t, chunk, params) + conflictClause(t, spec, key, update, updateColumns) + " RETURNING "
                + d.columnList(key);
        for (Map<String, Object> r : chunk) outcomes.put(Sql.keyOf(r, key), UpsertOutcome.UNCHANGED);
        for (Map<String, Object> r : Sql.query(c, sql, params)) {
            List<Object> k = Sql.keyOf(r, key);
            outcomes.put(k, existing.contains(k) ? UpsertOutcome.UPDATED : UpsertOutcome.INSERTED);
        }
    }

    private void mariadb(
            Connection c,
            TableInfo t,
            List<Map<String, Object>> chunk,
            Upsert spec,
            List<String> key,
            boolean update,
            List<String> updateColumns,
            Map<List<Object>, UpsertOutcome> outcomes)
            throws SQLException {
        Set<List<Object>> existing;
        Set<List<Object>> toUpdate = new HashSet<>();
        if (update && spec.conditional()) {
            existing = new HashSet<>();
            for (Map<String, Object> r : conditionRows(c, t, chunk, spec, key, updateColumns)) {
                List<Object> k = Sql.keyOf(r, key);
                existing.add(k);
                Object yes = r.get("once_update");
                if (yes instanceof Number n ? n.intValue() != 0 : Boolean.TRUE.equals(yes)) toUpdate.add(k);
            }
        } else {
            existing = existingKeys(c, t, chunk, key, d.rowLock());
            if (update) toUpdate.addAll(existing);
        }
        List<Map<String, Object>> write = new ArrayList<>();
        for (Map<String, Object> r : chunk) {
            List<Object> k = Sql.keyOf(r, key);
            UpsertOutcome o = !existing.contains(k)
                    ? UpsertOutcome.INSERTED
                    : toUpdate.contains(k) ? UpsertOutcome.UPDATED : UpsertOutcome.UNCHANGED;
            outcomes.put(k, o);
            if (o != UpsertOutcome.UNCHANGED) write.add(r);
        }
        if (write.isEmpty()) return;
        List<Object> params = new ArrayList<>();
        StringJoiner set = new StringJoiner(", ");
        if (update) for (String u : updateColumns) set.add(d.quote(u) + " = VALUES(" + d.quote(u) + ")");
        else set.add(d.quote(key.get(0)) + " = " + d.quote(key.get(0)));
        Sql.update(c, insert(t, write, params) + " ON DUPLICATE KEY UPDATE " + set, params);
    }

    private String insert(TableInfo t, List<Map<String, Object>> rows, List<Object> params) {
        List<String> columns = new ArrayList<>(rows.get(0).keySet());
        for (Map<String, Object> r : rows) params.addAll(Sql.values(r, columns));
        return "INSERT INTO " + t.quotedName() + " (" + d.columnList(columns) + ") VALUES "
                + Sql.tuples(columns.size(), rows.size());
    }

    private String conflictClause(
            TableInfo t, Upsert spec, List<String> key, boolean update, List<String> updateColumns) {
        String target = " ON CONFLICT (" + d.columnList(key) + ")";
        if (!update) return target + " DO NOTHING";
        StringJoiner set = new StringJoiner(", ");
        for (String u : updateColumns) set.add(d.quote(u) + " = excluded." + d.quote(u));
        String table = d.quote(t.name().table());
        String condition = condition(spec, updateColumns, c -> table + "." + d.quote(c), c -> "excluded." + d.quote(c));
        return target + " DO UPDATE SET " + set + (condition.isEmpty() ? "" : " WHERE " + condition);
    }

    /** The update's condition: any updated column differs (onlyIfChanged) AND every guard holds. */
    private String condition(
            Upsert spec, List<String> updateColumns, UnaryOperator<String> existing, UnaryOperator<String> incoming) {
        StringJoiner all = new StringJoiner(" AND ");
        if (spec.onlyIfChanged) {
            StringJoiner any = new StringJoiner(" OR ", "(", ")");
            for (String u : updateColumns) any.add(d.differs(existing.apply(u), incoming.apply(u)));
            all.add(any.toString());
        }
        for (Upsert.Guard g : spec.guards) {
            String e = existing.apply(g.column());
            all.add("(" + e + " IS NULL OR " + incoming.apply(g.column()) + " " + g.comparison().operator + " " + e
                    + ")");
        }
        return all.toString();
    }

    private Set<List<Object>> existingKeys(
            Connection c, TableInfo t, List<Map<String, Object>> rows, List<String> key, String lock)
            throws SQLException {
        List<Object> params = new ArrayList<>();
        for (Map<String, Object> r : rows) params.addAll(Sql.values(r, key));
        String sql = "SELECT " + d.columnList(key) + " FROM " + t.quotedName() + " WHERE " + Sql.in(d, key, rows.size())
                + lock;
        Set<List<Object>> existing = new HashSet<>();
        for (Map<String, Object> r : Sql.query(c, sql, params)) existing.add(Sql.keyOf(r, key));
        return existing;
    }

    /** MariaDB: locks the existing rows and evaluates the condition against the incoming values. */
    private List<Map<String, Object>> conditionRows(
            Connection c,
            TableInfo t,
            List<Map<String, Object>> rows,
            Upsert spec,
            List<String> key,
            List<String> updateColumns)
            throws SQLException {
        List<String> columns = new ArrayList<>(rows.get(0).keySet());
        List<Object> params = new ArrayList<>();
        StringJoiner incoming = new StringJoiner(" UNION ALL ", "(", ")");
        boolean first = true;
        for (Map<String, Object> r : rows) {
            StringJoiner select = new StringJoiner(", ", "SELECT ", "");
            for (String col : columns) select.add(first ? "? AS " + d.quote(col) : "?");
            first = false;
            incoming.add(select.toString());
            params.addAll(Sql.values(r, columns));
        }
        StringJoiner on = new StringJoiner(" AND ");
        for (String k : key) on.add("once_t." + d.quote(k) + " = once_v." + d.quote(k));
        String condition =
                condition(spec, updateColumns, col -> "once_t." + d.quote(col), col -> "once_v." + d.quote(col));
        List<String> selected = new ArrayList<>();
        for (String k : key) selected.add("once_t." + d.quote(k));
        String sql = "SELECT " + String.join(", ", selected) + ", (" + condition + ") AS once_update FROM "
                + t.quotedName() + " once_t JOIN " + incoming + " once_v ON " + on + d.rowLock();
        return Sql.query(c, sql, params);
    }
}
