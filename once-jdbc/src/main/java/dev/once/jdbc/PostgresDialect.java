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
     * {@code SELECT * FROM (VALUES (?, CAST(? AS type) COLLATE c), ...) AS once_x (once_ord, a)}: a bound
     * value has its Java type (varchar for a String), so each value is
     * cast to the table column's type (without its length, which the insert checks) and collation, and
     * compares as the column does: citext and nondeterministic collations ignoring case, char(n) ignoring
     * padding, timestamptz as instants.
     */
    @Override
    String incomingRows(TableInfo t, List<String> columns, int count) {
        // each value cast where it is bound, before VALUES unifies a column's types: rows binding a String
        // and an Integer (or an Integer and a Long) for one column go into it as they would one by one
        return "SELECT * FROM (VALUES " + Sql.numberedTuples(columns, col -> t.typed(col, "?"), count)
                + ") AS once_x (once_ord, " + columnList(columns) + ")";
    }

    /**
     * Each column's type by name (bpchar, not character, which would mean char(1)) and its collation. A
     * domain is looked through to its base type and an array to its element type (and its domains) before
     * deciding: a domain over varchar(3) or a varchar(3)[] carries the limit, and an explicit cast to it cuts
     * 'abcd' to 'abc', which then found and overwrote the row 'abc' (helper-63).
     */
    @Override
    Map<String, Cast> valueCasts(Connection c, TableInfo.Name name) throws SQLException {
        Map<String, Cast> casts = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("WITH RECURSIVE r(attnum, typ, arr) AS ("
                + " SELECT a.attnum, a.atttypid, false FROM pg_attribute a"
                + " WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped"
                + " UNION ALL SELECT r.attnum, CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END,"
                + " r.arr OR t.typtype <> 'd' FROM r JOIN pg_type t ON t.oid = r.typ"
                + " WHERE t.typtype = 'd' OR (NOT r.arr AND t.typcategory = 'A' AND t.typelem <> 0))"
                + " SELECT a.attname,"
                // with the column's modifier where a cast rounds as the insert does (numeric(10,2),
                // timestamp(0)), so 1.001 finds the row 1.00 it would write; without it for strings and bits,
                // whose cast would cut what the insert refuses as too long
                + " CASE WHEN leaf.typcategory IN ('S', 'V') THEN quote_ident(tn.nspname) || '.' ||"
                + " quote_ident(leaf.typname) || CASE WHEN r.arr THEN '[]' ELSE '' END"
                + " ELSE format_type(a.atttypid, a.atttypmod) END,"
                + " CASE WHEN a.attcollation <> 0 THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END"
                + " FROM r JOIN pg_attribute a ON a.attrelid = ?::regclass AND a.attnum = r.attnum"
                + " JOIN pg_type leaf ON leaf.oid = r.typ"
                + " JOIN pg_namespace tn ON tn.oid = leaf.typnamespace"
                + " LEFT JOIN pg_collation co ON co.oid = a.attcollation"
                + " LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace"
                + " WHERE leaf.typtype <> 'd' AND NOT (NOT r.arr AND leaf.typcategory = 'A' AND leaf.typelem <> 0)")) {
            ps.setString(1, regclass(name));
            ps.setString(2, regclass(name));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String collation = rs.getString(3);
                    casts.put(
                            rs.getString(1),
                            new Cast(rs.getString(2), collation == null ? "" : " COLLATE " + collation));
                }
            }
        }
        return casts;
    }

    /**
     * A column's collation where every unique index on it compares it in one collation other than its own.
     * Where its unique indexes disagree (a primary key on k and a unique index on (k COLLATE ci, tenant)),
     * the column keeps its own: taking any one index's applied it to lookups by the other key, which then
     * found and updated another row (helper-66).
     */
    @Override
    Map<String, String> keyCollations(Connection c, TableInfo.Name name) throws SQLException {
        Map<String, String> collations = new LinkedHashMap<>();
        java.util.Set<String> ambiguous = new java.util.HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname,"
                + " quote_ident(cn.nspname) || '.' || quote_ident(co.collname), k.coll = a.attcollation FROM pg_index i"
                + " CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indcollation::oid[]) AS k(attnum, coll)"
                + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                + " JOIN pg_collation co ON co.oid = k.coll JOIN pg_namespace cn ON cn.oid = co.collnamespace"
                + " WHERE i.indrelid = ?::regclass AND i.indisunique AND i.indisvalid AND i.indimmediate"
                + " AND i.indpred IS NULL AND i.indexprs IS NULL")) {
            ps.setString(1, regclass(name));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String column = rs.getString(1);
                    String collation = rs.getBoolean(3) ? "" : " COLLATE " + rs.getString(2);
                    String previous = collations.putIfAbsent(column, collation);
                    if (previous != null && !previous.equals(collation)) ambiguous.add(column);
                }
            }
        }
        collations.keySet().removeAll(ambiguous);
        collations.values().removeIf(String::isEmpty);
        return collations;
    }

    @Override
    boolean rewritesWrites(Connection c, TableInfo.Name name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid ="
                + " ?::regclass AND NOT tgisinternal) OR EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = ?::regclass"
                + " AND rulename <> '_RETURN')")) {
            ps.setString(1, regclass(name));
            ps.setString(2, regclass(name));
            try (ResultSet rs = ps.executeQuery()) {
                return !rs.next() || rs.getBoolean(1);
            }
        }
    }

    private String regclass(TableInfo.Name name) {
        return (name.schema() == null ? "" : quote(name.schema()) + ".") + quote(name.table());
    }

    /**
     * Reads pg_index, which tells what JDBC metadata does not: a DEFERRABLE constraint (indimmediate false)
     * and an index left INVALID by a failed CREATE UNIQUE INDEX CONCURRENTLY cannot be ON CONFLICT's
     * arbiter, nor can partial or expression indexes. INCLUDE columns are not part of the key. Nor can an
     * index whose operator class is not the column type's default (a citext column indexed with text_ops
     * tells 'Foo' from 'foo', which the column's = does not: no lookup compares as it does, helper-63).
     */
    @Override
    List<List<String>> uniqueKeys(Connection c, TableInfo.Name name, List<String> columns) throws SQLException {
        Map<Long, List<String>> indexes = new LinkedHashMap<>();
        java.util.Set<Long> foreignOrder = new java.util.HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT i.indexrelid, a.attname,"
                // the index's equality must be the column type's own: a non-default class counts when its
                // = is the default class's (varchar_pattern_ops: text's =), not otherwise (text_ops on citext)
                + " (SELECT o.amopopr FROM pg_amop o WHERE o.amopfamily = opc.opcfamily AND o.amopstrategy = 3"
                + " AND o.amoplefttype = opc.opcintype AND o.amoprighttype = opc.opcintype)"
                + " IS NOT DISTINCT FROM (SELECT o.amopopr FROM pg_opclass d JOIN pg_amop o ON o.amopfamily ="
                + " d.opcfamily AND o.amopstrategy = 3 AND o.amoplefttype = d.opcintype AND o.amoprighttype ="
                + " d.opcintype WHERE d.opcmethod = opc.opcmethod AND d.opcdefault AND d.opcintype IN (b.base,"
                + " opc.opcintype) ORDER BY d.opcintype = b.base DESC LIMIT 1)"
                + " FROM pg_index i"
                + " CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indclass::oid[]) WITH ORDINALITY"
                + " AS k(attnum, opclass, position)"
                + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                + " JOIN pg_type ty ON ty.oid = a.atttypid"
                + " CROSS JOIN LATERAL (SELECT CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END"
                + " AS base) b"
                + " JOIN pg_opclass opc ON opc.oid = k.opclass"
                + " WHERE i.indrelid = ?::regclass AND i.indisunique AND i.indisvalid AND i.indimmediate"
                + " AND i.indpred IS NULL AND i.indexprs IS NULL AND k.position <= i.indnkeyatts"
                + " ORDER BY NOT i.indisprimary, i.indexrelid, k.position")) {
            ps.setString(1, regclass(name));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    indexes.computeIfAbsent(rs.getLong(1), k -> new ArrayList<>())
                            .add(rs.getString(2));
                    if (!rs.getBoolean(3)) foreignOrder.add(rs.getLong(1));
                }
            }
        }
        List<List<String>> keys = new ArrayList<>();
        indexes.forEach((index, key) -> {
            if (!foreignOrder.contains(index))
                TableInfo.canonical(this, key, columns).ifPresent(keys::add);
        });
        return keys;
    }
}
