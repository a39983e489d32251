package dev.once.jdbc;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;
import javax.sql.DataSource;

/**
 * Race-free get-or-create and upsert on PostgreSQL, MariaDB and SQLite.
 *
 * <pre>{@code
 * Once once = Once.using(dataSource);
 * GetOrCreateResult r = once.getOrCreate("quotes", Map.of("item", "AAPL"), () -> Map.of("price", fetchPrice()));
 * }</pre>
 *
 * <p>Every method comes in two forms. Without a {@link Connection} Once borrows one from the data
 * source and owns the transaction: it retries serialization failures, deadlocks and snapshot
 * conflicts with jittered backoff. With a connection in auto-commit mode it does the same on that
 * connection. With a connection whose auto-commit is off the caller owns the transaction: failed
 * writes roll back to their own savepoint, and what only a new transaction can resolve is thrown as
 * {@link SnapshotConflictException}.
 *
 * <p>Before the first use of a table for a given set of key columns, Once reads the database's
 * metadata and throws {@link NotAtomicException} when no unique index makes the operation atomic.
 * Table and column names come from code: they are validated against the metadata and quoted; values
 * are always bound parameters. Instances are thread-safe; make one per database and keep it.
 */
public final class Once {
    private final DataSource dataSource;
    private final RetryPolicy retry;
    private final Map<String, TableInfo> tables = new ConcurrentHashMap<>();
    private volatile Dialect dialect;

    private Once(DataSource dataSource, RetryPolicy retry) {
        this.dataSource = dataSource;
        this.retry = retry;
    }

    /**
     * Once on this data source, with the default retry policy (8 attempts, 2-200 ms jittered backoff).
     *
     * @param dataSource where connections come from (a pool)
     * @return a thread-safe instance to keep
     */
    public static Once using(DataSource dataSource) {
        return builder(dataSource).build();
    }

    /**
     * Options for Once on this data source: the retry policy.
     *
     * @param dataSource where connections come from (a pool)
     * @return a builder; {@link Builder#build()} makes the instance
     */
    public static Builder builder(DataSource dataSource) {
        return new Builder(Objects.requireNonNull(dataSource, "dataSource"));
    }

    /** Options for {@link Once}. */
    public static final class Builder {
        private final DataSource dataSource;
        private int maxAttempts = RetryPolicy.DEFAULT.maxAttempts();
        private Duration baseDelay = RetryPolicy.DEFAULT.baseDelay();
        private Duration maxDelay = RetryPolicy.DEFAULT.maxDelay();

        private Builder(DataSource dataSource) {
            this.dataSource = dataSource;
        }

        /**
         * How many times a unit of work runs at most when it keeps meeting transient failures.
         *
         * @param maxAttempts at least 1; 8 by default
         * @return this builder
         */
        public Builder maxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
            return this;
        }

        /**
         * Backoff between attempts: a random delay below min(max, base * 2^attempt).
         *
         * @param base the first attempt's bound (2 ms by default)
         * @param max the bound no delay exceeds (200 ms by default)
         * @return this builder
         */
        public Builder backoff(Duration base, Duration max) {
            this.baseDelay = Objects.requireNonNull(base);
            this.maxDelay = Objects.requireNonNull(max);
            return this;
        }

        /**
         * The instance with these options.
         *
         * @return a thread-safe Once to keep
         */
        public Once build() {
            return new Once(dataSource, new RetryPolicy(maxAttempts, baseDelay, maxDelay));
        }
    }

    // ---- getOrCreate ----

    /**
     * Returns the row with these lookup values, inserting lookup + defaults if there is none.
     *
     * @param table the table, optionally schema-qualified
     * @param lookup the key columns and their values (a unique index must cover these columns)
     * @param defaults the other columns to set when the row is inserted
     * @return the row and whether this call created it
     * @throws SQLException when the database fails in a way retrying does not fix
     * @throws NotAtomicException when no unique index covers the lookup columns
     */
    public GetOrCreateResult getOrCreate(String table, Map<String, ?> lookup, Map<String, ?> defaults)
            throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return getOrCreate(c, table, lookup, () -> defaults, true);
        }
    }

    /**
     * As {@link #getOrCreate(String, Map, Map)}; the defaults are computed only when no row was found, on the
     * way to an insert. Callers racing for a new key may each compute them (in several processes, or in
     * threads of one); only the winner's are stored and the others' are dropped: a loader that must run
     * once per key belongs in once-cache.
     *
     * @param table the table, optionally schema-qualified
     * @param lookup the key columns and their values (a unique index must cover these columns)
     * @param defaults computes the other columns, called at most once per call and only when no row was found
     * @return the row and whether this call created it
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public GetOrCreateResult getOrCreate(
            String table, Map<String, ?> lookup, Supplier<? extends Map<String, ?>> defaults) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return getOrCreate(c, table, lookup, defaults);
        }
    }

    /**
     * As {@link #getOrCreate(String, Map, Supplier)} on the caller's connection (see the class comment for who
     * owns the transaction).
     *
     * @param c the caller's connection, left open
     * @param table the table, optionally schema-qualified
     * @param lookup the key columns and their values (a unique index must cover these columns)
     * @param defaults computes the other columns, called at most once per call and only when no row was found
     * @return the row and whether this call created it
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public GetOrCreateResult getOrCreate(
            Connection c, String table, Map<String, ?> lookup, Supplier<? extends Map<String, ?>> defaults)
            throws SQLException {
        return getOrCreate(c, table, lookup, defaults, false);
    }

    /**
     * As {@link #getOrCreate(String, Map, Map)} on the caller's connection.
     *
     * @param c the caller's connection, left open
     * @param table the table, optionally schema-qualified
     * @param lookup the key columns and their values (a unique index must cover these columns)
     * @param defaults the other columns to set when the row is inserted
     * @return the row and whether this call created it
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public GetOrCreateResult getOrCreate(Connection c, String table, Map<String, ?> lookup, Map<String, ?> defaults)
            throws SQLException {
        return getOrCreate(c, table, lookup, () -> defaults, true);
    }

    /** @param eager the defaults are values already computed, so reading first saves nothing */
    private GetOrCreateResult getOrCreate(
            Connection c,
            String table,
            Map<String, ?> lookup,
            Supplier<? extends Map<String, ?>> defaults,
            boolean eager)
            throws SQLException {
        TableInfo t = table(c, table);
        Map<String, Object> l = lookup(t, lookup);
        List<String> key = keyFor(t, l.keySet(), "getOrCreate");
        Supplier<Map<String, Object>> once = memoize(defaults);
        return transactions()
                .run(
                        c,
                        "getOrCreate on " + t.name() + l.keySet(),
                        false,
                        -1,
                        (conn, callerOwned) ->
                                new GetOrCreate(dialect).getOrCreate(conn, callerOwned, t, l, key, once, eager));
    }

    /**
     * Batch getOrCreate: every lookup's row with its created flag, in the order of the lookups.
     *
     * @param table the table, optionally schema-qualified
     * @param lookups the lookups, all naming the same columns
     * @param defaults the other columns for a lookup whose row is to be inserted
     * @return one result per lookup, in input order
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public List<GetOrCreateResult> getOrCreateAll(
            String table,
            List<? extends Map<String, ?>> lookups,
            Function<Map<String, Object>, ? extends Map<String, ?>> defaults)
            throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return getOrCreateAll(c, table, lookups, defaults);
        }
    }

    /**
     * As {@link #getOrCreateAll(String, List, Function)} on the caller's connection.
     *
     * @param c the caller's connection, left open
     * @param table the table, optionally schema-qualified
     * @param lookups the lookups, all naming the same columns
     * @param defaults the other columns for a lookup whose row is to be inserted
     * @return one result per lookup, in input order
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public List<GetOrCreateResult> getOrCreateAll(
            Connection c,
            String table,
            List<? extends Map<String, ?>> lookups,
            Function<Map<String, Object>, ? extends Map<String, ?>> defaults)
            throws SQLException {
        if (lookups.isEmpty()) return List.of();
        TableInfo t = table(c, table);
        List<Map<String, Object>> ls = new ArrayList<>();
        for (Map<String, ?> l : lookups) ls.add(lookup(t, l));
        sameColumns(ls, "lookup");
        List<String> key = keyFor(t, ls.get(0).keySet(), "getOrCreateAll");
        return transactions()
                .run(
                        c,
                        "getOrCreateAll on " + t.name() + ls.get(0).keySet(),
                        true,
                        -1,
                        (conn, callerOwned) -> new GetOrCreate(dialect)
                                .getOrCreateAll(conn, callerOwned, t, ls, key, l -> nullToEmpty(defaults.apply(l))));
    }

    // ---- updateOrCreate ----

    /**
     * Updates the columns in {@code updates} of the row with these lookup values (taking its row lock), or
     * inserts lookup + updates + createDefaults when there is none. createDefaults never touch an existing row.
     *
     * @param table the table, optionally schema-qualified
     * @param lookup the key columns and their values (a unique index must cover these columns)
     * @param updates the columns to set on the row, existing or new
     * @param createDefaults the columns to set only on a new row
     * @return the row after the update or insert, and whether this call created it
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public GetOrCreateResult updateOrCreate(
            String table, Map<String, ?> lookup, Map<String, ?> updates, Map<String, ?> createDefaults)
            throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return updateOrCreate(c, table, lookup, updates, createDefaults);
        }
    }

    /**
     * As {@link #updateOrCreate(String, Map, Map, Map)} on the caller's connection.
     *
     * @param c the caller's connection, left open
     * @param table the table, optionally schema-qualified
     * @param lookup the key columns and their values (a unique index must cover these columns)
     * @param updates the columns to set on the row, existing or new
     * @param createDefaults the columns to set only on a new row
     * @return the row after the update or insert, and whether this call created it
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public GetOrCreateResult updateOrCreate(
            Connection c, String table, Map<String, ?> lookup, Map<String, ?> updates, Map<String, ?> createDefaults)
            throws SQLException {
        TableInfo t = table(c, table);
        Map<String, Object> l = lookup(t, lookup);
        Map<String, Object> u = t.resolve(nullToEmpty(updates), "updates");
        Map<String, Object> cd = t.resolve(nullToEmpty(createDefaults), "createDefaults");
        cd.forEach((column, value) -> { // a default never overrides the key (helper-63); it may override updates
            if (l.containsKey(column) && !Objects.equals(l.get(column), value))
                throw new IllegalArgumentException("createDefaults set " + column + " = " + value + " but the"
                        + " lookup set " + column + " = " + l.get(column));
        });
        List<String> key = keyFor(t, l.keySet(), "updateOrCreate");
        return transactions()
                .run(
                        c,
                        "updateOrCreate on " + t.name() + l.keySet(),
                        true,
                        -1,
                        (conn, callerOwned) ->
                                new GetOrCreate(dialect).updateOrCreate(conn, callerOwned, t, l, key, u, cd));
    }

    // ---- upsert ----

    /**
     * Inserts the row, or does what {@code spec} says to the row with the same key.
     *
     * @param table the table, optionally schema-qualified
     * @param row the columns and values of the row, key columns included
     * @param spec the key columns and what to do with an existing row
     * @return whether the row was inserted, updated or left unchanged
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public UpsertOutcome upsert(String table, Map<String, ?> row, Upsert spec) throws SQLException {
        return upsertAll(table, List.of(row), spec).get(0);
    }

    /**
     * As {@link #upsert(String, Map, Upsert)} on the caller's connection.
     *
     * @param c the caller's connection, left open
     * @param table the table, optionally schema-qualified
     * @param row the columns and values of the row, key columns included
     * @param spec the key columns and what to do with an existing row
     * @return whether the row was inserted, updated or left unchanged
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public UpsertOutcome upsert(Connection c, String table, Map<String, ?> row, Upsert spec) throws SQLException {
        return upsertAll(c, table, List.of(row), spec).get(0);
    }

    /**
     * Upserts many rows in as few statements as the database's parameter limit allows (thousands of rows
     * per round trip), returning each row's outcome in input order. Rows repeating a key are merged.
     *
     * @param table the table, optionally schema-qualified
     * @param rows the rows, all setting the same columns
     * @param spec the key columns and what to do with an existing row
     * @return one outcome per row, in input order
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public List<UpsertOutcome> upsertAll(String table, List<? extends Map<String, ?>> rows, Upsert spec)
            throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return upsertAll(c, table, rows, spec);
        }
    }

    /**
     * As {@link #upsertAll(String, List, Upsert)} on the caller's connection.
     *
     * @param c the caller's connection, left open
     * @param table the table, optionally schema-qualified
     * @param rows the rows, all setting the same columns
     * @param spec the key columns and what to do with an existing row
     * @return one outcome per row, in input order
     * @throws SQLException when the database fails in a way retrying does not fix
     */
    public List<UpsertOutcome> upsertAll(Connection c, String table, List<? extends Map<String, ?>> rows, Upsert spec)
            throws SQLException {
        Objects.requireNonNull(spec, "spec");
        if (rows.isEmpty()) return List.of();
        TableInfo t = table(c, table);
        List<Map<String, Object>> rs = new ArrayList<>();
        for (Map<String, ?> r : rows) rs.add(t.resolve(r, "upsert row"));
        sameColumns(rs, "upsert row");
        Set<String> columns = rs.get(0).keySet();
        List<String> named =
                new ArrayList<>(t.resolve(asKeys(spec.keyColumns), "Upsert.on").keySet());
        List<String> key = t.keyExactly(named)
                .orElseThrow(() -> new NotAtomicException("upsert on " + t.name()
                        + "(" + String.join(", ", named) + ") is not atomic: no unique index is on exactly ("
                        + String.join(", ", named) + "). Add UNIQUE (" + String.join(", ", named) + ")."));
        for (String k : key) {
            if (!columns.contains(k)) throw new IllegalArgumentException("upsert rows must set key column " + k);
        }
        for (Map<String, Object> r : rs) for (String k : key) checkKey(t, k, r.get(k));
        List<String> updateColumns = new ArrayList<>();
        if (spec.update) {
            List<String> asked = spec.updateColumns.isEmpty()
                    ? new ArrayList<>(columns)
                    : new ArrayList<>(
                            t.resolve(asKeys(spec.updateColumns), "doUpdate").keySet());
            for (String u : asked) {
                if (!columns.contains(u))
                    throw new IllegalArgumentException("doUpdate names " + u + ", which the rows do not set");
                if (!key.contains(u)) updateColumns.add(u);
            }
            for (Upsert.Guard g : spec.guards) {
                String guarded = t.spelling(g.column());
                if (!columns.contains(guarded)) {
                    throw new IllegalArgumentException(
                            "onlyIfIncoming names " + g.column() + ", which the rows do not set");
                }
                if (!updateColumns.contains(guarded) && !key.contains(guarded)) { // helper-63
                    throw new IllegalArgumentException("onlyIfIncoming compares " + g.column() + ", which "
                            + spec + " never updates: the stored " + g.column() + " would stay as first written,"
                            + " so an older row could overwrite a newer one. Add " + g.column() + " to doUpdate");
                }
            }
        }
        Upsert spelled = spec.withGuardColumns(t::spelling); // "VERSION" names the column version, as elsewhere
        return transactions()
                .run(
                        c,
                        "upsert on " + t.name() + key,
                        true,
                        dialect instanceof MariaDbDialect ? Connection.TRANSACTION_REPEATABLE_READ : -1,
                        // a failed upsert in the caller's transaction must leave it usable, as a failed insert does
                        (conn, callerOwned) -> Transactions.guarded(
                                conn,
                                callerOwned,
                                () -> new Upserts(dialect)
                                        .upsertAll(conn, callerOwned, t, rs, spelled, key, updateColumns)));
    }

    // ---- shared ----

    /**
     * The table a statement on this connection names. On MariaDB an unqualified name means a table of the
     * connection's current database, so what is known of it is kept per database: kept by the name alone,
     * one database's unique index vouched for another database's table without one, where MariaDB's plain
     * insert then wrote duplicates (a data source routing tenants to databases; helper-63). The driver
     * knows its current database without a query.
     */
    private TableInfo table(Connection c, String table) throws SQLException {
        Dialect d = dialect;
        if (d == null) dialect = d = Dialect.of(c);
        String scope = d.schemasAreCatalogs() ? c.getCatalog() : null;
        String spelled = scope == null ? table : scope + '\u0000' + table;
        TableInfo t = tables.get(spelled); // as the caller spelled it: no parsing on the common path
        if (t != null) return t;
        TableInfo.Name name = TableInfo.Name.parse(table);
        String canonical = scope == null ? name.toString() : scope + '\u0000' + name;
        t = tables.get(canonical);
        if (t == null) {
            t = TableInfo.read(c, d, name);
            tables.put(canonical, t);
        }
        tables.put(spelled, t);
        return t;
    }

    /**
     * Whether an error from this database means "run the transaction again": a {@link
     * SnapshotConflictException}, a serialization failure, a deadlock or a lock timeout, classified by
     * SQLState and vendor code. For callers that own their transactions and retry them.
     *
     * @param e an error from a statement on this instance's database
     * @return true when running the transaction again may succeed
     */
    public boolean isTransient(SQLException e) {
        if (e instanceof SnapshotConflictException) return true;
        Dialect d = dialect;
        if (d == null) {
            try (Connection c = dataSource.getConnection()) {
                dialect = d = Dialect.of(c);
            } catch (SQLException unreachable) {
                return false;
            }
        }
        return d.classifyChain(e).transientFailure();
    }

    /** Forgets what was read of a table's columns and indexes, e.g. after a migration changed them. */
    public void forgetMetadata() {
        tables.clear();
    }

    private Transactions transactions() {
        return new Transactions(dialect, retry);
    }

    private Map<String, Object> lookup(TableInfo t, Map<String, ?> lookup) {
        if (lookup == null || lookup.isEmpty())
            throw new IllegalArgumentException("lookup must name at least one column");
        Map<String, Object> l = t.resolve(lookup, "lookup");
        l.forEach((column, value) -> checkKey(t, column, value));
        return l;
    }

    /**
     * Refuses a key value no unique index can hold to one row: null, or (MariaDB, PostgreSQL) a number or
     * boolean for a text column. MariaDB compares a VARCHAR with a number as numbers, so {@code code = 1}
     * finds '01' and '1.0' while the unique index tells them apart; PostgreSQL has no such operator. SQLite
     * converts the number to text (the column's affinity), so it compares as the index does.
     */
    private void checkKey(TableInfo t, String column, Object value) {
        if (value == null) {
            throw new IllegalArgumentException("key value for " + t.name() + "." + column + " is null: unique indexes"
                    + " treat NULLs as distinct, so no constraint could keep a second such row out");
        }
        if ((value instanceof Number || value instanceof Boolean)
                && t.isText(column)
                && !(dialect instanceof SqliteDialect)) {
            throw new IllegalArgumentException("key value for " + t.name() + "." + column + " is a "
                    + value.getClass().getName() + " (" + value + ") but the column is text (" + t.textType(column)
                    + "): " + dialect.name() + " would not compare it as the unique index does (MariaDB"
                    + " compares text with a number as numbers, so 1 finds '01'). Pass the key as a String");
        }
        if (dialect instanceof MariaDbDialect) { // helper-63
            if ((value instanceof Number || value instanceof Boolean) && t.isBinary(column)) {
                throw new IllegalArgumentException("key value for " + t.name() + "." + column + " is a "
                        + value.getClass().getName() + " (" + value + ") but the column is a byte string ("
                        + t.typeName(column) + "): MariaDB compares the two as numbers, so 1 finds the row '01'."
                        + " Pass the key as a byte[] or String");
            }
            Integer places = t.decimalPlaces(column); // helper-67
            if (places != null && value instanceof Number n && decimalPlaces(n) > places) {
                throw new IllegalArgumentException("key value for " + t.name() + "." + column + " (" + value
                        + ") has more decimal places than the column keeps (" + t.typeName(column) + "("
                        + t.size(column)
                        + "," + places + "): " + places + "): MariaDB would store it rounded, and the lookup by the"
                        + " value given would not find that row again (the second call fails with a duplicate-key"
                        + " error). Round the key to " + places + " decimal places");
            }
            String cast = t.castType(column); // helper-67: the lookup's cast would clip onto a stored row
            if ("FLOAT".equals(cast) && value instanceof Number n && !(Math.abs(n.doubleValue()) <= Float.MAX_VALUE)) {
                throw new IllegalArgumentException("key value for " + t.name() + "." + column + " (" + value
                        + ") is beyond the range of the column's type (FLOAT, single precision, up to "
                        + Float.MAX_VALUE + "): MariaDB would refuse to store it, and the lookup's CAST(value AS"
                        + " FLOAT) would find the row holding FLOAT's largest value. Pass a value within the range,"
                        + " or make the column DOUBLE");
            }
            if (cast != null && cast.startsWith("BINARY(")) {
                int length = value instanceof byte[] b
                        ? b.length
                        : value instanceof CharSequence || value instanceof Character
                                ? value.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                                : -1;
                if (length > t.size(column)) {
                    throw new IllegalArgumentException("key value for " + t.name() + "." + column + " is " + length
                            + " bytes but the column is " + cast + ": MariaDB would refuse to store it, and the"
                            + " lookup, which pads a shorter value with 0x00 bytes to " + t.size(column) + " as"
                            + " the column stores it, would cut it to its first " + t.size(column) + " bytes"
                            + " and find that row. Pass at most " + t.size(column) + " bytes");
                }
            }
            if ((value instanceof CharSequence || value instanceof Character) && t.isNumber(column)) {
                throw new IllegalArgumentException("key value for " + t.name() + "." + column + " is text ('"
                        + value + "') but the column is numeric (" + t.typeName(column) + "): MariaDB compares"
                        + " the two as floating-point numbers, so 'abc' finds the row 0, '1abc' the row 1 and"
                        + " '9007199254740993' the row 9007199254740992. Pass the key as a number (Long,"
                        + " BigDecimal)");
            }
        }
    }

    /** The decimal places of a number as the driver writes it (a Double as its shortest decimal), 0 for integers. */
    private static int decimalPlaces(Number n) {
        if (!(n instanceof java.math.BigDecimal || n instanceof Double || n instanceof Float)) return 0;
        try {
            return Math.max(
                    0,
                    new java.math.BigDecimal(n.toString()).stripTrailingZeros().scale());
        } catch (NumberFormatException notFinite) {
            return 0; // NaN or infinite: the database refuses it
        }
    }

    private static List<String> keyFor(TableInfo t, Set<String> lookupColumns, String operation)
            throws NotAtomicException {
        return t.keyWithin(lookupColumns).orElseThrow(() -> {
            String cols = String.join(", ", lookupColumns);
            return new NotAtomicException(operation + " on " + t.name() + "(" + cols + ") is not atomic: no unique"
                    + " index covers (" + cols + "), so concurrent callers would insert duplicates. Add UNIQUE ("
                    + cols + ").");
        });
    }

    private static void sameColumns(List<Map<String, Object>> rows, String what) {
        Set<String> first = rows.get(0).keySet();
        for (int i = 1; i < rows.size(); i++) {
            if (!rows.get(i).keySet().equals(first)) {
                throw new IllegalArgumentException(
                        what + " " + i + " has columns " + rows.get(i).keySet() + " but " + what + " 0 has " + first
                                + "; every row of a batch must set the same columns");
            }
        }
    }

    private static Map<String, Object> asKeys(List<String> columns) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (String c : new LinkedHashSet<>(columns)) m.put(c, Boolean.TRUE);
        return m;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> nullToEmpty(Map<String, ?> m) {
        return m == null ? Map.of() : (Map<String, Object>) m;
    }

    private static Supplier<Map<String, Object>> memoize(Supplier<? extends Map<String, ?>> supplier) {
        Objects.requireNonNull(supplier, "defaults");
        return new Supplier<>() {
            private Map<String, Object> value;

            @Override
            public Map<String, Object> get() {
                if (value == null) value = nullToEmpty(supplier.get());
                return value;
            }
        };
    }
}
