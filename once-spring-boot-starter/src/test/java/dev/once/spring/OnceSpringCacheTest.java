package dev.once.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import dev.once.spring.values.Quote;
import java.io.IOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.cache.Cache;
import org.springframework.cache.interceptor.SimpleKey;

/** Spring's Cache contract, on real databases. */
class OnceSpringCacheTest {
    private final String table = TestDatabases.newTable("spring");
    private final Quote aapl = new Quote("AAPL", new BigDecimal("187.25"), Instant.parse("2026-01-02T03:04:05Z"));

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE", "POSTGRES"})
    void get_withLoader_sixteenThreadsOneCallThenHits(Db db) throws Exception {
        try (OnceCacheManager m = SpringCaches.manager(db, table, b -> {})) {
            OnceSpringCache c = m.getCache("quotes");
            AtomicInteger calls = new AtomicInteger();
            CountDownLatch go = new CountDownLatch(1);
            List<CompletableFuture<Quote>> answers = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                answers.add(CompletableFuture.supplyAsync(
                        () -> {
                            await(go);
                            return c.get(new SimpleKey("AAPL", 1), () -> {
                                calls.incrementAndGet();
                                Thread.sleep(200);
                                return aapl;
                            });
                        },
                        Thread::startVirtualThread));
            }
            go.countDown();
            for (CompletableFuture<Quote> a : answers)
                assertThat(a.get(30, TimeUnit.SECONDS)).isEqualTo(aapl);
            assertThat(calls).hasValue(1);
            assertThat(c.get(new SimpleKey("AAPL", 1)).get()).isEqualTo(aapl);
            assertThat(c.get(new SimpleKey("AAPL", 1), Quote.class)).isEqualTo(aapl);
            assertThatThrownBy(() -> c.get(new SimpleKey("AAPL", 1), String.class))
                    .isInstanceOf(IllegalStateException.class);
            assertThat(c.get(new SimpleKey("AAPL", 2))).isNull();
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE", "POSTGRES"})
    void retrieve_withLoader_concurrentCallersOneCall(Db db) throws Exception {
        try (OnceCacheManager m = SpringCaches.manager(db, table, b -> {})) {
            OnceSpringCache c = m.getCache("quotes");
            AtomicInteger calls = new AtomicInteger();
            List<CompletableFuture<Quote>> answers = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                answers.add(c.retrieve("AAPL", () -> {
                    calls.incrementAndGet();
                    return CompletableFuture.supplyAsync(
                            () -> {
                                sleep(200);
                                return aapl;
                            },
                            Thread::startVirtualThread);
                }));
            }
            for (CompletableFuture<Quote> a : answers)
                assertThat(a.get(30, TimeUnit.SECONDS)).isEqualTo(aapl);
            assertThat(calls).hasValue(1);
            assertThat(c.retrieve("AAPL").get(10, TimeUnit.SECONDS))
                    .isInstanceOfSatisfying(
                            Cache.ValueWrapper.class, w -> assertThat(w.get()).isEqualTo(aapl));
            assertThat(c.retrieve("MSFT").get(10, TimeUnit.SECONDS)).isNull();

            CompletableFuture<Object> failed =
                    c.retrieve("BAD", () -> CompletableFuture.failedFuture(new IOException("upstream 503")));
            assertThatThrownBy(() -> failed.get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .cause()
                    .isInstanceOf(IOException.class)
                    .hasMessage("upstream 503");
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE", "POSTGRES"})
    void putEvictClear_springSemantics(Db db) throws Exception {
        try (OnceCacheManager m = SpringCaches.manager(db, table, b -> {})) {
            OnceSpringCache c = m.getCache("quotes");
            c.put("k", "v1");
            assertThat(c.get("k").get()).isEqualTo("v1");
            c.put("k", "v2"); // replaces
            assertThat(c.get("k").get()).isEqualTo("v2");
            assertThat(c.get("k", () -> "loaded")).isEqualTo("v2");

            assertThat(c.putIfAbsent("k", "v3").get()).isEqualTo("v2"); // present: the old value, unchanged
            assertThat(c.get("k").get()).isEqualTo("v2");
            assertThat(c.putIfAbsent("new", "v4")).isNull(); // absent: stored, null returned
            assertThat(c.get("new").get()).isEqualTo("v4");

            assertThat(c.evictIfPresent("k")).isTrue();
            assertThat(c.evictIfPresent("k")).isFalse();
            assertThat(c.get("k")).isNull();
            c.evict("new");
            assertThat(c.get("new")).isNull();

            c.put(1, List.of(aapl, aapl));
            c.put(2, Map.of("AAPL", aapl));
            c.put(3, 42L);
            c.put(5, Instant.parse("2026-01-02T03:04:05.123Z"));
            assertThat(c.get(5).get()).isEqualTo(Instant.parse("2026-01-02T03:04:05.123Z"));
            assertThat(c.get(1).get()).isEqualTo(List.of(aapl, aapl));
            assertThat(c.get(2).get()).isEqualTo(Map.of("AAPL", aapl));
            assertThat(c.get(3).get()).isEqualTo(42L);

            OnceSpringCache other = m.getCache("other");
            other.put(1, "kept");
            c.clear();
            assertThat(c.get(1)).isNull();
            assertThat(c.get(2)).isNull();
            assertThat(other.get(1).get()).isEqualTo("kept"); // another cache's keys stay
            c.put(4, "x");
            c.invalidate();
            assertThat(c.get(4)).isNull();
        }
    }

    /**
     * {@code @CachePut} while another replica loads the key: the put stands. Its earlier form, purge then
     * claim, lost to a caller that waited for the load, claimed the purged key and loaded the old value.
     */
    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE", "POSTGRES"})
    void put_whileAnotherReplicaLoads_thePutValueStands(Db db) throws Exception {
        try (OnceCacheManager m1 = SpringCaches.manager(db, table, b -> {});
                OnceCacheManager m2 = SpringCaches.manager(db, table, b -> {})) {
            OnceSpringCache c1 = m1.getCache("quotes");
            OnceSpringCache c2 = m2.getCache("quotes");
            AtomicInteger calls = new AtomicInteger();
            CountDownLatch loading = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<String> leading = CompletableFuture.supplyAsync(
                    () -> c1.get("k", () -> {
                        calls.incrementAndGet();
                        loading.countDown();
                        await(release);
                        return "old";
                    }),
                    Thread::startVirtualThread);
            assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<String> waiting = CompletableFuture.supplyAsync(
                    () -> c2.get("k", () -> {
                        calls.incrementAndGet();
                        return "old, loaded again";
                    }),
                    Thread::startVirtualThread);
            sleep(300); // c2's caller waits for c1's load

            c2.put("k", "new");
            release.countDown();

            assertThat(leading.get(10, TimeUnit.SECONDS)).isEqualTo("old");
            assertThat(waiting.get(10, TimeUnit.SECONDS)).isEqualTo("new");
            assertThat(c2.get("k").get()).isEqualTo("new");
            assertThat(c1.get("k").get()).isEqualTo("new");
            assertThat(calls).hasValue(1);

            c1.put("k", "newer"); // and across managers without a load in flight
            assertThat(c2.get("k", () -> "loaded")).isEqualTo("newer");
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE"})
    void nullValues_cachedWhenAllowedRefusedOtherwise(Db db) throws Exception {
        try (OnceCacheManager m = SpringCaches.manager(db, table, b -> {})) {
            OnceSpringCache c = m.getCache("nulls");
            AtomicInteger calls = new AtomicInteger();
            assertThat((Object) c.get("k", () -> {
                        calls.incrementAndGet();
                        return null;
                    }))
                    .isNull();
            assertThat((Object) c.get("k", () -> {
                        calls.incrementAndGet();
                        return "not called";
                    }))
                    .isNull();
            assertThat(calls).hasValue(1);
            Cache.ValueWrapper w = c.get("k");
            assertThat(w).isNotNull();
            assertThat(w.get()).isNull();
        }
        try (OnceCacheManager m = SpringCaches.manager(db, table, b -> b.allowNullValues(false))) {
            OnceSpringCache c = m.getCache("strict");
            assertThatThrownBy(() -> c.get("k", () -> null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("Cache 'strict' is configured to not allow null values");
            assertThat(c.get("k")).isNull();
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE"})
    void get_loaderThrows_valueRetrievalExceptionWithTheCause(Db db) {
        try (OnceCacheManager m = SpringCaches.manager(db, table, b -> {})) {
            OnceSpringCache c = m.getCache("quotes");
            assertThatThrownBy(() -> c.get("k", () -> {
                        throw new IOException("upstream 503");
                    }))
                    .isInstanceOf(Cache.ValueRetrievalException.class)
                    .cause()
                    .isInstanceOf(IOException.class)
                    .hasMessage("upstream 503");
            assertThat(c.get("k", () -> "then it works")).isEqualTo("then it works");
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE"})
    void getCache_notDynamic_onlyTheNamedCaches(Db db) {
        try (OnceCacheManager m =
                SpringCaches.manager(db, table, b -> b.dynamic(false).cacheNames("a", "b"))) {
            assertThat(m.getCacheNames()).containsExactlyInAnyOrder("a", "b");
            assertThat(m.getCache("a")).isNotNull();
            assertThat(m.getCache("c")).isNull();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
