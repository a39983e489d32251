package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The cache table disappears under a running cache: a careless DROP, or a database restored from a
 * dump without it (helper-57 dropped and recreated the database under three {@code once serve}
 * replicas: every request then passed through, with two warnings each, and {@code /-/health} said
 * "caching"). A cache that creates its table makes it again; one told not to names the table.
 */
class TableGoneTest {

    @ParameterizedTest
    @EnumSource(Db.class)
    void tableDropped_cacheThatCreatesIt_makesItAgain_noCallFails_andCachesAgain(Db db) throws Exception {
        String table = TestDatabases.newTable("gone");
        AtomicInteger calls = new AtomicInteger();
        try (OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(db))
                        .table(table)
                        .codec(Codec.string())
                        .build();
                ExecutorService pool = Executors.newFixedThreadPool(8)) {
            assertThat(cache.get("before", () -> "v0")).isEqualTo("v0");

            TestDatabases.execute(db, "DROP TABLE " + table);

            List<Callable<String>> burst = new ArrayList<>();
            for (int i = 0; i < 8; i++)
                burst.add(() -> cache.get("k", () -> {
                    calls.incrementAndGet();
                    Thread.sleep(50);
                    return "v1";
                }));
            List<String> answers = new ArrayList<>();
            for (Future<String> f : pool.invokeAll(burst)) answers.add(f.get()); // throws if any call failed
            assertThat(answers).containsOnly("v1");
            assertThat(calls.get()).as("loader calls for the burst's one key").isEqualTo(1);

            assertThat(TestDatabases.count(db, "SELECT COUNT(*) FROM " + table + " WHERE state = 1"))
                    .as("the answer stored in the table made again")
                    .isEqualTo(1);
            int callsAfterBurst = calls.get();
            assertThat(cache.lookup("k", () -> "never").source()).isEqualTo(CacheResult.Source.HIT);
            assertThat(calls.get()).isEqualTo(callsAfterBurst);
        }
    }

    /**
     * The database restored without the table during an outage: the breaker's probe, back at the database,
     * finds no table. It makes the table again and the breaker closes with its "reachable again" line
     * (helper-59 saw a replica whose probe failed on the missing table close its breaker without one).
     */
    @org.junit.jupiter.api.Test
    void tableDroppedDuringAnOutage_probeMakesItAgain_andSaysCachingResumed() throws Exception {
        Db db = Db.POSTGRES;
        String url = TestDatabases.url(db);
        String table = TestDatabases.newTable("outage");
        com.zaxxer.hikari.HikariConfig config = new com.zaxxer.hikari.HikariConfig();
        try (dev.once.jdbc.testing.FaultProxy relay = dev.once.jdbc.testing.FaultProxy.to(url)) {
            config.setJdbcUrl(relay.url(url));
            config.setMaximumPoolSize(2);
            try (com.zaxxer.hikari.HikariDataSource pool = new com.zaxxer.hikari.HikariDataSource(config);
                    OnceCache<String> cache = OnceCache.builder(pool)
                            .table(table)
                            .codec(Codec.string())
                            .build()) {
                assertThat(cache.get("before", () -> "v0")).isEqualTo("v0");
                List<String> warned = dev.once.jdbc.testing.Warnings.loggedBy(StoreBreaker.class, () -> {
                    relay.refuse();
                    assertThat(cache.lookup("during", () -> "v1").source()).isEqualTo(CacheResult.Source.BYPASS);
                    assertThat(cache.storeAvailable()).isFalse();
                    TestDatabases.execute(db, "DROP TABLE " + table);
                    relay.pass();
                    org.awaitility.Awaitility.await()
                            .atMost(java.time.Duration.ofSeconds(30))
                            .until(cache::storeAvailable);
                });
                assertThat(warned).anySatisfy(w -> assertThat(w).contains(table, "reachable again"));
                assertThat(cache.lookup("after", () -> "v2").source()).isEqualTo(CacheResult.Source.MISS);
                assertThat(cache.lookup("after", () -> "never").source()).isEqualTo(CacheResult.Source.HIT);
            }
        }
    }

    /**
     * The table moved to another schema (an archive, say): the name no longer resolves, so the cache makes
     * its own again where its connection looks. A look in the catalog found the moved one and gave up:
     * helper-59 counted 7,347 of 7,578 requests answered 502, for good.
     */
    @org.junit.jupiter.api.Test
    void tableMovedToAnotherSchema_cacheMakesItsOwnAgain() throws Exception {
        Db db = Db.POSTGRES;
        String table = TestDatabases.newTable("moved");
        String archive = TestDatabases.newTable("archive");
        try (OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(db))
                .table(table)
                .codec(Codec.string())
                .build()) {
            assertThat(cache.get("before", () -> "v0")).isEqualTo("v0");
            TestDatabases.execute(db, "CREATE SCHEMA " + archive, "ALTER TABLE " + table + " SET SCHEMA " + archive);

            assertThat(cache.get("k", () -> "v1")).isEqualTo("v1");
            assertThat(cache.lookup("k", () -> "never").source()).isEqualTo(CacheResult.Source.HIT);
            assertThat(TestDatabases.count(db, "SELECT COUNT(*) FROM " + archive + "." + table))
                    .as("the moved table left as it was")
                    .isEqualTo(1);
        } finally {
            TestDatabases.execute(db, "DROP SCHEMA IF EXISTS " + archive + " CASCADE");
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void tableDropped_cacheToldNotToCreateIt_callsFailNamingTheTable_andItStaysGone(Db db) throws Exception {
        String table = TestDatabases.newTable("gone");
        OnceCache.builder(TestDatabases.shared(db)).table(table).build().close(); // migrations made it
        try (OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(db))
                .table(table)
                .codec(Codec.string())
                .createTable(false)
                .build()) {
            TestDatabases.execute(db, "DROP TABLE " + table);
            assertThatThrownBy(() -> cache.get("k", () -> "v1"))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining(table);
            assertThatThrownBy(() -> TestDatabases.count(db, "SELECT COUNT(*) FROM " + table))
                    .as("the cache made no table it was told not to")
                    .isInstanceOf(java.sql.SQLException.class);
        }
    }
}
