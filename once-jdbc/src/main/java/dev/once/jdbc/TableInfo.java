package dev.once.jdbc;

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A table as the database's metadata describes it: its columns, spelled as the database spells them,
 * and the unique keys that can make an insert atomic. Read once per table and kept.
 */
final class TableInfo {
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_$]{0,62}");
    private static final Set<Integer> TEXT_TYPES = Set.of(
            Types.CHAR,
            Types.VARCHAR,
            Types.LONGVARCHAR,
            Types.NCHAR,
            Types.NVARCHAR,
            Types.LONGNVARCHAR,
            Types.CLOB,
            Types.NCLOB);
    private static final Set<Integer> NUMBER_TYPES = Set.of(
            Types.TINYINT,
            Types.SMALLINT,
            Types.INTEGER,
            Types.BIGINT,
            Types.DECIMAL,
            Types.NUMERIC,
            Types.REAL,
            Types.FLOAT,
            Types.DOUBLE,
            Types.BIT, // MariaDB's TINYINT(1) and BOOLEAN: 'abc' compares as 0 there too (helper-66)
            Types.BOOLEAN);
    private static final Set<Integer> BINARY_TYPES =
            Set.of(Types.BINARY, Types.VARBINARY, Types.LONGVARBINARY, Types.BLOB);

    /** A validated, possibly schema-qualified table name, as the caller wrote it. */
    record Name(String schema, String table) {
        static Name parse(String name) {
            if (name == null) throw new IllegalArgumentException("table name is null");
            String[] parts = name.split("\\.", -1);
            if (parts.length > 2) throw badName(name);
            for (String p : parts) if (!IDENTIFIER.matcher(p).matches()) throw badName(name);
            return parts.length == 2 ? new Name(parts[0], parts[1]) : new Name(null, parts[0]);
        }

        private static IllegalArgumentException badName(String name) {
            return new IllegalArgumentException("invalid table name '" + name
                    + "': use letters, digits and _ (optionally schema.table); Once quotes identifiers itself");
        }

        @Override
        public String toString() {
            return schema == null ? table : schema + "." + table;
        }
    }

    private final Name name;
    private final String quotedName;
    private final List<String> columns; // as the database spells them
    private final boolean namesIgnoreCase;
    private final Set<String> textColumns; // columns holding character strings
    private final Map<String, Integer> sqlTypes; // every column: its java.sql.Types code
    private final Map<String, String> typeNames; // every column: its type as the database names it
    private final Map<String, Integer> sizes; // every column: its COLUMN_SIZE (BINARY(n): n)
    private final Map<String, Integer> places; // columns with DECIMAL_DIGITS: DECIMAL(10,2)'s 2, INT's 0
    private final List<List<String>> uniqueKeys;
    private final Map<String, Dialect.Cast> valueCasts;
    private final Map<String, String> keyCollations;
    /** Whether triggers or rules may change what a write stores ({@link Dialect#rewritesWrites}). */
    private final boolean rewritesWrites;

    /**
     * How often getOrCreate has lately found no row, as a moving average in [0, 1]: a hint for which
     * statement shape to try first, updated without locks (a lost update only delays the hint).
     */
    private volatile double recentMisses;

    /** Whether lookups on this table have lately mostly missed (rows are being created, not found). */
    boolean mostlyMisses() {
        return recentMisses > 0.5;
    }

    void observeLookup(boolean missed) {
        recentMisses = recentMisses * 0.875 + (missed ? 0.125 : 0);
    }

    private TableInfo(
            Name name,
            String quotedName,
            Dialect dialect,
            List<String> columns,
            Set<String> textColumns,
            Map<String, Integer> sqlTypes,
            Map<String, String> typeNames,
            Map<String, Integer> sizes,
            Map<String, Integer> places,
            List<List<String>> uniqueKeys,
            Map<String, Dialect.Cast> valueCasts,
            Map<String, String> keyCollations,
            boolean rewritesWrites) {
        this.name = name;
        this.quotedName = quotedName;
        this.columns = List.copyOf(columns);
        this.textColumns = Set.copyOf(textColumns);
        this.sqlTypes = Map.copyOf(sqlTypes);
        this.typeNames = Map.copyOf(typeNames);
        this.sizes = Map.copyOf(sizes);
        this.places = Map.copyOf(places);
        this.namesIgnoreCase = dialect.columnNamesIgnoreCase();
        this.uniqueKeys = List.copyOf(uniqueKeys);
        this.valueCasts = Map.copyOf(valueCasts);
        this.keyCollations = Map.copyOf(keyCollations);
        this.rewritesWrites = rewritesWrites;
    }

    static TableInfo read(Connection c, Dialect dialect, Name requested) throws SQLException {
        DatabaseMetaData meta = c.getMetaData();
        String catalog = dialect.schemasAreCatalogs() && requested.schema() == null ? c.getCatalog() : null;
        String schemaPattern = requested.schema();
        if (dialect.schemasAreCatalogs() && requested.schema() != null) {
            catalog = requested.schema();
            schemaPattern = null;
        }
        if (dialect instanceof PostgresDialect && schemaPattern == null) schemaPattern = c.getSchema();
        for (String candidate : new LinkedHashSet<>(List.of(
                requested.table(),
                requested.table().toLowerCase(Locale.ROOT),
                requested.table().toUpperCase(Locale.ROOT)))) {
            List<String> columns = new ArrayList<>();
            Set<String> text = new LinkedHashSet<>();
            Map<String, Integer> sqlTypes = new LinkedHashMap<>();
            Map<String, String> typeNames = new LinkedHashMap<>();
            Map<String, Integer> sizes = new LinkedHashMap<>();
            Map<String, Integer> places = new LinkedHashMap<>();
            String schema = null;
            try (ResultSet rs = meta.getColumns(catalog, escape(meta, schemaPattern), escape(meta, candidate), "%")) {
                TreeMap<Integer, String> byPosition = new TreeMap<>();
                while (rs.next()) {
                    if (!candidate.equals(rs.getString("TABLE_NAME"))) continue; // '_' is a pattern
                    byPosition.put(rs.getInt("ORDINAL_POSITION"), rs.getString("COLUMN_NAME"));
                    if (dialect instanceof SqliteDialect
                            ? SqliteDialect.textAffinity(rs.getString("TYPE_NAME"))
                            : TEXT_TYPES.contains(rs.getInt("DATA_TYPE"))) text.add(rs.getString("COLUMN_NAME"));
                    sqlTypes.put(rs.getString("COLUMN_NAME"), rs.getInt("DATA_TYPE"));
                    typeNames.put(rs.getString("COLUMN_NAME"), rs.getString("TYPE_NAME"));
                    sizes.put(rs.getString("COLUMN_NAME"), rs.getInt("COLUMN_SIZE"));
                    int digits = rs.getInt("DECIMAL_DIGITS");
                    if (!rs.wasNull()) places.put(rs.getString("COLUMN_NAME"), digits);
                    schema = dialect.schemasAreCatalogs() ? rs.getString("TABLE_CAT") : rs.getString("TABLE_SCHEM");
                }
                columns.addAll(byPosition.values());
            }
            if (columns.isEmpty()) continue;
            Name actual = new Name(requested.schema() == null ? null : schema, candidate);
            Name lookupName = new Name(schema, candidate);
            String quoted =
                    (actual.schema() == null ? "" : dialect.quote(actual.schema()) + ".") + dialect.quote(candidate);
            return new TableInfo(
                    actual,
                    quoted,
                    dialect,
                    columns,
                    text,
                    sqlTypes,
                    typeNames,
                    sizes,
                    places,
                    dialect.uniqueKeys(c, lookupName, columns),
                    dialect.valueCasts(c, lookupName),
                    dialect.keyCollations(c, lookupName),
                    dialect.rewritesWrites(c, lookupName));
        }
        throw new IllegalArgumentException(
                "table " + requested + " does not exist (or is not visible to " + meta.getUserName() + ")");
    }

    private static String escape(DatabaseMetaData meta, String pattern) throws SQLException {
        if (pattern == null) return null;
        String esc = meta.getSearchStringEscape();
        if (esc == null || esc.isEmpty()) return pattern;
        return pattern.replace(esc, esc + esc).replace("_", esc + "_").replace("%", esc + "%");
    }

    /**
     * The table's column a name from the metadata means: the same spelling, or where the database
     * compares column names ignoring case (MariaDB, SQLite), the same letters. PostgreSQL's quoted names
     * are exact: {@code item} and {@code "ITEM"} are two columns.
     */
    private static Optional<String> find(Dialect dialect, List<String> columns, String column) {
        if (columns.contains(column)) return Optional.of(column);
        if (!dialect.columnNamesIgnoreCase()) return Optional.empty();
        return columns.stream().filter(c -> c.equalsIgnoreCase(column)).findFirst();
    }

    /** A key's columns in the table's spelling; empty when one of them is not a column of the table. */
    static Optional<List<String>> canonical(Dialect dialect, Collection<String> key, List<String> columns) {
        List<String> out = new ArrayList<>();
        for (String k : key) {
            Optional<String> c = find(dialect, columns, k);
            if (c.isEmpty()) return Optional.empty();
            out.add(c.get());
        }
        return Optional.of(List.copyOf(out));
    }

    Name name() {
        return name;
    }

    String quotedName() {
        return quotedName;
    }

    List<List<String>> uniqueKeys() {
        return uniqueKeys;
    }

    /**
     * Maps the caller's column names to the database's spelling, failing with one message that lists
     * every unknown name and the table's columns.
     */
    Map<String, Object> resolve(Map<String, ?> values, String what) {
        Map<String, Object> out = new LinkedHashMap<>();
        List<String> unknown = new ArrayList<>();
        for (Map.Entry<String, ?> e : values.entrySet()) {
            String column = e.getKey() == null ? null : column(e.getKey(), what);
            if (column == null) unknown.add(String.valueOf(e.getKey()));
            else if (out.containsKey(column))
                throw new IllegalArgumentException(what + " names column " + column + " twice");
            else out.put(column, e.getValue());
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(what + " names unknown column" + (unknown.size() > 1 ? "s " : " ")
                    + String.join(", ", unknown) + " of table " + name + "; its columns are "
                    + String.join(", ", columns));
        }
        return out;
    }

    /**
     * The column a caller's name means in the SQL Once writes, which quotes the table's spelling: the
     * same spelling, else the one column with the same letters in another case (what an unquoted name
     * would mean; on MariaDB and SQLite, whose column names ignore case, the only one). Null when
     * none; refused when several columns differ from the name only in case (PostgreSQL).
     */
    private String column(String name, String what) {
        if (columns.contains(name)) return name;
        List<String> sameLetters =
                columns.stream().filter(c -> c.equalsIgnoreCase(name)).toList();
        if (sameLetters.size() <= 1 || namesIgnoreCase) return sameLetters.isEmpty() ? null : sameLetters.get(0);
        throw new IllegalArgumentException(what + " names column " + name + ", but table " + this.name
                + " has columns " + String.join(" and ", sameLetters) + ", which differ only in case;"
                + " spell the one you mean exactly");
    }

    /**
     * The unique key that makes an insert keyed by these columns atomic: one whose columns all belong
     * to them, the exact match first, else the narrowest. Empty when none exists.
     */
    Optional<List<String>> keyWithin(Collection<String> lookupColumns) {
        return keys.computeIfAbsent(List.copyOf(lookupColumns), this::findKeyWithin);
    }

    /** keyWithin by lookup columns: the answer never changes while this metadata is current. */
    private final java.util.concurrent.ConcurrentHashMap<List<String>, Optional<List<String>>> keys =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** Statement texts by their shape (operation and column lists), built once per shape. */
    private final java.util.concurrent.ConcurrentHashMap<List<Object>, String> statements =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** The statement text for a shape, built by {@code build} the first time. */
    String statement(List<Object> shape, java.util.function.Supplier<String> build) {
        String sql = statements.get(shape);
        if (sql == null) {
            sql = build.get();
            if (statements.size() < 1_000) statements.put(shape, sql); // bounded: shapes come from code, not data
        }
        return sql;
    }

    /** Both sides are spelled as the table spells its columns, so they compare exactly. */
    private Optional<List<String>> findKeyWithin(Collection<String> lookupColumns) {
        Set<String> lookup = new LinkedHashSet<>(lookupColumns);
        return uniqueKeys.stream()
                .filter(lookup::containsAll)
                .min(Comparator.comparingInt((List<String> k) -> k.size() == lookup.size() ? 0 : 1)
                        .thenComparingInt(List::size));
    }

    /** The table's spelling of a column name; names it does not have are returned as given. */
    String spelling(String column) {
        String c = column(column, "column name");
        return c == null ? column : c;
    }

    /**
     * An incoming value of the column as the column compares it ({@link Dialect#valueCasts}): on
     * PostgreSQL {@code CAST(value AS type) COLLATE collation}, elsewhere the value itself.
     */
    String typed(String column, String value) {
        Dialect.Cast cast = valueCasts.get(column);
        return cast == null ? value : cast.of(value) + cast.collation();
    }

    /**
     * An incoming value as {@link #typed}, but in the collation the column's unique index compares it in
     * where that is another ({@link #keyCollation}), instead of the column's own (two explicit collations
     * would not compare).
     */
    String keyTyped(String column, String value) {
        String collation = keyCollation(column);
        if (collation.isEmpty()) return typed(column, value);
        Dialect.Cast cast = valueCasts.get(column);
        return (cast == null ? value : cast.of(value)) + collation;
    }

    /** Whether the table has triggers or rules, which may store another value than the one written. */
    boolean rewritesWrites() {
        return rewritesWrites;
    }

    /** {@code " COLLATE c"} where a unique index compares the column in another collation ({@link Dialect#keyCollations}), else "". */
    String keyCollation(String column) {
        return keyCollations.getOrDefault(column, "");
    }

    /** Whether the column holds character strings, which a collation may compare ignoring case or trailing spaces. */
    boolean isText(String column) {
        return textColumns.contains(column);
    }

    /** Whether the database's metadata calls the column numeric (integers, decimals, floating point). */
    boolean isNumber(String column) {
        return NUMBER_TYPES.contains(sqlTypes.get(column));
    }

    /** Whether the database's metadata calls the column a byte string (BINARY, VARBINARY, BLOB). */
    boolean isBinary(String column) {
        return BINARY_TYPES.contains(sqlTypes.get(column));
    }

    /** The type a lookup converts the column's incoming values to ({@link Dialect#valueCasts}), or null. */
    String castType(String column) {
        Dialect.Cast cast = valueCasts.get(column);
        return cast == null ? null : cast.type();
    }

    /** A column's COLUMN_SIZE in the JDBC metadata: BINARY(n)'s n, a VARCHAR's length. */
    int size(String column) {
        return sizes.getOrDefault(column, 0);
    }

    /** The decimal places a numeric column keeps (DECIMAL(10,2): 2, INT: 0), or null where the metadata has none. */
    Integer decimalPlaces(String column) {
        return isNumber(column) ? places.get(column) : null;
    }

    /** The column's java.sql.Types code as the metadata reports it ({@link java.sql.Types#OTHER} when unknown). */
    int sqlType(String column) {
        Integer type = sqlTypes.get(column);
        return type == null ? Types.OTHER : type;
    }

    /** A column's type as the database names it. */
    String typeName(String column) {
        return typeNames.get(column);
    }

    /** A text column's type as the database names it (VARCHAR, text, ...), or null for other columns. */
    String textType(String column) {
        return isText(column) ? typeNames.get(column) : null;
    }

    /** The unique key with exactly these columns, in any order. */
    Optional<List<String>> keyExactly(Collection<String> columns) {
        return keyWithin(columns).filter(k -> k.size() == new LinkedHashSet<>(columns).size());
    }
}
