package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class OnceCacheTest {

    static OnceCacheBuilder<String> builder(Db db, SimpleMeterRegistry registry) {
        return OnceCache.builder(TestDatabases.shared(db))
                .namespace(TestDatabases.newTable("ns"))
                .codec(Codec.string())
                .meterRegistry(registry);
    }

    /** The cache table's statements on their own, for tests that play a leader or a janitor by hand. */
    static EntryStore store(Db db, String namespace) throws SQLException {
        OnceCache.builder(TestDatabases.shared(db)).build().close(); // the table exists
        try (var c = TestDatabases.connect(db)) {
            return new EntryStore(
                    TestDatabases.shared(db),
                    StoreDialect.of(c),
                    "once_entry",
                    namespace,
                    null,
                    false,
                    null,
                    new StoreBreaker(dev.once.jdbc.SqlErrors.of(c), 5_000, "once_entry", 8));
        }
    }

    static double count(SimpleMeterRegistry r, String name, String tag, String value) {
        var c = r.find(name).tag(tag, value).counter();
        return c == null ? 0 : c.count();
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_absentThenPresent_loaderOnceThenHit(Db db) {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AtomicInteger calls = new AtomicInteger();
        try (OnceCache<String> cache = builder(db, registry).build()) {
            assertThat(cache.get("AAPL", () -> "v" + calls.incrementAndGet())).isEqualTo("v1");
            assertThat(cache.get("AAPL", () -> "v" + calls.incrementAndGet())).isEqualTo("v1");
            assertThat(cache.get("MSFT", () -> "v" + calls.incrementAndGet())).isEqualTo("v2");
        }
        assertThat(calls).hasValue(2);
        assertThat(count(registry, "once.cache.requests", "result", "hit")).isEqualTo(1);
        assertThat(count(registry, "once.cache.requests", "result", "miss")).isEqualTo(2);
        assertThat(count(registry, "once.cache.loads", "outcome", "success")).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_manyThreadsOneKey_oneLoaderCall(Db db) throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AtomicInteger calls = new AtomicInteger();
        List<String> results;
        try (OnceCache<String> cache = builder(db, registry).build()) {
            results = sixteenThreadsAtOnce(cache, () -> {
                Thread.sleep(100);
                return "v" + calls.incrementAndGet();
            });
        }
        assertThat(calls).hasValue(1);
        assertThat(results).hasSize(16).containsOnly("v1");
    }

    /** Sixteen threads released together ask for key "k"; their answers. */
    static List<String> sixteenThreadsAtOnce(OnceCache<String> cache, java.util.concurrent.Callable<String> loader)
            throws InterruptedException {
        List<String> results = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    results.add(cache.get("k", loader));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        start.countDown();
        for (Thread t : threads) t.join(60_000);
        return results;
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_afterTtl_reloads(Db db) throws Exception {
        AtomicInteger calls = new AtomicInteger();
        try (OnceCache<String> cache = builder(db, new SimpleMeterRegistry())
                .ttl(Duration.ofMillis(300))
                .build()) {
            assertThat(cache.get("k", () -> "v" + calls.incrementAndGet())).isEqualTo("v1");
            Thread.sleep(400);
            assertThat(cache.get("k", () -> "v" + calls.incrementAndGet())).isEqualTo("v2");
        }
        assertThat(calls).hasValue(2);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void purge_key_reloadsOnlyThatKey(Db db) {
        AtomicInteger calls = new AtomicInteger();
        try (OnceCache<String> cache = builder(db, new SimpleMeterRegistry()).build()) {
            cache.get("a", () -> "a" + calls.incrementAndGet());
            cache.get("b", () -> "b" + calls.incrementAndGet());
            cache.purge("a");
            assertThat(cache.get("a", () -> "a" + calls.incrementAndGet())).isEqualTo("a3");
            assertThat(cache.get("b", () -> "b" + calls.incrementAndGet())).isEqualTo("b2");
            cache.purgeAll();
            assertThat(cache.get("b", () -> "b" + calls.incrementAndGet())).isEqualTo("b4");
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_loaderFails_notCachedByDefault(Db db) {
        AtomicInteger calls = new AtomicInteger();
        try (OnceCache<String> cache = builder(db, new SimpleMeterRegistry()).build()) {
            assertThatThrownBy(() -> cache.get("k", () -> {
                        calls.incrementAndGet();
                        throw new IllegalStateException("upstream 503");
                    }))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("upstream 503");
            assertThat(cache.get("k", () -> "v" + calls.incrementAndGet())).isEqualTo("v2");
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_negativeTtl_failureCachedWithoutCallingLoader(Db db) {
        AtomicInteger calls = new AtomicInteger();
        try (OnceCache<String> cache = builder(db, new SimpleMeterRegistry())
                .negativeTtl(Duration.ofMinutes(1))
                .build()) {
            assertThatThrownBy(() -> cache.get("k", () -> {
                        calls.incrementAndGet();
                        throw new IllegalStateException("not found upstream");
                    }))
                    .isInstanceOf(CacheLoadException.class);
            assertThatThrownBy(() -> cache.get("k", () -> "v" + calls.incrementAndGet()))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("cached failure")
                    .hasMessageContaining("not found upstream");
        }
        assertThat(calls).hasValue(1);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_valueOverLimit_clearErrorAndNotStored(Db db) {
        try (OnceCache<String> cache =
                builder(db, new SimpleMeterRegistry()).maxValueBytes(10).build()) {
            assertThatThrownBy(() -> cache.get("k", () -> "x".repeat(11)))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("is 11 bytes, over the cache's limit of 10 (maxValueBytes)");
            assertThat(cache.get("k", () -> "small")).isEqualTo("small");
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_hits_neverWrite(Db db) throws SQLException {
        String ns = TestDatabases.newTable("ns");
        try (OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(db))
                .namespace(ns)
                .codec(Codec.string())
                .build()) {
            cache.get("k", () -> "v");
            long updated = TestDatabases.count(db, "SELECT updated_at FROM once_entry WHERE namespace = '" + ns + "'");
            long version = db == Db.POSTGRES ? xmin(ns) : 0;
            for (int i = 0; i < 50; i++) cache.get("k", () -> "other");
            assertThat(TestDatabases.count(db, "SELECT updated_at FROM once_entry WHERE namespace = '" + ns + "'"))
                    .isEqualTo(updated);
            if (db == Db.POSTGRES) assertThat(xmin(ns)).isEqualTo(version); // no new row version at all
        }
    }

    /**
     * A hit needs no write access on PostgreSQL: it is served while another session holds the table in
     * SHARE mode (as a CREATE INDEX without CONCURRENTLY does) and on connections that are read-only (a
     * standby, a full disk's read-only default). A first look that also held a claim's INSERT, even one
     * that ran no row, took ROW EXCLUSIVE on the table and failed both: a hit then counted as an outage
     * and every process called the loader for a fresh key (a reviewer's finding, before it landed).
     */
    @Test
    void get_hit_postgres_needsNoWriteAccess() throws Exception {
        String ns = TestDatabases.newTable("ns");
        java.util.concurrent.atomic.AtomicInteger loads = new java.util.concurrent.atomic.AtomicInteger();
        try (OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                .namespace(ns)
                .codec(Codec.string())
                .nearCache(0)
                .storeTimeout(Duration.ofSeconds(1))
                .build()) {
            cache.get("k", () -> "v" + loads.incrementAndGet());
            try (var locker = TestDatabases.connect(Db.POSTGRES);
                    var s = locker.createStatement()) {
                locker.setAutoCommit(false);
                s.execute("LOCK TABLE once_entry IN SHARE MODE");
                CacheResult<String> hit = cache.lookup("k", () -> "v" + loads.incrementAndGet());
                locker.rollback();
                assertThat(hit).isEqualTo(new CacheResult<>("v1", CacheResult.Source.HIT));
            }
            assertThat(cache.storeAvailable()).as("the breaker stayed closed").isTrue();
        }
        try (var readOnly = TestDatabases.pool(Db.POSTGRES, 2, java.sql.Connection.TRANSACTION_READ_COMMITTED)) {
            javax.sql.DataSource ds = Delegating.dataSource(readOnly, c -> {
                try (var st = c.createStatement()) {
                    st.execute("SET SESSION default_transaction_read_only = on");
                }
            });
            try (OnceCache<String> cache = OnceCache.builder(ds)
                    .namespace(ns)
                    .codec(Codec.string())
                    .nearCache(0)
                    .notify(false)
                    .build()) {
                assertThat(cache.lookup("k", () -> "v" + loads.incrementAndGet()))
                        .isEqualTo(new CacheResult<>("v1", CacheResult.Source.HIT));
            }
        }
        assertThat(loads).as("loader calls").hasValue(1);
    }

    private static long xmin(String ns) throws SQLException {
        return TestDatabases.count(
                Db.POSTGRES, "SELECT xmin::text::bigint FROM once_entry WHERE namespace = '" + ns + "'");
    }

    @Test
    void codec_json_roundTripsGenericTypes() {
        try (OnceCache<Map<String, List<Integer>>> cache = OnceCache.builder(TestDatabases.shared(Db.SQLITE))
                .namespace(TestDatabases.newTable("ns"))
                .codec(Codec.json(new TypeReference<Map<String, List<Integer>>>() {}))
                .build()) {
            Map<String, List<Integer>> v = Map.of("a", List.of(1, 2));
            assertThat(cache.get("k", () -> v)).isEqualTo(v);
            assertThat(cache.get("k", () -> Map.of())).isEqualTo(v);
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void store_leaderWhoseLeaseWasTakenOver_cannotOverwrite(Db db) throws Exception {
        String ns = TestDatabases.newTable("ns");
        try (OnceCache<String> ignored = OnceCache.builder(TestDatabases.shared(db))
                .namespace(ns)
                .codec(Codec.string())
                .build()) {
            var store = store(db, ns);
            String hash = KeyHash.of(ns, "k");
            // a lease long enough to outlast a connection the shared pool may have to open (it keeps none idle)
            assertThat(store.claim(hash, "k", "old-leader", 300)).isTrue();
            assertThat(store.claim(hash, "k", "new-leader", 5_000)).isFalse(); // lease still live
            Thread.sleep(400);
            assertThat(store.claim(hash, "k", "new-leader", 5_000)).isTrue(); // lapsed: taken over
            assertThat(store.complete(hash, "new-leader", Entry.READY, "new".getBytes(), null, 60_000))
                    .isTrue();
            assertThat(store.complete(hash, "old-leader", Entry.READY, "old".getBytes(), null, 60_000))
                    .isFalse();
            assertThat(store.renew(hash, "old-leader", 5_000)).isFalse();
            assertThat(new String(store.read(hash).value())).isEqualTo("new");
            assertThat(store.claim(hash, "k", "third", 5_000)).isFalse(); // a fresh value is not claimable
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void build_manyReplicasAtOnce_createTheTableOnce(Db db) throws Exception {
        String table = TestDatabases.newTable("cache");
        List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    OnceCache.builder(TestDatabases.shared(db))
                            .table(table)
                            .build()
                            .close();
                } catch (Throwable e) {
                    errors.add(e);
                }
            }));
        }
        start.countDown();
        for (Thread t : threads) t.join();
        assertThat(errors).isEmpty();
        assertThat(TestDatabases.count(db, "SELECT COUNT(*) FROM " + table)).isZero();
    }

    @Test
    void writes_asynchronousCommitStaysInTheirOwnTransaction() throws Exception {
        // One pooled connection, so the cache's claim and value write run on the one we then inspect.
        var config = new com.zaxxer.hikari.HikariConfig();
        config.setJdbcUrl(TestDatabases.url(Db.POSTGRES));
        config.setMaximumPoolSize(1);
        config.setConnectionInitSql("SET synchronous_commit = on"); // the embedded server's default is off
        try (var pool = new com.zaxxer.hikari.HikariDataSource(config);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace(TestDatabases.newTable("ns"))
                        .codec(Codec.string())
                        .build()) {
            assertThat(cache.lookup("k", () -> "v").source()).isEqualTo(CacheResult.Source.MISS);
            try (var c = pool.getConnection();
                    var st = c.createStatement();
                    var rs = st.executeQuery("SHOW synchronous_commit")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("on"); // the application's transactions keep their durability
            }
        }
    }

    /**
     * helper-64: put ran with synchronous_commit off like the loads' writes, so a crash before the WAL
     * flush could undo an acknowledged put and serve the value it replaced as a fresh hit. A trigger
     * records the setting each write of the table ran under: the put's must be on (the connection's
     * setting), a loaded value's may be off (losing it costs a reload).
     */
    @Test
    void put_commitsSynchronously_loadedValuesMayNot() throws Exception {
        String table = TestDatabases.newTable("sync");
        var config = new com.zaxxer.hikari.HikariConfig();
        config.setJdbcUrl(TestDatabases.url(Db.POSTGRES));
        config.setMaximumPoolSize(2);
        config.setConnectionInitSql("SET synchronous_commit = on"); // the embedded server's default is off
        try (var pool = new com.zaxxer.hikari.HikariDataSource(config);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .table(table)
                        .namespace(TestDatabases.newTable("ns"))
                        .codec(Codec.string())
                        .build()) {
            TestDatabases.execute(
                    Db.POSTGRES,
                    "CREATE TABLE " + table + "_writes (value TEXT, sync TEXT)",
                    "CREATE FUNCTION " + table + "_record() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO "
                            + table + "_writes VALUES (convert_from(NEW.value, 'UTF8'),"
                            + " current_setting('synchronous_commit')); RETURN NEW; END $$",
                    "CREATE TRIGGER " + table + "_record AFTER INSERT OR UPDATE ON " + table
                            + " FOR EACH ROW EXECUTE FUNCTION " + table + "_record()");
            assertThat(cache.get("loaded", () -> "loaded value")).isEqualTo("loaded value");
            cache.put("put", "put value");
            cache.put("loaded", "put over the loaded value"); // the update of an existing row
            assertThat(TestDatabases.count(
                            Db.POSTGRES,
                            "SELECT COUNT(*) FROM " + table + "_writes WHERE value = 'loaded value' AND sync = 'off'"))
                    .as("the loaded value's write, asynchronous")
                    .isEqualTo(1);
            assertThat(TestDatabases.count(
                            Db.POSTGRES,
                            "SELECT COUNT(*) FROM " + table + "_writes WHERE value LIKE 'put %' AND sync = 'on'"))
                    .as("puts committed synchronously")
                    .isEqualTo(2);
            assertThat(TestDatabases.count(
                            Db.POSTGRES, "SELECT COUNT(*) FROM " + table + "_writes WHERE value LIKE 'put %'"))
                    .isEqualTo(2);
        }
    }
}
