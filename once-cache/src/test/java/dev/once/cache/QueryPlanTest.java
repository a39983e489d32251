package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import dev.once.jdbc.testing.Warnings;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The cache's statements find a key through the primary key, whatever the planner knows of the table.
 * A table the cache has just created holds no rows and has no statistics; pgjdbc prepares a statement on
 * the server after a few uses, and PostgreSQL then keeps a generic plan for as long as the connection
 * lives, unless an ANALYZE (autovacuum's, if it runs) replaces it. Made while the table was empty, that
 * plan found a key through the expiry index by its namespace alone and filtered the rest: every lookup
 * then read the whole namespace (7,100 index entries per statement in a benchmark with autovacuum off,
 * p50 235 ms against 132 ms on a table that had rows when the statements were prepared).
 */
class QueryPlanTest {

    @Test
    void statementsPreparedOnAFreshTable_findTheirKeyThroughThePrimaryKey() throws Exception {
        String table = newTable("fresh");
        try (HikariDataSource pool = TestDatabases.pool(Db.POSTGRES, 1, -1)) {
            try (OnceCache<String> cache =
                    cache(pool, table).nearCache(0).negativeTtl(Duration.ZERO).build()) {
                for (int i = 0; i < 8; i++) { // pgjdbc prepares on the server from the fifth use
                    String key = "k" + i;
                    assertThat(cache.get(key, () -> "v")).isEqualTo("v"); // read, claim, store
                    assertThat(cache.get(key, () -> "never")).isEqualTo("v"); // read
                    assertThatThrownBy(() -> cache.get("failing" + key, () -> {
                                throw new IllegalStateException("down");
                            }))
                            .isInstanceOf(CacheLoadException.class); // read, claim, release
                    cache.purge(key);
                }
            }
            Map<String, String> plans = genericPlans(pool, table);

            assertThat(plans.keySet())
                    .anyMatch(sql -> sql.startsWith("SELECT"))
                    .anyMatch(sql -> sql.startsWith("INSERT"))
                    .anyMatch(sql -> sql.contains("UPDATE") && sql.contains("state = ?"))
                    .anyMatch(sql -> sql.contains("UPDATE") && sql.contains("error = ?, updated_at"))
                    .anyMatch(sql -> sql.contains("DELETE"));
            everyScanUsesThePrimaryKey(plans, table);
        }
    }

    /**
     * Reads that waited for a statement slot share one ({@link SharedReads}): on a table never analyzed
     * its plan, generic or made with the values, must find each key through the primary key too. With
     * {@code key_hash IN (...)} PostgreSQL found the keys of a namespace holding 4,000 rows by the
     * namespace alone ({@code Bitmap Heap Scan}, every row of it read and filtered): 3 to 6 ms per shared
     * read in {@code once bench}, where a read by key takes 0.02.
     */
    @Test
    void readsSharingAStatementOnATableNeverAnalyzed_findTheirKeysThroughThePrimaryKey() throws Exception {
        String table = newTable("shared");
        com.zaxxer.hikari.HikariConfig config = new com.zaxxer.hikari.HikariConfig();
        config.setJdbcUrl(TestDatabases.url(Db.POSTGRES));
        config.setMaximumPoolSize(1);
        config.addDataSourceProperty("prepareThreshold", "1"); // every statement named, so listed below
        try (HikariDataSource pool = new HikariDataSource(config)) {
            try (OnceCache<String> cache = cache(pool, table)
                            .nearCache(0)
                            .maxConnections(1)
                            .cleanupInterval(Duration.ZERO) // the janitor would analyze the table
                            .build();
                    var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                TestDatabases.execute(
                        Db.POSTGRES,
                        "ALTER TABLE " + table + " SET (autovacuum_enabled = false)",
                        "INSERT INTO " + table + " (namespace, key_hash, key_text, state, value, expires_at,"
                                + " updated_at) SELECT 'ns', lpad(to_hex(g), 64, '0'), 'other', 1,"
                                + " convert_to(repeat('x', 300), 'UTF8'), 9000000000000 + g, 0"
                                + " FROM generate_series(1, 4000) g"); // answers of 300 bytes
                for (int i = 0; i < 70; i++) cache.get("k" + i, () -> "v");
                for (int round = 0; round < 5; round++) {
                    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
                    List<java.util.concurrent.Future<?>> reads = new ArrayList<>();
                    for (int i = 0; i < 70; i++) {
                        String key = "k" + i;
                        reads.add(threads.submit(() -> {
                            go.await();
                            return cache.peek(key).map(CacheResult::value).orElse(null);
                        }));
                    }
                    go.countDown();
                    for (var r : reads)
                        assertThat(r.get(30, java.util.concurrent.TimeUnit.SECONDS))
                                .isEqualTo("v");
                }
            }
            assertThat(TestDatabases.count(
                            Db.POSTGRES,
                            "SELECT count(*) FROM pg_stat_user_tables WHERE relname = '" + table
                                    + "' AND last_analyze IS NULL AND last_autoanalyze IS NULL"))
                    .as("the table was never analyzed")
                    .isEqualTo(1);
            List<String> hashes =
                    strings("SELECT key_hash FROM " + table + " WHERE key_text <> 'other' ORDER BY key_hash LIMIT 16");
            for (Map<String, String> plans : List.of(genericPlans(pool, table), plansWithValues(pool, table, hashes))) {
                plans.keySet().removeIf(sql -> !sql.startsWith("SELECT")); // the reads (DDL is prepared here too)
                everyScanUsesThePrimaryKey(plans, table);
                assertThat(plans.keySet()).as("a shared read was prepared").anyMatch(sql -> sql.contains("unnest("));
            }
        }
    }

    /**
     * Every scan of the table goes through its primary key by the key hash as well as the namespace: an
     * index scan of the primary key, or a bitmap scan whose index is the primary key; and every index
     * condition names {@code key_hash} (an index condition on the namespace alone reads the namespace).
     */
    private static void everyScanUsesThePrimaryKey(Map<String, String> plans, String table) {
        plans.forEach((sql, plan) -> {
            List<String> scans = plan.lines()
                    .filter(line -> line.contains(" on " + table + " ") || line.endsWith(" on " + table))
                    .filter(line -> line.contains("Scan"))
                    .toList();
            assertThat(scans)
                    .as("the plan of %s:%n%s", sql, plan)
                    .allMatch(line ->
                            line.contains("using " + table + "_pkey") || line.contains("Bitmap Heap Scan on " + table));
            assertThat(plan.lines().filter(line -> line.contains("Bitmap Index Scan")))
                    .as("the plan of %s:%n%s", sql, plan)
                    .allMatch(line -> line.contains(" on " + table + "_pkey"));
            assertThat(plan.lines().filter(line -> line.contains("Index Cond:")))
                    .as("the plan of %s:%n%s", sql, plan)
                    .allMatch(line -> line.contains("key_hash"));
            if (!sql.startsWith("INSERT"))
                assertThat(scans).as("the plan of %s", sql).isNotEmpty();
        });
    }

    @Test
    void renewalsAndTheJanitor_arePlannedWithTheirValues_andFindRowsThroughTheJanitorsIndexes() throws Exception {
        String table = newTable("many");
        try (HikariDataSource pool = TestDatabases.pool(Db.POSTGRES, 1, -1)) {
            try (OnceCache<String> cache = cache(pool, table)
                    .nearCache(0)
                    .ttl(Duration.ofMillis(1))
                    .lease(Duration.ofMillis(300)) // renewed every 100 ms while a load runs
                    .cleanupInterval(Duration.ofMillis(50))
                    .retainExpired(Duration.ZERO)
                    .build()) {
                assertThat(cache.get("slow", () -> {
                            Thread.sleep(1_500);
                            return "v";
                        }))
                        .isEqualTo("v");
                for (int i = 0; i < 8; i++) cache.get("k" + i, () -> "v");
                Thread.sleep(500); // the janitor's rounds
            }
            assertThat(TestDatabases.count(Db.POSTGRES, "SELECT count(*) FROM " + table))
                    .as("the janitor deleted the expired rows")
                    .isLessThan(9);
            Map<String, String> plans = genericPlans(pool, table);
            assertThat(plans.keySet())
                    .as("prepared on the server, so given a generic plan")
                    .noneMatch(sql -> sql.contains("key_hash IN"))
                    .noneMatch(sql -> sql.startsWith("DELETE") && sql.contains("LIMIT"));
        }
        // with statistics, the janitor's delete finds its rows through its two partial indexes (without
        // them, depending on the server's version, it may read the namespace through the primary key)
        String analyzed = table + "_s";
        TestDatabases.execute(
                Db.POSTGRES, Schema.ddl(StoreDialect.POSTGRES, analyzed).split(";\\s*(?=\\S)"));
        String janitor = StoreDialect.POSTGRES
                .deleteExpired(analyzed)
                .replaceFirst("\\?", "'ns'")
                .replaceFirst("\\?", "1")
                .replaceFirst("\\?", "1")
                .replaceFirst("\\?", "'ns'")
                .replaceFirst("\\?", "1")
                .replaceFirst("\\?", "1")
                .replaceFirst("\\?", "100");
        TestDatabases.execute(
                Db.POSTGRES,
                "INSERT INTO " + analyzed + " (namespace, key_hash, key_text, state, expires_at, updated_at) SELECT"
                        + " 'ns', lpad(to_hex(g), 64, '0'), 'k', 1, 9000000000000 + g, 0"
                        + " FROM generate_series(1, 20000) g",
                "ANALYZE " + analyzed);
        StringBuilder plan = new StringBuilder();
        try (Connection c = TestDatabases.connect(Db.POSTGRES);
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("EXPLAIN " + janitor)) {
            while (rs.next()) plan.append(rs.getString(1)).append('\n');
        }
        assertThat(plan.toString())
                .as("%s", plan)
                .contains(analyzed + "_expiry")
                .contains(analyzed + "_released");
    }

    @Test
    void renewals_throughAWrapperWhoseStatementsDoNotUnwrap_stillRun() throws Exception {
        String table = newTable("wrap");
        java.util.concurrent.atomic.AtomicInteger renewals = new java.util.concurrent.atomic.AtomicInteger();
        try (HikariDataSource pool = TestDatabases.pool(Db.POSTGRES, 2, -1)) {
            javax.sql.DataSource counted = Delegating.statements(pool, new Delegating.StatementHook() {
                @Override
                public void before(String sql) {}

                @Override
                public void after(String sql) {
                    if (sql.startsWith("UPDATE") && sql.contains("key_hash IN")) renewals.incrementAndGet();
                }
            });
            // a tracing wrapper that unwraps to nothing: its statements are not pgjdbc's
            javax.sql.DataSource opaque = Delegating.proxy(javax.sql.DataSource.class, counted, (ds, m, args) -> {
                Object r = Delegating.invoke(m, counted, args);
                if (!(r instanceof Connection c)) return r;
                return Delegating.proxy(Connection.class, c, (conn, cm, cargs) -> {
                    Object cr = Delegating.invoke(cm, c, cargs);
                    if (!(cr instanceof java.sql.PreparedStatement ps)) return cr;
                    return Delegating.proxy(java.sql.PreparedStatement.class, ps, (st, sm, sargs) -> {
                        if (sm.getName().equals("unwrap")) throw new java.sql.SQLException("not a wrapper");
                        if (sm.getName().equals("isWrapperFor")) throw new java.sql.SQLException("not a wrapper");
                        return Delegating.invoke(sm, ps, sargs);
                    });
                });
            });
            try (OnceCache<String> cache = cache(opaque, table)
                    .lease(Duration.ofMillis(300)) // renewed every 100 ms while a load runs
                    .build()) {
                assertThat(cache.get("slow", () -> {
                            Thread.sleep(1_000);
                            return "v";
                        }))
                        .isEqualTo("v");
            }
        }
        assertThat(renewals.get()).as("renewals that ran").isGreaterThanOrEqualTo(3);
    }

    @Test
    void tableAnalyzedSmallThenGrown_autovacuumOff_theJanitorAnalyzesIt_andLookupsFindKeysByThePrimaryKey()
            throws Exception {
        String table = newTable("grown");
        try (HikariDataSource pool = TestDatabases.pool(Db.POSTGRES, 1, -1)) {
            OnceCacheBuilder<String> builder = cache(pool, table).nearCache(0);
            try (OnceCache<String> first =
                    builder.cleanupInterval(Duration.ZERO).build()) {
                TestDatabases.execute(Db.POSTGRES, "ALTER TABLE " + table + " SET (autovacuum_enabled = false)");
                for (int i = 0; i < 20; i++) first.get("k" + i, () -> "v");
                TestDatabases.execute(Db.POSTGRES, "ANALYZE " + table); // small: a seq scan is cheapest
                for (int i = 0; i < 20; i++) first.get("k" + i, () -> "never"); // generic plans made now
            }
            assertThat(genericPlans(pool, table).entrySet())
                    .filteredOn(e -> e.getKey().startsWith("SELECT"))
                    .singleElement()
                    .satisfies(e -> assertThat(e.getValue()).contains("Seq Scan"));
            TestDatabases.execute(
                    Db.POSTGRES,
                    "INSERT INTO " + table + " (namespace, key_hash, key_text, state, expires_at, updated_at) SELECT"
                            + " 'ns', lpad(to_hex(g), 64, '0'), 'k', 1, 9000000000000 + g, 0"
                            + " FROM generate_series(1, 20000) g");
            try (OnceCache<String> janitor =
                    builder.cleanupInterval(Duration.ofMillis(100)).build()) {
                org.awaitility.Awaitility.await()
                        .atMost(Duration.ofSeconds(20))
                        .until(() -> TestDatabases.count(
                                        Db.POSTGRES,
                                        "SELECT count(*) FROM pg_stat_user_tables WHERE relname = '" + table
                                                + "' AND analyze_count >= 2")
                                == 1);
                for (int i = 0; i < 20; i++)
                    assertThat(janitor.get("k" + i, () -> "never")).isEqualTo("v");
            }
            assertThat(genericPlans(pool, table).entrySet())
                    .filteredOn(e -> e.getKey().startsWith("SELECT"))
                    .singleElement()
                    .satisfies(e -> assertThat(e.getValue()).contains("using " + table + "_pkey"));
        }
    }

    @Test
    void build_tableWithAnIndexLedByNamespaceAlone_warnsAndNamesIt() throws Exception {
        String table = newTable("old");
        TestDatabases.execute(
                Db.POSTGRES,
                "CREATE TABLE " + table + " (namespace VARCHAR(200) NOT NULL, key_hash CHAR(64) NOT NULL, key_text"
                        + " TEXT NOT NULL, state SMALLINT NOT NULL, value BYTEA, error TEXT, expires_at BIGINT,"
                        + " lease_owner VARCHAR(80), lease_until BIGINT, updated_at BIGINT NOT NULL,"
                        + " PRIMARY KEY (namespace, key_hash))",
                "CREATE INDEX " + table + "_expires ON " + table + " (namespace, expires_at)",
                "CREATE INDEX " + table + "_incl ON " + table + " (namespace) INCLUDE (key_hash)");

        List<String> warnings = warningsBuilding(table);

        assertThat(warnings).hasSize(1);
        assertThat(warnings.get(0))
                .contains(table + "_expires")
                .contains(table + "_incl")
                .doesNotContain(table + "_pkey")
                .doesNotContain(table + "_expiry")
                .doesNotContain(table + "_released")
                .contains("drop it");
    }

    @Test
    void build_tableFromTheShippedDdl_noIndexWarning() throws Exception {
        String table = newTable("new");

        assertThat(warningsBuilding(table)).noneMatch(m -> m.contains("led by namespace"));
    }

    /** The warnings that name {@code table}, logged while a cache is built on it and used once. */
    private static List<String> warningsBuilding(String table) throws Exception {
        return Warnings.loggedBy(EntryStore.class, () -> {
                    try (OnceCache<String> cache =
                            cache(TestDatabases.shared(Db.POSTGRES), table).build()) {
                        assertThat(cache.get("k", () -> "v")).isEqualTo("v");
                    }
                })
                .stream()
                .filter(m -> m.contains(table))
                .toList();
    }

    /** A table name no other test uses, as PostgreSQL folds it (lower case). */
    private static String newTable(String prefix) {
        return "plan_"
                + TestDatabases.newTable(prefix)
                        .replaceAll("[^A-Za-z0-9_]", "_")
                        .toLowerCase();
    }

    /** A cache of strings on {@code table}, namespace {@code ns}. */
    private static OnceCacheBuilder<String> cache(javax.sql.DataSource ds, String table) {
        return OnceCache.builder(ds).table(table).namespace("ns").codec(Codec.string());
    }

    /**
     * The generic plan of each statement the cache prepared on the pool's connection (pgjdbc's named
     * statements, listed by {@code pg_prepared_statements}), keyed by its SQL with {@code $n} as {@code ?}.
     */
    private static Map<String, String> genericPlans(HikariDataSource pool, String table) throws Exception {
        return plans(
                pool,
                table,
                "force_generic_plan",
                (types, sql) -> String.join(", ", java.util.Collections.nCopies(types.size(), "NULL")));
    }

    /**
     * The plan PostgreSQL makes for each such statement given values: namespace {@code ns} where the
     * statement compares the namespace, 1 for a number, {@code hashes} for its other parameters (an array
     * of them all for an array parameter, one each for the others).
     */
    private static Map<String, String> plansWithValues(HikariDataSource pool, String table, List<String> hashes)
            throws Exception {
        return plans(pool, table, "force_custom_plan", (types, sql) -> {
            java.util.regex.Matcher ns =
                    java.util.regex.Pattern.compile("namespace = \\$(\\d+)").matcher(sql);
            int namespace = ns.find() ? Integer.parseInt(ns.group(1)) : -1;
            List<String> args = new ArrayList<>();
            for (int i = 0; i < types.size(); i++) {
                if (i + 1 == namespace) args.add("'ns'");
                else if (types.get(i).endsWith("[]")) args.add("'{" + String.join(",", hashes) + "}'");
                else if (types.get(i).matches("smallint|integer|bigint")) args.add("1");
                else args.add("'" + hashes.get(i % hashes.size()) + "'");
            }
            return String.join(", ", args);
        });
    }

    private static List<String> strings(String sql) throws Exception {
        List<String> values = new ArrayList<>();
        try (Connection c = TestDatabases.connect(Db.POSTGRES);
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) values.add(rs.getString(1));
        }
        return values;
    }

    /** Arguments for {@code EXECUTE}, from the parameters' types and the statement's text. */
    private interface Arguments {
        String of(List<String> types, String sql);
    }

    private static Map<String, String> plans(HikariDataSource pool, String table, String mode, Arguments arguments)
            throws Exception {
        Map<String, String> plans = new LinkedHashMap<>();
        try (Connection c = pool.getConnection();
                Statement s = c.createStatement()) {
            s.execute("SET plan_cache_mode = " + mode);
            List<String[]> prepared = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT name, statement, array_to_string(parameter_types::text[], ';')"
                    + " FROM pg_prepared_statements WHERE NOT from_sql")) {
                while (rs.next()) {
                    if (rs.getString(2).contains(table + " "))
                        prepared.add(new String[] {rs.getString(1), rs.getString(2), rs.getString(3)});
                }
            }
            for (String[] p : prepared) {
                List<String> types = p[2].isEmpty() ? List.of() : List.of(p[2].split(";"));
                String args = arguments.of(types, p[1]);
                StringBuilder plan = new StringBuilder();
                String execute = "EXECUTE \"" + p[0] + "\"" + (args.isEmpty() ? "" : "(" + args + ")");
                try (ResultSet rs = s.executeQuery("EXPLAIN " + execute)) {
                    while (rs.next()) plan.append(rs.getString(1)).append('\n');
                }
                plans.put(p[1].replaceAll("\\$\\d+", "?").strip(), plan.toString());
            }
            s.execute("RESET plan_cache_mode");
        }
        return plans;
    }
}
