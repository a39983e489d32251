package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Stale-while-revalidate, the near cache and purges across caches, failures shared across caches. */
class FreshnessTest {

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_staleWhileRevalidate_servesStaleWhileExactlyOneRefreshes(Db db) throws Exception {
        AtomicInteger calls = new AtomicInteger();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        String ns = TestDatabases.newTable("ns");
        List<OnceCache<String>> replicas = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            replicas.add(OnceCache.builder(TestDatabases.shared(db))
                    .namespace(ns)
                    .codec(Codec.string())
                    .ttl(Duration.ofMillis(300))
                    .staleWhileRevalidate(Duration.ofMinutes(1))
                    .meterRegistry(registry)
                    .build());
        }
        try {
            assertThat(replicas.get(0).get("k", () -> "v" + calls.incrementAndGet()))
                    .isEqualTo("v1");
            Thread.sleep(400); // expired, inside the stale window
            List<CompletableFuture<String>> gets = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                gets.add(replicas.get(i % 3).getAsync("k", () -> {
                    Thread.sleep(200);
                    return "v" + calls.incrementAndGet();
                }));
            }
            for (CompletableFuture<String> g : gets)
                assertThat(g.get(10, TimeUnit.SECONDS)).isEqualTo("v1");
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> replicas.get(1).get("k", () -> "never").equals("v2"));
            assertThat(calls).hasValue(2); // one load, one refresh, across 3 caches and 30 stale reads
        } finally {
            replicas.forEach(OnceCache::close);
        }
        assertThat(registry.find("once.cache.requests")
                        .tag("result", "stale")
                        .counter()
                        .count())
                .isPositive();
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void nearCache_purgeInOneCache_reachesTheOther(Db db) throws Exception {
        String ns = TestDatabases.newTable("ns");
        AtomicInteger calls = new AtomicInteger();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (OnceCache<String> a = OnceCache.builder(TestDatabases.shared(db))
                        .namespace(ns)
                        .codec(Codec.string())
                        .nearCache(100)
                        .nearCacheMaxAge(Duration.ofMillis(500))
                        .meterRegistry(registry)
                        .build();
                OnceCache<String> b = OnceCache.builder(TestDatabases.shared(db))
                        .namespace(ns)
                        .codec(Codec.string())
                        .nearCache(100)
                        .nearCacheMaxAge(Duration.ofMillis(500))
                        .build()) {
            // a listener coming up forgets the near cache (notifications may have been missed before it): a
            // value put just then is dropped, which this test would read as a missing near hit
            if (db == Db.POSTGRES) await().atMost(Duration.ofSeconds(10)).until(() -> a.listening() && b.listening());
            assertThat(a.get("k", () -> "v" + calls.incrementAndGet())).isEqualTo("v1");
            assertThat(b.get("k", () -> "v" + calls.incrementAndGet())).isEqualTo("v1");
            assertThat(a.get("k", () -> "v" + calls.incrementAndGet())).isEqualTo("v1");
            assertThat(registry.find("once.cache.requests")
                            .tag("result", "near_hit")
                            .counter()
                            .count())
                    .isEqualTo(1);

            b.purge("k");

            // PostgreSQL broadcasts the purge at once; elsewhere the near entry lives at most nearCacheMaxAge
            await().atMost(Duration.ofSeconds(5))
                    .until(() -> a.get("k", () -> "v" + calls.incrementAndGet()).equals("v2"));
        }
        assertThat(calls).hasValue(2);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_leaderInAnotherCacheFails_waiterRetriesAndSucceeds(Db db) throws Exception {
        String ns = TestDatabases.newTable("ns");
        try (OnceCache<String> leader = OnceCache.builder(TestDatabases.shared(db))
                        .namespace(ns)
                        .codec(Codec.string())
                        .build();
                OnceCache<String> waiter = OnceCache.builder(TestDatabases.shared(db))
                        .namespace(ns)
                        .codec(Codec.string())
                        .build()) {
            CompletableFuture<String> failing = leader.getAsync("k", () -> {
                Thread.sleep(300);
                throw new IllegalStateException("upstream 500");
            });
            Thread.sleep(100);
            CompletableFuture<String> waiting = waiter.getAsync("k", () -> "recovered");

            assertThat(waiting.get(10, TimeUnit.SECONDS)).isEqualTo("recovered");
            assertThatThrownBy(() -> failing.get(10, TimeUnit.SECONDS)).hasMessageContaining("upstream 500");
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_loaderFailsEverywhere_everyCallerGetsAClearError(Db db) throws Exception {
        String ns = TestDatabases.newTable("ns");
        AtomicInteger calls = new AtomicInteger();
        List<OnceCache<String>> caches = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            caches.add(OnceCache.builder(TestDatabases.shared(db))
                    .namespace(ns)
                    .codec(Codec.string())
                    .failedRoundsBeforeError(1)
                    .build());
        }
        try {
            List<CompletableFuture<String>> gets = new ArrayList<>();
            for (OnceCache<String> c : caches) {
                gets.add(c.getAsync("k", () -> {
                    calls.incrementAndGet();
                    Thread.sleep(150);
                    throw new IllegalStateException("upstream down");
                }));
            }
            for (CompletableFuture<String> g : gets) {
                assertThatThrownBy(() -> g.get(30, TimeUnit.SECONDS)).hasMessageContaining("upstream down");
            }
        } finally {
            caches.forEach(OnceCache::close);
        }
        assertThat(calls.get()).isBetween(1, 5);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void close_whileLeading_releasesTheClaimSoOthersTakeOverAtOnce(Db db) throws Exception {
        String ns = TestDatabases.newTable("ns");
        OnceCache<String> leaving = OnceCache.builder(TestDatabases.shared(db))
                .namespace(ns)
                .codec(Codec.string())
                .lease(Duration.ofSeconds(30))
                .build();
        try (OnceCache<String> staying = OnceCache.builder(TestDatabases.shared(db))
                .namespace(ns)
                .codec(Codec.string())
                .lease(Duration.ofSeconds(30))
                .build()) {
            leaving.getAsync("k", () -> {
                Thread.sleep(20_000);
                return "abandoned";
            });
            Thread.sleep(300);
            CompletableFuture<String> waiter = staying.getAsync("k", () -> "taken over");
            Thread.sleep(300);
            assertThat(waiter).isNotDone();
            long closed = System.nanoTime();
            leaving.close();
            assertThat(waiter.get(10, TimeUnit.SECONDS)).isEqualTo("taken over");
            assertThat((System.nanoTime() - closed) / 1_000_000).isLessThan(10_000); // not the 30 s lease
        }
    }

    /**
     * A purge of a key another process is loading: that load's write is fenced off with the row, so the
     * processes waiting for it read again at once and load anew, instead of sleeping on a notification
     * that will never come until the 1 s safety net. PostgreSQL: the only store that broadcasts purges.
     */
    @org.junit.jupiter.api.Test
    void purge_whileAnotherProcessLoads_itsWaitersLoadAnewAtOnce() throws Exception {
        String ns = TestDatabases.newTable("ns");
        java.util.function.Supplier<OnceCache<String>> replica =
                () -> OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                        .namespace(ns)
                        .codec(Codec.string())
                        .lease(Duration.ofSeconds(30))
                        .build();
        try (OnceCache<String> leading = replica.get();
                OnceCache<String> waiting = replica.get()) {
            java.util.concurrent.CountDownLatch loading = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            CompletableFuture<CacheResult<String>> lead = CompletableFuture.supplyAsync(
                    () -> leading.lookup("k", () -> {
                        loading.countDown();
                        release.await();
                        return "purged before it was stored";
                    }),
                    r -> Thread.ofPlatform().start(r));
            assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<String> waiter = waiting.getAsync("k", () -> "loaded after the purge");
            Thread.sleep(200); // the waiter reads the lease and waits (had it not, it would claim after the purge)
            assertThat(waiter).isNotDone();
            long purged = System.nanoTime();
            leading.purge("k");
            assertThat(waiter.get(10, TimeUnit.SECONDS)).isEqualTo("loaded after the purge");
            long waitedMillis = (System.nanoTime() - purged) / 1_000_000;
            release.countDown();
            assertThat(lead.get(10, TimeUnit.SECONDS).value()).isEqualTo("purged before it was stored");
            assertThat(waiting.get("k", () -> "never")).isEqualTo("loaded after the purge"); // not overwritten
            // woken by the purge, not by the safety net a second after the wait began
            assertThat(waitedMillis)
                    .as("ms from the purge to the waiter's answer")
                    .isLessThan(600);
        }
    }

    /**
     * A purge in this process while other callers here keep reading the key: once purge() has returned,
     * no caller gets the purged value. Found by an attack on once serve (issue 12): a reader that missed
     * the near cache just after it was cleared read the row before the delete, and put the old value
     * back, which then served for up to nearCacheMaxAge (SQLite: no broadcast to clear it again). And a
     * caller after the purge joined a resolution here that had read the row before the delete, and got
     * the purged value once (up to 7 of 300 answers in a run).
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void purge_whileThisProcessReadsTheKey_purgedValueNeverServedAfterward(Db db) throws Exception {
        java.util.concurrent.atomic.AtomicReference<String> current =
                new java.util.concurrent.atomic.AtomicReference<>();
        int stale = 0;
        try (OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(db))
                        .namespace(TestDatabases.newTable("ns"))
                        .codec(Codec.string())
                        .nearCache(100)
                        .nearCacheMaxAge(Duration.ofSeconds(2))
                        .build();
                var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (int round = 0; round < 30; round++) {
                String key = "k" + round;
                current.set("old-" + round);
                assertThat(cache.get(key, current::get)).isEqualTo("old-" + round);
                java.util.concurrent.atomic.AtomicBoolean reading = new java.util.concurrent.atomic.AtomicBoolean(true);
                List<java.util.concurrent.Future<?>> readers = new ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    readers.add(threads.submit(() -> {
                        while (reading.get()) cache.get(key, current::get);
                        return null;
                    }));
                }
                Thread.sleep(5);
                current.set("new-" + round);
                cache.purge(key);
                for (int i = 0; i < 10; i++) {
                    CacheResult<String> got = cache.lookup(key, current::get);
                    if (!got.value().equals("new-" + round)) {
                        System.out.println("STALE round " + round + " read " + i + ": " + got);
                        stale++; // from the near cache, or from a resolution begun before the purge
                    }
                    Thread.sleep(2);
                }
                reading.set(false);
                for (var r : readers) r.get(10, TimeUnit.SECONDS);
            }
        }
        // Before the fixes: 18 and 180 stale answers of 300 on two of the databases, put back into the near
        // cache by readers that read the row before the delete; then up to 7, joined.
        assertThat(stale).as("purged values served after purge() returned").isZero();
    }
}
