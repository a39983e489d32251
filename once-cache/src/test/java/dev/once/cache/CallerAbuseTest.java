package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** helper-70's attacks on once-cache. */
class CallerAbuseTest {

    private static OnceCacheBuilder<String> builder(Db db, String ns) {
        return OnceCache.builder(TestDatabases.shared(db))
                .namespace(ns)
                .codec(Codec.string())
                .meterRegistry(new SimpleMeterRegistry());
    }

    /**
     * A loader that asks its own cache for its own key (a careless recursive lookup) must not hang its
     * caller forever: Caffeine and Guava refuse it ("Recursive load"). Before the fix the caller joined its
     * own resolution and waited for it for good.
     */
    @Test
    void get_loaderAsksForItsOwnKey_failsInsteadOfHangingForever() {
        try (OnceCache<String> cache =
                builder(Db.SQLITE, TestDatabases.newTable("h70rec")).build()) {
            AtomicReference<Throwable> inner = new AtomicReference<>();
            Throwable outer = assertTimeoutPreemptively(
                    Duration.ofSeconds(10),
                    () -> {
                        try {
                            cache.get("k", () -> {
                                try {
                                    return "outer-" + cache.get("k", () -> "inner");
                                } catch (RuntimeException e) {
                                    inner.set(e);
                                    throw e;
                                }
                            });
                            return null;
                        } catch (RuntimeException e) {
                            return e;
                        }
                    },
                    "a loader asking for its own key hung its caller");
            assertThat(inner.get()).isInstanceOf(CacheLoadException.class).hasMessageContaining("recursive");
            assertThat(outer).isSameAs(inner.get());
            // the key is not left claimed: the next caller loads at once
            assertTimeoutPreemptively(
                    Duration.ofSeconds(3),
                    () -> assertThat(cache.get("k", () -> "next")).isEqualTo("next"));
        }
    }

    @Test
    void getAsync_loaderAsksForItsOwnKey_failsInsteadOfHangingForever() {
        try (OnceCache<String> cache =
                builder(Db.SQLITE, TestDatabases.newTable("h70reca")).build()) {
            CompletableFuture<String> f = cache.getAsync("k", () -> "outer-" + cache.get("k", () -> "inner"));
            assertTimeoutPreemptively(
                    Duration.ofSeconds(10),
                    () -> assertThatThrownBy(f::join)
                            .hasRootCauseInstanceOf(CacheLoadException.class)
                            .hasMessageContaining("recursive"));
        }
    }

    /** The same in a cache that has not started yet (startWhileUnreachable, database unreachable). */
    @Test
    void pendingCache_loaderAsksForItsOwnKey_failsInsteadOfHangingForever() throws Exception {
        OnceCache<String> cache = OnceCache.builder(unreachable())
                .codec(Codec.string())
                .meterRegistry(new SimpleMeterRegistry())
                .startWhileUnreachable(true)
                .build();
        try {
            assertThat(cache.storeAvailable()).isFalse();
            Throwable t = assertTimeoutPreemptively(
                    Duration.ofSeconds(10),
                    () -> {
                        try {
                            cache.get("k", () -> "outer-" + cache.get("k", () -> "inner"));
                            return null;
                        } catch (RuntimeException e) {
                            return e;
                        }
                    },
                    "a loader asking for its own key hung its caller");
            assertThat(t).isInstanceOf(CacheLoadException.class).hasMessageContaining("recursive");
        } finally {
            cache.close();
        }
    }

    /** A data source whose every connection is refused as unreachable (SQLState 08001). */
    static javax.sql.DataSource unreachable() {
        return (javax.sql.DataSource) java.lang.reflect.Proxy.newProxyInstance(
                CallerAbuseTest.class.getClassLoader(), new Class<?>[] {javax.sql.DataSource.class}, (p, m, a) -> {
                    if (m.getName().startsWith("getConnection"))
                        throw new java.sql.SQLNonTransientConnectionException("refused (h70)", "08001");
                    if (m.getName().equals("toString")) return "unreachable-h70";
                    if (m.getName().equals("hashCode")) return System.identityHashCode(p);
                    if (m.getName().equals("equals")) return p == a[0];
                    if (m.getName().equals("getLoginTimeout")) return 0;
                    return null;
                });
    }

    /**
     * A caller waiting for another process's load, whose resolution others here joined, is interrupted
     * (a cancelled request): the docs say "that caller gets the interrupt". The callers who joined it must
     * still get the value.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(
            value = Db.class,
            names = {"SQLITE", "POSTGRES"})
    void get_firstWaiterInterrupted_joinedCallersStillGetTheValue(Db db) throws Exception {
        String ns = TestDatabases.newTable("h70int");
        try (OnceCache<String> remote = builder(db, ns).build();
                OnceCache<String> local = builder(db, ns).build()) {
            CountDownLatch loading = new CountDownLatch(1);
            CompletableFuture<String> leader = new CompletableFuture<>();
            Thread.ofPlatform()
                    .start(() -> leader.complete(remote.get("k", () -> {
                        loading.countDown();
                        Thread.sleep(2_000);
                        return "v";
                    })));
            assertThat(loading.await(5, TimeUnit.SECONDS)).isTrue();
            AtomicReference<Object> first = new AtomicReference<>();
            AtomicReference<Boolean> stillInterrupted = new AtomicReference<>();
            Thread a = Thread.ofPlatform().start(() -> {
                try {
                    first.set(local.get("k", () -> "local-a"));
                } catch (Throwable t) {
                    first.set(t);
                }
                stillInterrupted.set(Thread.currentThread().isInterrupted());
            });
            Thread.sleep(300); // a waits for the remote load
            CompletableFuture<Object> b = new CompletableFuture<>();
            Thread.ofPlatform()
                    .start(
                            () -> { // not the common pool: the leader holds its only worker on 2 cores
                                try {
                                    b.complete(local.get("k", () -> "local-b"));
                                } catch (Throwable t) {
                                    b.complete(t);
                                }
                            });
            Thread.sleep(300); // b joined a's resolution
            a.interrupt();
            a.join(5_000);
            assertThat(leader.get(10, TimeUnit.SECONDS)).isEqualTo("v");
            Object bGot = b.get(10, TimeUnit.SECONDS);
            if (first.get() instanceof Throwable)
                assertThat(stillInterrupted.get())
                        .as("a's interrupt status kept")
                        .isTrue();
            assertThat(bGot)
                    .as("the caller that joined the interrupted one (a got %s)", first.get())
                    .isEqualTo("v");
        }
    }

    /**
     * A caller of {@code get} whose loader runs runs it in its own thread (its ThreadLocals: a transaction, a
     * security context), also after the resolution it found could not answer it: one purged while it ran
     * (the caller waits for it, then resolves anew), one whose loader said {@link Bypass} (the caller loads
     * its own). Both ran the caller's loader on the cache's thread (helper-71).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"purged", "bypass"})
    void get_joinedResolutionCannotAnswer_theCallersLoaderRunsInItsOwnThread(String how) throws Exception {
        try (OnceCache<String> cache =
                builder(Db.SQLITE, TestDatabases.newTable("h71thread")).build()) {
            CountDownLatch loading = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread.ofPlatform()
                    .start(() -> cache.get("k", () -> {
                        loading.countDown();
                        release.await();
                        if (how.equals("bypass")) throw new Bypass("first's own", java.time.Duration.ZERO);
                        return "first";
                    }));
            assertThat(loading.await(5, TimeUnit.SECONDS)).isTrue();
            if (how.equals("purged")) cache.purge("k");
            AtomicReference<Thread> ranIn = new AtomicReference<>();
            CompletableFuture<Object> second = new CompletableFuture<>();
            Thread caller = Thread.ofPlatform().start(() -> {
                try {
                    second.complete(cache.get("k", () -> {
                        ranIn.set(Thread.currentThread());
                        return "second";
                    }));
                } catch (Throwable t) {
                    second.complete(t);
                }
            });
            Thread.sleep(300); // the second caller found the first's resolution
            release.countDown();
            assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo("second");
            assertThat(ranIn.get())
                    .as("the thread the second caller's loader ran in")
                    .isSameAs(caller);
        }
    }

    /** An Error from the loader reaches its caller and frees the claim: the next caller loads at once. */
    @Test
    void get_loaderThrowsStackOverflowError_callerGetsIt_andTheKeyIsFreeAtOnce() {
        String ns = TestDatabases.newTable("h70soe");
        try (OnceCache<String> cache = builder(Db.SQLITE, ns).build();
                OnceCache<String> other = builder(Db.SQLITE, ns).build()) {
            assertThatThrownBy(() -> cache.get("k", () -> {
                        throw new StackOverflowError("h70");
                    }))
                    .isInstanceOf(StackOverflowError.class);
            assertThatThrownBy(() -> cache.get("k2", () -> {
                        throw new OutOfMemoryError("h70 simulated");
                    }))
                    .isInstanceOf(OutOfMemoryError.class);
            long t0 = System.nanoTime();
            assertThat(other.get("k", () -> "v")).isEqualTo("v");
            assertThat(other.get("k2", () -> "v2")).isEqualTo("v2");
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(2_000);
        }
    }

    /** close() while a loader runs: the leader's own caller still gets its value. */
    @Test
    void close_duringLoad_theCallerStillGetsItsValue_andNoThreadOutlivesIt() throws Exception {
        String ns = TestDatabases.newTable("h70close");
        OnceCache<String> cache = builder(Db.SQLITE, ns).nearCache(100).build();
        CountDownLatch loading = new CountDownLatch(1);
        CompletableFuture<Object> got = CompletableFuture.supplyAsync(() -> {
            try {
                return cache.get("k", () -> {
                    loading.countDown();
                    Thread.sleep(500);
                    return "v";
                });
            } catch (Throwable t) {
                return t;
            }
        });
        assertThat(loading.await(5, TimeUnit.SECONDS)).isTrue();
        cache.close();
        assertThat(got.get(10, TimeUnit.SECONDS)).isEqualTo("v");
        assertThatThrownBy(() -> cache.get("k", () -> "x")).isInstanceOf(CacheLoadException.class);
        assertThat(cache.getAsync("k", () -> "x")).isCompletedExceptionally();
        // the key is free for another process at once
        try (OnceCache<String> other = builder(Db.SQLITE, ns).build()) {
            long t0 = System.nanoTime();
            assertThat(other.get("k", () -> "w")).isEqualTo("w");
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(2_000);
        }
    }

    /** Keys that differ only in ways encoders or collations blur stay distinct. */
    @Test
    void keys_oddTexts_eachItsOwn() {
        String big = "x".repeat(1 << 20);
        String[] keys = {
            "",
            " ",
            "\u0000",
            "\u0000\u0000",
            "a\u0000b",
            "a",
            "?",
            "\uD800",
            "\uDC00",
            "\uFFFD",
            "\uD800\uDC00",
            "\uDC00\uD800",
            "\u00E9",
            "e\u0301",
            "\u00C5",
            "\u212B",
            "A\u030A",
            "ß",
            "ss",
            "A",
            big,
            big + "y",
            "k\u0000" + big,
        };
        for (Db db : new Db[] {Db.SQLITE, Db.POSTGRES, Db.MARIADB}) {
            try (OnceCache<String> cache =
                    builder(db, TestDatabases.newTable("h70keys")).build()) {
                for (int i = 0; i < keys.length; i++) {
                    int n = i;
                    assertThat(cache.get(keys[i], () -> "v" + n))
                            .as(db + " key #" + i)
                            .isEqualTo("v" + n);
                }
                for (int i = 0; i < keys.length; i++) {
                    assertThat(cache.get(keys[i], () -> "again"))
                            .as(db + " key #" + i)
                            .isEqualTo("v" + i);
                }
            }
        }
    }

    /** Namespaces shaped like SQL, payload separators or paths never meet each other. */
    @Test
    void namespaces_hostile_neverMeet() {
        String[] nss = {
            "a/b",
            "a",
            "b",
            "a/b/c",
            "'; DROP TABLE once_entry; --",
            "\"x\"",
            "v/a",
            "k/a",
            "p/a",
            "P",
            ".",
            "..",
            "a.b",
            "ns\u00AD",
            "ns",
            "x".repeat(200),
            "ü".repeat(200),
            "😀".repeat(100)
        };
        for (Db db : new Db[] {Db.POSTGRES, Db.SQLITE, Db.MARIADB}) {
            var caches = new java.util.ArrayList<OnceCache<String>>();
            try {
                for (String ns : nss) caches.add(builder(db, ns).nearCache(10).build());
                for (var c : caches) c.purgeAll();
                for (int i = 0; i < nss.length; i++) {
                    int n = i;
                    assertThat(caches.get(i).get("k", () -> "v" + n)).isEqualTo("v" + n);
                    assertThat(caches.get(i).get("k/x", () -> "w" + n)).isEqualTo("w" + n);
                }
                caches.get(0).purge("k");
                caches.get(4).purgeAll();
                for (int i = 0; i < nss.length; i++) {
                    int n = i;
                    String expect = i == 0 || i == 4 ? "again" : "v" + n;
                    assertThat(caches.get(i).get("k", () -> "again"))
                            .as(db + " ns " + nss[i])
                            .isEqualTo(expect);
                }
            } finally {
                for (var c : caches) {
                    try {
                        c.purgeAll();
                    } finally {
                        c.close();
                    }
                }
            }
        }
    }

    /** A pool of one connection, loaders nesting five keys deep on 8 threads: no deadlock, one call per key. */
    @Test
    void poolOfOne_nestedLoadersOnManyThreads_noDeadlock() throws Exception {
        for (Db db : new Db[] {Db.POSTGRES, Db.SQLITE}) {
            try (var pool = TestDatabases.pool(db, 1, -1);
                    OnceCache<String> cache = OnceCache.builder(pool)
                            .namespace(TestDatabases.newTable("h70pool1"))
                            .codec(Codec.string())
                            .meterRegistry(new SimpleMeterRegistry())
                            .build()) {
                AtomicInteger calls = new AtomicInteger();
                java.util.function.IntFunction<String>[] chain = new java.util.function.IntFunction[1];
                chain[0] = depth -> cache.get("k" + depth, () -> {
                    calls.incrementAndGet();
                    Thread.sleep(50);
                    return depth == 0 ? "leaf" : depth + ">" + chain[0].apply(depth - 1);
                });
                var results = assertTimeoutPreemptively(
                        Duration.ofSeconds(30),
                        () -> {
                            var fs = new java.util.ArrayList<CompletableFuture<String>>();
                            for (int t = 0; t < 8; t++) {
                                boolean virtual = t % 2 == 0;
                                CompletableFuture<String> f = new CompletableFuture<>();
                                (virtual ? Thread.ofVirtual() : Thread.ofPlatform()).start(() -> {
                                    try {
                                        f.complete(chain[0].apply(5));
                                    } catch (Throwable e) {
                                        f.completeExceptionally(e);
                                    }
                                });
                                fs.add(f);
                            }
                            var out = new java.util.ArrayList<String>();
                            for (var f : fs) out.add(f.get());
                            return out;
                        },
                        db + ": nested loaders on a pool of one hung");
                assertThat(results).containsOnly("5>4>3>2>1>leaf");
                assertThat(calls).as(db.toString()).hasValue(6);
            }
        }
    }

    /** The application holds the pool's only connection: calls fail open within about storeTimeout. */
    @Test
    void poolExhaustedByTheApplication_callsFailOpenWithinTheStoreTimeout() throws Exception {
        try (var pool = TestDatabases.pool(Db.POSTGRES, 1, -1);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace(TestDatabases.newTable("h70exh"))
                        .codec(Codec.string())
                        .meterRegistry(new SimpleMeterRegistry())
                        .build()) {
            assertThat(cache.get("a", () -> "1")).isEqualTo("1");
            try (var held = pool.getConnection()) {
                long t0 = System.nanoTime();
                CacheResult<String> r = cache.lookup("b", () -> "2");
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertThat(r.value()).isEqualTo("2");
                assertThat(ms).as("first call with the pool exhausted").isLessThan(2_500);
                t0 = System.nanoTime();
                assertThat(cache.get("c", () -> "3")).isEqualTo("3");
                assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0))
                        .isLessThan(2_500);
            }
        }
    }

    /** getAsync's future cancelled by its caller: the load goes on once, and a later get takes its value. */
    @Test
    void getAsync_cancelled_theLoadIsNotRepeated() throws Exception {
        try (OnceCache<String> cache =
                builder(Db.SQLITE, TestDatabases.newTable("h70cancel")).build()) {
            AtomicInteger calls = new AtomicInteger();
            CountDownLatch loading = new CountDownLatch(1);
            CompletableFuture<String> f = cache.getAsync("k", () -> {
                calls.incrementAndGet();
                loading.countDown();
                Thread.sleep(500);
                return "v";
            });
            assertThat(loading.await(5, TimeUnit.SECONDS)).isTrue();
            f.cancel(true);
            assertThat(cache.get("k", () -> "v" + calls.incrementAndGet())).isEqualTo("v");
            assertThat(calls).hasValue(1);
        }
    }

    /** Closing one cache on a shared pool and listener leaves another's waits, purges and NOTIFY working. */
    @Test
    void close_ofOneCache_leavesAnotherOnTheSamePoolWorking() throws Exception {
        try (var pool = TestDatabases.pool(Db.POSTGRES, 3, -1)) {
            String ns = TestDatabases.newTable("h70share");
            OnceCache<String> a = OnceCache.builder(pool)
                    .namespace(ns)
                    .codec(Codec.string())
                    .meterRegistry(new SimpleMeterRegistry())
                    .nearCache(100)
                    .build();
            try (OnceCache<String> b = OnceCache.builder(pool)
                            .namespace(ns)
                            .codec(Codec.string())
                            .meterRegistry(new SimpleMeterRegistry())
                            .nearCache(100)
                            .build();
                    OnceCache<String> c = OnceCache.builder(pool)
                            .namespace(ns)
                            .codec(Codec.string())
                            .meterRegistry(new SimpleMeterRegistry())
                            .build()) {
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!b.listening() && System.nanoTime() < until) Thread.sleep(20);
                assertThat(a.get("k", () -> "v1")).isEqualTo("v1");
                assertThat(b.get("k", () -> "x")).isEqualTo("v1");
                a.close();
                a.close();
                assertThat(b.listening()).isTrue();
                c.put("k", "v2");
                Thread.sleep(300);
                assertThat(b.get("k", () -> "x"))
                        .as("b after c's put, a closed")
                        .isEqualTo("v2");
                // b's waits are woken by NOTIFY, not the 1 s safety net
                CountDownLatch loading = new CountDownLatch(1);
                CompletableFuture<String> lead = CompletableFuture.supplyAsync(() -> c.get("w", () -> {
                    loading.countDown();
                    Thread.sleep(200);
                    return "w";
                }));
                assertThat(loading.await(5, TimeUnit.SECONDS)).isTrue();
                long t0 = System.nanoTime();
                assertThat(b.get("w", () -> "x")).isEqualTo("w");
                assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0))
                        .isLessThan(700);
                lead.join();
                // a burst through b on the pool a shared
                var fs = new java.util.ArrayList<CompletableFuture<String>>();
                for (int i = 0; i < 50; i++) {
                    int n = i;
                    fs.add(b.getAsync("burst" + n, () -> "b" + n));
                }
                for (int i = 0; i < 50; i++)
                    assertThat(fs.get(i).get(10, TimeUnit.SECONDS)).isEqualTo("b" + i);
            }
        }
    }

    /**
     * A loader that keeps its thread's interrupt (catches InterruptedException, sets the flag again and
     * returns what it has, as Java's guidelines say) returns a value: its callers, the joined ones in other
     * threads above all, must get it, and other processes must not wait out a lease for a write that was
     * never tried.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void get_loaderKeepsItsThreadsInterrupt_itsValueReachesItsCallers(boolean failOpen) throws Exception {
        String ns = TestDatabases.newTable("h70flag");
        try (OnceCache<String> cache =
                        builder(Db.POSTGRES, ns).failOpen(failOpen).build();
                OnceCache<String> other =
                        builder(Db.POSTGRES, ns).failOpen(failOpen).build()) {
            CountDownLatch loading = new CountDownLatch(1);
            CompletableFuture<Object> a = new CompletableFuture<>();
            AtomicReference<Boolean> aInterrupted = new AtomicReference<>();
            Thread.ofPlatform().start(() -> {
                Object got;
                try {
                    got = cache.get("k", () -> {
                        loading.countDown();
                        Thread.sleep(300);
                        Thread.currentThread().interrupt(); // e.g. a client library that swallowed it and set it back
                        return "v";
                    });
                } catch (Throwable t) {
                    got = t;
                }
                // before a is complete: read after a.get() it was sometimes not set yet (null, under load)
                aInterrupted.set(Thread.currentThread().isInterrupted());
                a.complete(got);
            });
            assertThat(loading.await(5, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<Object> b = CompletableFuture.supplyAsync(() -> {
                try {
                    return cache.get("k", () -> "b");
                } catch (Throwable t) {
                    return t;
                }
            });
            Object aGot = a.get(10, TimeUnit.SECONDS);
            Object bGot = b.get(10, TimeUnit.SECONDS);
            long t0 = System.nanoTime();
            Object otherGot;
            try {
                otherGot = other.get("k", () -> "other");
            } catch (Throwable t) {
                otherGot = t;
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            org.slf4j.LoggerFactory.getLogger("h70")
                    .error("h70 flag failOpen={}: a {} b {} other {} in {} ms", failOpen, aGot, bGot, otherGot, ms);
            assertThat(bGot).as("the caller that joined the load").isEqualTo("v");
            assertThat(aGot).as("the leader's caller").isEqualTo("v");
            assertThat(aInterrupted.get())
                    .as("the leader's thread keeps its interrupt")
                    .isTrue();
            assertThat(ms)
                    .as("another process asking after the load: " + otherGot)
                    .isLessThan(2_000);
        }
    }

    /** No thread of the cache's own outlives close() (the JVM-wide alarm thread aside). */
    @Test
    void close_leavesNoThreadBehind() throws Exception {
        java.util.function.Supplier<java.util.List<String>> onceThreads =
                () -> Thread.getAllStackTraces().keySet().stream()
                        .filter(Thread::isAlive)
                        .map(Thread::getName)
                        .filter(n -> n.startsWith("once-cache") && !n.equals("once-cache-store-alarms"))
                        .sorted()
                        .toList();
        java.util.List<String> before = onceThreads.get();
        try (var pool = TestDatabases.pool(Db.POSTGRES, 4, -1)) {
            OnceCache<String> cache = OnceCache.builder(pool)
                    .namespace(TestDatabases.newTable("h70leak"))
                    .codec(Codec.string())
                    .meterRegistry(new SimpleMeterRegistry())
                    .nearCache(100)
                    .notifyValues(true)
                    .cleanupInterval(Duration.ofMillis(200))
                    .loadTimeout(Duration.ofMillis(300))
                    .build();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!cache.listening() && System.nanoTime() < until) Thread.sleep(20);
            CompletableFuture<String> hung = cache.getAsync("hung", () -> {
                Thread.sleep(1_000);
                return "late";
            });
            assertThat(cache.get("k", () -> "v")).isEqualTo("v");
            Thread.sleep(500);
            cache.close();
            hung.get(5, TimeUnit.SECONDS);
            java.util.List<String> after = onceThreads.get();
            until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            // none but those running before (another test's cache may end its own meanwhile: the clean-clone
            // CI of 205c7cd saw a janitor alive before and gone after)
            while (!before.containsAll(after) && System.nanoTime() < until) {
                Thread.sleep(100);
                after = onceThreads.get();
            }
            assertThat(after).as("threads after close (before: %s)", before).isSubsetOf(before);
        }
    }
    /**
     * helper-71: a caller cancelled (interrupted) while its loader ran, the loader failing because of it
     * (HikariCP's "Interrupted during connection acquisition" keeps the flag; an InterruptedException
     * thrown), under negativeTtl: once the interrupt was set aside for the write, that failure was cached
     * and every later caller got it for 30 s. A cancellation is its caller's, never the key's.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"flag kept", "InterruptedException"})
    void loaderFailsBecauseItsCallerWasInterrupted_notCachedAsTheKeysFailure(String how) throws Exception {
        String ns = TestDatabases.newTable("cancelled");
        try (OnceCache<String> cache =
                builder(Db.SQLITE, ns).negativeTtl(Duration.ofSeconds(30)).build()) {
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    cache.get("k", () -> {
                        if (how.equals("flag kept")) {
                            Thread.currentThread().interrupt();
                            throw new java.sql.SQLException("pool - Interrupted during connection acquisition");
                        }
                        throw new InterruptedException("cancelled");
                    });
                } catch (Throwable ignored) {
                    // the cancelled caller's own failure
                }
            });
            t.join(10_000);
            assertThat(t.isAlive()).isFalse();
            assertTimeoutPreemptively(
                    Duration.ofSeconds(10),
                    () -> assertThat(cache.get("k", () -> "v"))
                            .as("a caller after the cancelled one")
                            .isEqualTo("v"));
        }
    }

    /** And a loader's ordinary failure is still cached under negativeTtl (the rule above is not wider). */
    @Test
    void loaderFailsOtherwise_stillCachedAsTheKeysFailure() throws Exception {
        String ns = TestDatabases.newTable("failing");
        AtomicInteger calls = new AtomicInteger();
        try (OnceCache<String> cache =
                builder(Db.SQLITE, ns).negativeTtl(Duration.ofSeconds(30)).build()) {
            assertThatThrownBy(() -> cache.get("k", () -> {
                        calls.incrementAndGet();
                        throw new IllegalStateException("the API said no");
                    }))
                    .hasMessageContaining("the API said no");
            assertThatThrownBy(() -> cache.get("k", () -> "v"))
                    .hasMessageContaining("cached failure")
                    .hasMessageContaining("the API said no");
            assertThat(calls).hasValue(1);
        }
    }
}
