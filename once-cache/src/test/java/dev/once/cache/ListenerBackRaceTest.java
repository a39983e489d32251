package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The LISTEN connection's gaps against loads running in this process (helper-72, each failing before).
 * A caller must not join a load begun before a purge the listener never heard, once more than
 * {@code nearCacheMaxAge} has passed since: neither while the listener comes back (before this cache has
 * heard of the gap), nor while its connection is silent and not yet found dead.
 */
class ListenerBackRaceTest {

    @Test
    /**
     * The listener comes back after a loss during which another process purged a key. It counted as hearing
     * (listening, heardAt fresh) before its caches heard of the gap, so a caller in between joined a load
     * begun long before the unheard purge. The window is held open by a subscriber of the same listener
     * that subscribed first (as another cache on the same data source and channel does): its onBack runs
     * before this cache's.
     */
    void listenerBack_aCallerBeforeThisCacheHearsOfTheGap_doesNotJoinALoadBegunBeforeAnUnheardPurge() throws Exception {
        String ns = TestDatabases.newTable("ns");
        String app = TestDatabases.newTable("listenerB");
        String url = TestDatabases.url(Db.POSTGRES) + "&ApplicationName=" + app;
        Duration maxAge = Duration.ofMillis(500);
        AtomicBoolean reachable = new AtomicBoolean(true);
        AtomicReference<String> value = new AtomicReference<>("old");
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();

        AtomicBoolean armed = new AtomicBoolean(false);
        CountDownLatch inBack = new CountDownLatch(1);
        CountDownLatch proceed = new CountDownLatch(1);
        NotifyListener.Subscriber first = new NotifyListener.Subscriber(
                payload -> {},
                () -> {},
                () -> {
                    if (!armed.get()) return;
                    inBack.countDown();
                    try {
                        proceed.await(20, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                },
                0);
        OnceCacheBuilder.ConnectionOpener opener = () -> {
            if (!reachable.get()) throw new SQLException("unreachable", "08001");
            return DriverManager.getConnection(url);
        };
        try (HikariDataSource poolA = TestDatabases.pool(Db.POSTGRES, 4, -1);
                HikariDataSource poolB = TestDatabases.pool(Db.POSTGRES, 4, -1)) {
            NotifyListener.subscribe(poolB, opener, "once_entry", first); // first on B's listener
            try (OnceCache<String> a = OnceCache.builder(poolA)
                            .namespace(ns)
                            .codec(Codec.string())
                            .build();
                    OnceCache<String> b = OnceCache.builder(poolB)
                            .namespace(ns)
                            .codec(Codec.string())
                            .nearCacheMaxAge(maxAge)
                            .lease(Duration.ofSeconds(30))
                            .listenerConnection(opener)
                            .build()) {
                await().atMost(Duration.ofSeconds(10)).until(b::listening);
                CompletableFuture<String> firstGet = b.getAsync("k", () -> {
                    calls.incrementAndGet();
                    String read = value.get();
                    loading.countDown();
                    release.await();
                    return read;
                });
                assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();

                long pid = TestDatabases.count(
                        Db.POSTGRES,
                        "SELECT COALESCE(MAX(pid), 0) FROM pg_stat_activity WHERE application_name = '" + app + "'");
                assertThat(pid).isNotZero();
                reachable.set(false);
                TestDatabases.execute(Db.POSTGRES, "SELECT pg_terminate_backend(" + pid + ")");
                await().atMost(Duration.ofSeconds(10)).until(() -> !b.listening());

                value.set("new");
                a.purge("k"); // B never hears it
                Thread.sleep(maxAge.toMillis() * 3); // well past the bound since the purge returned

                armed.set(true);
                reachable.set(true);
                assertThat(inBack.await(15, TimeUnit.SECONDS)).isTrue(); // listening again; B's onBack not yet run
                // the listener is back (its LISTEN answered); this cache has not yet heard of the gap
                CompletableFuture<String> late = b.getAsync("k", () -> {
                    calls.incrementAndGet();
                    return value.get();
                });
                proceed.countDown();
                release.countDown();

                assertThat(firstGet.get(10, TimeUnit.SECONDS)).isEqualTo("old");
                assertThat(late.get(10, TimeUnit.SECONDS))
                        .as(
                                "a caller %d ms after another process's purge, once the listener is back",
                                maxAge.toMillis() * 3)
                        .isEqualTo("new");
            } finally {
                proceed.countDown();
                release.countDown();
                NotifyListener.unsubscribe(poolB, "once_entry", first);
            }
        }
    }

    /**
     * The listener's connection goes silent (a NAT forgot it), another process purges at once. A listener
     * that has not answered a heartbeat within nearCacheMaxAge must not let a caller join a load begun more
     * than nearCacheMaxAge before it asked. With 500 ms: it was trusted for max(nearCacheMaxAge, 4 s) (the
     * heartbeat came every 2 s in a cache without a near cache), and listening() stays true until the
     * heartbeat times out (2 s), so a caller 800 ms after the purge joined the old load (helper-72). With
     * 5 ms: a listener trusted for at least 80 ms (to spare callers a few milliseconds into a load from
     * loading again, helper-73) let a caller 30 ms after the purge join it (helper-74).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"500, 600, 800", "5, 50, 30"})
    void listenerSilenced_aCallerPastNearCacheMaxAgeAfterAnUnheardPurge_doesNotJoinTheOlderLoad(
            long maxAgeMillis, long loadOlderByMillis, long askAfterMillis) throws Exception {
        String ns = TestDatabases.newTable("ns");
        String direct = TestDatabases.url(Db.POSTGRES);
        AtomicReference<String> value = new AtomicReference<>("old");
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (dev.once.jdbc.testing.FaultProxy proxy = dev.once.jdbc.testing.FaultProxy.to(direct);
                HikariDataSource poolA = TestDatabases.pool(Db.POSTGRES, 4, -1);
                HikariDataSource poolB = TestDatabases.pool(Db.POSTGRES, 4, -1);
                OnceCache<String> a = OnceCache.builder(poolA)
                        .namespace(ns)
                        .codec(Codec.string())
                        .build();
                OnceCache<String> b = OnceCache.builder(poolB)
                        .namespace(ns)
                        .codec(Codec.string())
                        .nearCacheMaxAge(Duration.ofMillis(maxAgeMillis))
                        .lease(Duration.ofSeconds(30))
                        .listenerConnection(() -> DriverManager.getConnection(proxy.url(direct)))
                        .build()) {
            await().atMost(Duration.ofSeconds(10)).until(b::listening);
            Thread.sleep(300);
            CompletableFuture<String> firstGet = b.getAsync("k", () -> {
                String read = value.get();
                loading.countDown();
                release.await();
                return read;
            });
            assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();
            Thread.sleep(loadOlderByMillis); // the load is older than the bound

            proxy.silence(); // only the listener goes through the proxy
            value.set("new");
            a.purge("k"); // B never hears it
            long returned = System.nanoTime();
            Thread.sleep(askAfterMillis);
            long asked = System.nanoTime();
            boolean stillListening = b.listening();
            CompletableFuture<String> late = b.getAsync("k", value::get);
            release.countDown();

            assertThat(firstGet.get(10, TimeUnit.SECONDS)).isEqualTo("old");
            assertThat(late.get(10, TimeUnit.SECONDS))
                    .as(
                            "a caller %d ms after another process's purge returned, maxAge %d ms (listening() was %s)",
                            (asked - returned) / 1_000_000, maxAgeMillis, stillListening)
                    .isEqualTo("new");
        }
    }
}
