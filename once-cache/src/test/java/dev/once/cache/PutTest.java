package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** {@link OnceCache#put}: an unconditional write that wins over a load in flight, in every process. */
class PutTest {
    private final String ns = TestDatabases.newTable("put");

    private OnceCache<String> cache(Db db) {
        return OnceCache.builder(TestDatabases.shared(db))
                .namespace(ns)
                .codec(Codec.string())
                .nearCache(100)
                .nearCacheMaxAge(Duration.ofMillis(500))
                .build();
    }

    private static final Callable<String> NEVER = () -> {
        throw new AssertionError("the loader ran: the put value was not served");
    };

    /**
     * The regression of the starter's purge-then-claim put: while cache a loads the key (holding the
     * lease, its loader computing an older value), a caller of cache b waits for that load. A put in b
     * must stand: a's write is fenced off, b's waiter does not claim the purged key and load the old
     * value again, and every cache then serves the put value. One loader call in all.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void put_whileAnotherCacheLoads_winsOverTheLoad(Db db) throws Exception {
        AtomicInteger calls = new AtomicInteger();
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (OnceCache<String> a = cache(db);
                OnceCache<String> b = cache(db)) {
            CompletableFuture<String> leading = a.getAsync("k", () -> {
                calls.incrementAndGet();
                loading.countDown();
                release.await();
                return "old";
            });
            assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<String> waiting = b.getAsync("k", () -> {
                calls.incrementAndGet();
                return "old, loaded again";
            });
            Thread.sleep(300); // b's caller has found a's lease and waits

            b.put("k", "new");
            release.countDown();

            assertThat(leading.get(10, TimeUnit.SECONDS)).isEqualTo("old"); // its own caller keeps its value
            assertThat(waiting.get(10, TimeUnit.SECONDS)).isEqualTo("new");
            assertThat(b.get("k", NEVER)).isEqualTo("new");
            assertThat(a.get("k", NEVER)).isEqualTo("new");
            try (OnceCache<String> c = cache(db)) {
                assertThat(c.get("k", NEVER)).isEqualTo("new");
            }
        }
        assertThat(calls).hasValue(1);
    }

    /**
     * A put in the process where the key's load is running: a get after the put returns the put value at
     * once, not after the load it must not join has ended (an attack saw it wait for the whole load, 15 s
     * for a 15 s loader, 20 of 20 rounds on every database).
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void put_whileThisCacheLoads_getAfterItAnswersAtOnce(Db db) throws Exception {
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (OnceCache<String> a = cache(db)) {
            CompletableFuture<String> leading = a.getAsync("k", () -> {
                loading.countDown();
                release.await();
                return "old";
            });
            assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();
            try {
                a.put("k", "new");
                CompletableFuture<String> after = CompletableFuture.supplyAsync(() -> a.get("k", NEVER));
                assertThat(after.get(3, TimeUnit.SECONDS)).isEqualTo("new");
            } finally {
                release.countDown();
            }
            assertThat(leading.get(10, TimeUnit.SECONDS)).isEqualTo("old");
            assertThat(a.get("k", NEVER)).isEqualTo("new");
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void put_absentKey_getReturnsItWithoutLoading(Db db) {
        try (OnceCache<String> a = cache(db);
                OnceCache<String> b = cache(db)) {
            a.put("k", "v");
            assertThat(a.get("k", NEVER)).isEqualTo("v");
            assertThat(b.lookup("k", NEVER)).isEqualTo(new CacheResult<>("v", CacheResult.Source.HIT));
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void put_overFreshValue_replacesItInEveryNearCache(Db db) {
        AtomicInteger calls = new AtomicInteger();
        try (OnceCache<String> a = cache(db);
                OnceCache<String> b = cache(db)) {
            // a listener coming up forgets the near cache: wait for it, so that the near hits below are real
            if (db == Db.POSTGRES) await().atMost(Duration.ofSeconds(10)).until(() -> a.listening() && b.listening());
            assertThat(a.get("k", () -> "v" + calls.incrementAndGet())).isEqualTo("v1");
            assertThat(b.get("k", NEVER)).isEqualTo("v1");
            assertThat(a.nearValue("k")).contains("v1");
            assertThat(b.nearValue("k")).contains("v1");

            b.put("k", "v2");

            assertThat(b.get("k", NEVER)).isEqualTo("v2"); // the putting cache at once
            // PostgreSQL broadcasts the put at once; elsewhere the near entry lives at most nearCacheMaxAge
            await().atMost(Duration.ofSeconds(5)).until(() -> a.get("k", NEVER).equals("v2"));
            assertThat(TestDatabases.count(db, "SELECT COUNT(*) FROM once_entry WHERE namespace = '" + ns + "'"))
                    .isEqualTo(1);
        } catch (java.sql.SQLException e) {
            throw new AssertionError(e);
        }
        assertThat(calls).hasValue(1);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void put_overLimit_refusedAndTheOldValueGone(Db db) {
        try (OnceCache<String> a = OnceCache.builder(TestDatabases.shared(db))
                .namespace(ns)
                .codec(Codec.string())
                .maxValueBytes(16)
                .build()) {
            a.put("k", "small");
            assertThatThrownBy(() -> a.put("k", "x".repeat(17)))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("maxValueBytes");
            assertThat(a.peek("k")).isEmpty(); // the value it was to replace is not served either
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void put_afterClose_refusedLikePurge(Db db) {
        OnceCache<String> a = cache(db);
        a.close();
        assertThatThrownBy(() -> a.put("k", "v"))
                .isInstanceOf(CacheLoadException.class)
                .hasMessage("the cache is closed");
        assertThatThrownBy(() -> a.purge("k"))
                .isInstanceOf(CacheLoadException.class)
                .hasMessage("the cache is closed");
    }
}
