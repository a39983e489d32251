package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import dev.once.jdbc.testing.Warnings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A burst of callers far over the connection pool, on virtual threads, as a proxy sees it when many new
 * keys arrive at once: the pool is local contention, not a database outage. Every key still costs one
 * loader call, nobody fails open, and the process is idle afterwards (no connection-pool spin).
 */
class BurstTest {
    /**
     * The same burst with a store timeout shorter than the wait for a connection: the breaker opens and
     * callers fail open, which is the documented trade; but once the burst is over the store must be
     * found again (a caller interrupted in the pool's wait must not leave the pool spinning or short).
     */
    @Test
    void get_burstThatTripsTheBreaker_storeAvailableAgainAfterwards() throws Exception {
        try (HikariDataSource pool = TestDatabases.pool(Db.POSTGRES, 2, Connection.TRANSACTION_READ_COMMITTED);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace(TestDatabases.newTable("burst"))
                        .codec(Codec.string())
                        .storeTimeout(java.time.Duration.ofMillis(20))
                        .build();
                ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<String>> answers = new ArrayList<>();
            for (int k = 0; k < 100; k++) {
                String key = "k" + k;
                for (int i = 0; i < 10; i++) {
                    answers.add(threads.submit(() -> {
                        go.await();
                        return cache.get(key, () -> {
                            Thread.sleep(100);
                            return "value of " + key;
                        });
                    }));
                }
            }
            go.countDown();
            for (int j = 0; j < answers.size(); j++) {
                assertThat(answers.get(j).get(60, TimeUnit.SECONDS)).isEqualTo("value of k" + (j / 10));
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!cache.storeAvailable() && System.nanoTime() < end) Thread.sleep(50);
            var mx = pool.getHikariPoolMXBean();
            assertThat(cache.storeAvailable())
                    .as(
                            "store found again within 30 s (%s; pool: %d active, %d idle, %d waiting)",
                            ((SqlOnceCache<String>) cache).storeState(),
                            mx.getActiveConnections(),
                            mx.getIdleConnections(),
                            mx.getThreadsAwaitingConnection())
                    .isTrue();
            assertThat(cache.get("after", () -> "loaded")).isEqualTo("loaded");
            assertThat(pool.getHikariPoolMXBean().getThreadsAwaitingConnection())
                    .isZero();
        }
    }

    /**
     * The cache's own limit on statements at once (8 by default) must not exceed the HikariCP pool it is
     * given: its callers then queue for a slot in the cache, not inside the pool. HikariCP 7.1.0 hands a
     * returned connection to a caller waiting in the pool by spinning until one takes it; with virtual
     * threads on two cores those spins held both carriers for 100 s at a time (a thread dump of this
     * class's burst on a pool of 2: three returns spinning, the callers they waited for never run).
     */
    @Test
    void get_burstOnAPoolSmallerThanTheCachesLimit_noMoreCallersInThePoolThanConnections() throws Exception {
        try (HikariDataSource pool = TestDatabases.pool(Db.POSTGRES, 2, Connection.TRANSACTION_READ_COMMITTED);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace(TestDatabases.newTable("burst"))
                        .codec(Codec.string())
                        .build()) {
            // HikariCP counts a caller as waiting from the moment it looks through the free connections, so
            // a caller that finds one at once may be seen: at most one per connection (7 before the cap)
            assertThat(mostInThePoolsWait(pool, 2, List.of(cache), 40, 5))
                    .as("callers inside the pool's wait at once")
                    .isLessThanOrEqualTo(2);
        }
    }

    /**
     * Caches on one HikariCP pool (a proxy builds one per route) share its connections as statement slots:
     * each alone capped at the pool's size let two caches put twice as many callers into the pool's wait.
     * Reads queued in one cache are handed slots that the other's statements free.
     */
    @Test
    void get_burstOnTwoCachesSharingAPool_noMoreCallersInThePoolThanConnections() throws Exception {
        try (HikariDataSource pool = TestDatabases.pool(Db.POSTGRES, 3, Connection.TRANSACTION_READ_COMMITTED);
                OnceCache<String> a = OnceCache.builder(pool)
                        .namespace(TestDatabases.newTable("burst"))
                        .codec(Codec.string())
                        .build();
                OnceCache<String> b = OnceCache.builder(pool)
                        .namespace(TestDatabases.newTable("burst"))
                        .codec(Codec.string())
                        .build()) {
            assertThat(mostInThePoolsWait(pool, 3, List.of(a, b), 30, 5))
                    .as("callers inside the pool's wait at once (4 with a limit per cache)")
                    .isLessThanOrEqualTo(3);
        }
    }

    /**
     * A burst of {@code perKey} callers for each of {@code keys} new keys on each cache, every connection of
     * the pool open first; asserts one load per key and every answer, and returns the most callers seen
     * inside the pool's wait at once (sampled every 0.1 ms).
     */
    private static int mostInThePoolsWait(
            HikariDataSource pool, int connections, List<OnceCache<String>> caches, int keys, int perKey)
            throws Exception {
        List<Connection> open = new ArrayList<>();
        try {
            for (int i = 0; i < connections; i++) open.add(pool.getConnection());
        } finally {
            for (Connection c : open) c.close();
        }
        AtomicInteger most = new AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean burst = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread sampler = Thread.ofPlatform().start(() -> {
            while (burst.get()) {
                most.accumulateAndGet(pool.getHikariPoolMXBean().getThreadsAwaitingConnection(), Math::max);
                java.util.concurrent.locks.LockSupport.parkNanos(100_000);
            }
        });
        ConcurrentHashMap<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<String>> answers = new ArrayList<>();
            List<String> expected = new ArrayList<>();
            for (int k = 0; k < keys; k++) {
                for (int c = 0; c < caches.size(); c++) {
                    OnceCache<String> cache = caches.get(c);
                    String key = "c" + c + "-k" + k;
                    for (int i = 0; i < perKey; i++) {
                        expected.add("value of " + key);
                        answers.add(threads.submit(() -> {
                            go.await();
                            return cache.get(key, () -> {
                                calls.computeIfAbsent(key, x -> new AtomicInteger())
                                        .incrementAndGet();
                                Thread.sleep(20);
                                return "value of " + key;
                            });
                        }));
                    }
                }
            }
            go.countDown();
            for (int j = 0; j < answers.size(); j++) {
                assertThat(answers.get(j).get(60, TimeUnit.SECONDS)).isEqualTo(expected.get(j));
            }
        } finally {
            burst.set(false);
            sampler.join();
        }
        assertThat(calls).hasSize(keys * caches.size());
        assertThat(calls.values()).allSatisfy(c -> assertThat(c.get()).isEqualTo(1));
        return most.get();
    }

    /** Set above the pool's size, the limit is the pool's, and the operator is told; left at its default, not. */
    @Test
    void build_maxConnectionsAboveTheHikariPool_warnsOnlyWhenSet() throws Exception {
        String set = TestDatabases.newTable("burst");
        String unset = TestDatabases.newTable("burst");
        List<String> warnings = Warnings.loggedBy(SqlOnceCache.class, () -> {
                    try (HikariDataSource pool =
                                    TestDatabases.pool(Db.POSTGRES, 3, Connection.TRANSACTION_READ_COMMITTED);
                            OnceCache<String> a = OnceCache.builder(pool)
                                    .namespace(set)
                                    .codec(Codec.string())
                                    .maxConnections(20)
                                    .build();
                            OnceCache<String> b = OnceCache.builder(pool)
                                    .namespace(unset)
                                    .codec(Codec.string())
                                    .build()) {
                        assertThat(a.get("k", () -> "v")).isEqualTo("v");
                        assertThat(b.get("k", () -> "v")).isEqualTo("v");
                    }
                })
                .stream()
                .filter(m -> m.contains("maxConnections"))
                .toList();
        assertThat(warnings).hasSize(1);
        assertThat(warnings.get(0))
                .contains("maxConnections 20", set, "pool's 3 connections", "at most 3 statements")
                .doesNotContain(unset);
    }

    @Test
    void get_burstOfVirtualThreadsFarOverThePool_oneLoadPerKeyAndNoFailOpen() throws Exception {
        int keys = 60;
        int perKey = 10;
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        ConcurrentHashMap<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        try (HikariDataSource pool = TestDatabases.pool(Db.POSTGRES, 4, Connection.TRANSACTION_READ_COMMITTED);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace(TestDatabases.newTable("burst"))
                        .codec(Codec.string())
                        .meterRegistry(registry)
                        .build();
                ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int round = 0; round < 3; round++) {
                CountDownLatch go = new CountDownLatch(1);
                List<Future<String>> answers = new ArrayList<>();
                for (int k = 0; k < keys; k++) {
                    String key = "r" + round + "-k" + k;
                    for (int i = 0; i < perKey; i++) {
                        answers.add(threads.submit(() -> {
                            go.await();
                            return cache.get(key, () -> {
                                calls.computeIfAbsent(key, x -> new AtomicInteger())
                                        .incrementAndGet();
                                Thread.sleep(100);
                                return "value of " + key;
                            });
                        }));
                    }
                }
                go.countDown();
                for (int j = 0; j < answers.size(); j++) {
                    assertThat(answers.get(j).get(60, TimeUnit.SECONDS))
                            .isEqualTo("value of r" + round + "-k" + (j / perKey));
                }
            }
        }
        assertThat(calls).hasSize(3 * keys);
        assertThat(calls.values()).allSatisfy(c -> assertThat(c.get()).isEqualTo(1));
        assertThat(registry.get("once.cache.requests")
                        .tag("result", "fail_open")
                        .counter()
                        .count())
                .isZero();
    }
}
