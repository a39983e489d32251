package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
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
     * Reads that waited for a statement slot share one ({@code key_hash IN (...)}, {@link SharedReads}):
     * on a fresh table its generic plan must find each key through the primary key too.
     */
    @Test
    void readsSharingAStatementOnAFreshTable_findTheirKeysThroughThePrimaryKey() throws Exception {
        String table = newTable("shared");
        com.zaxxer.hikari.HikariConfig config = new com.zaxxer.hikari.HikariConfig();
        config.setJdbcUrl(TestDatabases.url(Db.POSTGRES));
        config.setMaximumPoolSize(1);
        config.addDataSourceProperty("prepareThreshold", "1"); // every statement named, so listed below
        try (HikariDataSource pool = new HikariDataSource(config)) {
            try (OnceCache<String> cache =
                            cache(pool, table).nearCache(0).maxConnections(1).build();
                    var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < 70; i++) cache.get("k" + i, () -> "v");
                for (int round = 0; round < 5; round++) {
                    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
                    List<java.util.concurrent.Future<?>> reads = new ArrayList<>();
                    for (int i = 0; i < 70; i++) {
                        String key = "k" + i;
                        reads.add(threads.submit(() -> {
                            go.await();
                            return cache.peek(key);
                        }));
                    }
                    go.countDown();
                    for (var r : reads) r.get(30, java.util.concurrent.TimeUnit.SECONDS);
                }
            }
            Map<String, String> plans = genericPlans(pool, table);
            plans.keySet().removeIf(sql -> !sql.startsWith("SELECT")); // the reads (DDL is prepared here too)
            assertThat(plans.keySet()).anyMatch(sql -> sql.contains("key_hash IN ("));
            everyScanUsesThePrimaryKey(plans, table);
        }
    }

    private static void everyScanUsesThePrimaryKey(Map<String, String> plans, String table) {
        plans.forEach((sql, plan) -> {
            List<String> scans = plan.lines()
                    .filter(line -> line.contains(" on " + table + " ") || line.endsWith(" on " + table))
                    .filter(line -> line.contains("Scan"))
                    .toList();
            assertThat(scans)
                    .as("the plan of %s:%n%s", sql, plan)
                    .allMatch(line -> line.contains("using " + table + "_pkey"));
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
        Map<String, String> plans = new LinkedHashMap<>();
        try (Connection c = pool.getConnection();
                Statement s = c.createStatement()) {
            s.execute("SET plan_cache_mode = force_generic_plan");
            List<String[]> prepared = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT name, statement, cardinality(parameter_types)"
                    + " FROM pg_prepared_statements WHERE NOT from_sql")) {
                while (rs.next()) {
                    if (rs.getString(2).contains(table + " "))
                        prepared.add(new String[] {rs.getString(1), rs.getString(2), rs.getString(3)});
                }
            }
            for (String[] p : prepared) {
                String args = String.join(", ", java.util.Collections.nCopies(Integer.parseInt(p[2]), "NULL"));
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
