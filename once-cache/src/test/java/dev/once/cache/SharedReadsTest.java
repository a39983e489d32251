package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.FaultProxy;
import dev.once.jdbc.testing.TestDatabases;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Reads that wait for a statement slot are read together ({@link SharedReads}). What must hold: each
 * caller gets its own key's row (or none), never another's; a flood of reads never starves a leader's
 * claim or write; a reader interrupted while queued loses no slot; an outage reaches queued readers as
 * an outage (fail open), not as a hang.
 */
class SharedReadsTest {

    private static OnceCacheBuilder<String> oneSlot(javax.sql.DataSource ds, SimpleMeterRegistry registry) {
        return OnceCache.builder(ds)
                .namespace(TestDatabases.newTable("shared"))
                .codec(Codec.string())
                .nearCache(0)
                .maxConnections(1)
                .meterRegistry(registry);
    }

    private static double shared(SimpleMeterRegistry registry) {
        return registry.get("once.cache.reads.shared").functionCounter().count();
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void peek_manyCallersQueuedForOneSlot_eachGetsItsOwnRowAndSomeShareAStatement(Db db) throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (OnceCache<String> cache =
                        oneSlot(TestDatabases.shared(db), registry).build();
                ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            int stored = 70; // more than one statement's 64 keys
            for (int i = 0; i < stored; i++) {
                String key = "key " + i;
                assertThat(cache.get(key, () -> "value of " + key)).isEqualTo("value of " + key);
            }
            // 5 rounds at least, more until some reads have shared a statement: whether 100 callers released at
            // once queue for the slot depends on the scheduler, and on SQLite, whose reads take microseconds,
            // 5 rounds once went by without any queueing (CI, 2026-11-29); 100 rounds without one is a failure
            for (int round = 0; round < 5 || (shared(registry) == 0 && round < 100); round++) {
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Optional<CacheResult<String>>>> answers = new ArrayList<>();
                for (int i = 0; i < stored + 30; i++) { // 30 keys without a row, asked for among the others
                    String key = "key " + i;
                    answers.add(threads.submit(() -> {
                        go.await();
                        return cache.peek(key);
                    }));
                }
                go.countDown();
                for (int i = 0; i < answers.size(); i++) {
                    Optional<CacheResult<String>> answer = answers.get(i).get(30, TimeUnit.SECONDS);
                    if (i < stored) {
                        assertThat(answer)
                                .as("key %d", i)
                                .hasValue(new CacheResult<>("value of key " + i, CacheResult.Source.HIT));
                    } else {
                        assertThat(answer).as("key %d, never stored", i).isEmpty();
                    }
                }
            }
            // hundreds of reads through one slot: some waited for it and were answered by another's statement
            assertThat(shared(registry)).isGreaterThan(0);
        }
    }

    /** A claim or a write waits in the slots' own queue, and a freed slot goes to it before any read. */
    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void get_floodOfReadsOnTwoSlots_newKeysStillLoadAndStore() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (HikariDataSource pool = TestDatabases.pool(Db.POSTGRES, 2, Connection.TRANSACTION_READ_COMMITTED);
                OnceCache<String> cache =
                        oneSlot(pool, registry).maxConnections(2).build();
                ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 32; i++) cache.get("hot " + i, () -> "hot");
            AtomicBoolean flooding = new AtomicBoolean(true);
            AtomicInteger wrong = new AtomicInteger();
            List<Future<?>> readers = new ArrayList<>();
            for (int r = 0; r < 32; r++) {
                String key = "hot " + r;
                readers.add(threads.submit(() -> {
                    while (flooding.get()) {
                        if (!cache.peek(key).map(CacheResult::value).orElse("").equals("hot")) wrong.incrementAndGet();
                    }
                    return null;
                }));
            }
            try {
                AtomicInteger calls = new AtomicInteger();
                for (int i = 0; i < 20; i++) {
                    String key = "new " + i;
                    Future<CacheResult<String>> loaded = threads.submit(() -> cache.lookup(key, () -> {
                        calls.incrementAndGet();
                        return "loaded " + key;
                    }));
                    assertThat(loaded.get(20, TimeUnit.SECONDS))
                            .isEqualTo(new CacheResult<>("loaded " + key, CacheResult.Source.MISS));
                }
                assertThat(calls).hasValue(20);
            } finally {
                flooding.set(false);
            }
            for (Future<?> r : readers) r.get(30, TimeUnit.SECONDS);
            assertThat(wrong).hasValue(0);
            assertThat(shared(registry)).isGreaterThan(0);
            assertThat(registry.get("once.cache.requests")
                            .tag("result", "fail_open")
                            .counter()
                            .count())
                    .isZero();
        }
    }

    /** A reader interrupted while queued or handed a slot gives it back: with one slot, later reads still run. */
    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"POSTGRES", "SQLITE"})
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void peek_readersInterruptedWhileQueued_noSlotLost(Db db) throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (OnceCache<String> cache =
                oneSlot(TestDatabases.shared(db), registry).build()) {
            for (int i = 0; i < 20; i++) cache.get("k" + i, () -> "v");
            for (int round = 0; round < 10; round++) {
                List<Thread> readers = new ArrayList<>();
                AtomicInteger wrong = new AtomicInteger();
                for (int i = 0; i < 40; i++) {
                    String key = "k" + (i % 20);
                    readers.add(Thread.ofVirtual().start(() -> {
                        try {
                            if (!cache.peek(key)
                                    .map(CacheResult::value)
                                    .orElse("v")
                                    .equals("v")) wrong.incrementAndGet();
                        } catch (CacheLoadException interrupted) {
                            // what an interrupted read may end in; never another key's value
                        }
                    }));
                }
                for (int i = 0; i < readers.size(); i += 2) readers.get(i).interrupt();
                for (Thread r : readers)
                    assertThat(r.join(Duration.ofSeconds(20))).isTrue();
                assertThat(wrong).hasValue(0);
            }
            // the one slot is free: a read and a load both run
            assertThat(cache.peek("k3")).hasValue(new CacheResult<>("v", CacheResult.Source.HIT));
            assertThat(cache.lookup("after", () -> "a").source()).isEqualTo(CacheResult.Source.MISS);
        }
    }

    /** With the database silent, queued readers get the outage (and fail open), none waits past it for good. */
    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void get_databaseBlackholedWithReadersQueued_allFailOpen() throws Exception {
        String url = TestDatabases.url(Db.POSTGRES);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        com.zaxxer.hikari.HikariConfig config = new com.zaxxer.hikari.HikariConfig();
        try (FaultProxy proxy = FaultProxy.to(url)) {
            config.setJdbcUrl(proxy.url(url));
            config.setMaximumPoolSize(2);
            config.setInitializationFailTimeout(-1);
            try (HikariDataSource pool = new HikariDataSource(config);
                    OnceCache<String> cache = oneSlot(pool, registry)
                            .storeTimeout(Duration.ofMillis(500))
                            .build();
                    ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
                assertThat(cache.get("warm", () -> "w")).isEqualTo("w");
                proxy.blackhole();
                CountDownLatch go = new CountDownLatch(1);
                List<Future<String>> answers = new ArrayList<>();
                for (int i = 0; i < 50; i++) {
                    String key = "k" + i;
                    answers.add(threads.submit(() -> {
                        go.await();
                        return cache.get(key, () -> "direct " + key);
                    }));
                }
                long started = System.nanoTime();
                go.countDown();
                for (int i = 0; i < answers.size(); i++)
                    assertThat(answers.get(i).get(30, TimeUnit.SECONDS)).isEqualTo("direct k" + i);
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
                assertThat(millis)
                        .as("one store timeout, not one per queued reader")
                        .isLessThan(10_000);
                assertThat(cache.storeAvailable()).isFalse();
            }
        }
    }
    /**
     * A shared statement holds its whole result in memory: 64 rows of 3.5 MB in each slot ran a 300 MB heap
     * out of memory where reads one by one did not (helper-32). Reads share a statement only while the
     * values read and written lately are small enough for their rows to weigh about 1 MiB together.
     */
    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void peek_largeValues_readOneByOne() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (OnceCache<String> cache =
                        oneSlot(TestDatabases.shared(Db.POSTGRES), registry).build();
                ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            String large = "x".repeat(600 * 1024); // two would weigh more than 1 MiB
            for (int i = 0; i < 30; i++) cache.get("large " + i, () -> large + "");
            for (int round = 0; round < 3; round++) {
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Optional<CacheResult<String>>>> answers = new ArrayList<>();
                for (int i = 0; i < 30; i++) {
                    String key = "large " + i;
                    answers.add(threads.submit(() -> {
                        go.await();
                        return cache.peek(key);
                    }));
                }
                go.countDown();
                for (var a : answers)
                    assertThat(a.get(30, TimeUnit.SECONDS).orElseThrow().value())
                            .hasSize(large.length());
            }
            assertThat(shared(registry)).isZero();
        }
    }
}
