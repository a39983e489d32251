package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A purge by one process against a load another process began before it: a caller of that other
 * process who asks after the purge must not take the load's answer once the purge can no longer be
 * unheard (helper-64). Each replica has a pool of its own, as two processes would.
 */
class PurgeTest {

    /** The source the loaders read, a latch that holds B's first load after it read, and its calls. */
    private static final class Source {
        final AtomicReference<String> value = new AtomicReference<>("old");
        final CountDownLatch loading = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger calls = new AtomicInteger();

        /** Reads the source, then waits to be released: a load that read before a purge, still running. */
        String held() throws InterruptedException {
            calls.incrementAndGet();
            String read = value.get();
            loading.countDown();
            release.await();
            return read;
        }

        String read() {
            calls.incrementAndGet();
            return value.get();
        }
    }

    /**
     * No notice reaches B (SQLite, PostgreSQL with notify(false)): B's caller who asks more than
     * nearCacheMaxAge after A's purge does not join B's load begun before it; one who asked while it
     * was young still does. Before: the late caller joined it and got "old", the purged value.
     */
    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"POSTGRES", "SQLITE"})
    void purge_noNoticeReachesTheOtherProcess_aCallerPastNearCacheMaxAgeDoesNotJoinItsOlderLoad(Db db)
            throws Exception {
        String ns = TestDatabases.newTable("ns");
        Duration maxAge = Duration.ofMillis(500);
        Source source = new Source();
        try (HikariDataSource poolA = TestDatabases.pool(db, 4, -1);
                HikariDataSource poolB = TestDatabases.pool(db, 4, -1);
                OnceCache<String> a = OnceCache.builder(poolA)
                        .namespace(ns)
                        .codec(Codec.string())
                        .notify(false)
                        .build();
                OnceCache<String> b = OnceCache.builder(poolB)
                        .namespace(ns)
                        .codec(Codec.string())
                        .notify(false)
                        .nearCacheMaxAge(maxAge)
                        .lease(Duration.ofSeconds(30))
                        .build()) {
            CompletableFuture<String> first = b.getAsync("k", source::held);
            assertThat(source.loading.await(10, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<String> joined = b.getAsync("k", source::read); // while the load is young

            source.value.set("new");
            a.purge("k");
            Thread.sleep(maxAge.toMillis() + 300); // the bound has passed since the purge returned
            CompletableFuture<String> late = b.getAsync("k", source::read);
            source.release.countDown();

            assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("old"); // asked before the purge: fine
            assertThat(joined.get(10, TimeUnit.SECONDS)).isEqualTo("old");
            assertThat(late.get(10, TimeUnit.SECONDS))
                    .as("a caller asking %d ms after the purge", maxAge.toMillis() + 300)
                    .isEqualTo("new");
            assertThat(source.calls).hasValue(2); // the joined caller shared the first load
            assertThat(a.get("k", source::read)).isEqualTo("new"); // the purged load's write was fenced off
        }
    }

    private static long listenerPid(String application) throws Exception {
        return TestDatabases.count(
                Db.POSTGRES,
                "SELECT COALESCE(MAX(pid), 0) FROM pg_stat_activity WHERE application_name = '" + application
                        + "' AND (query LIKE 'LISTEN%' OR query = 'SELECT 1')");
    }

    /**
     * PostgreSQL with NOTIFY: B's LISTEN connection is killed, A purges while it is down (B never hears
     * it), then B listens again. A caller on B after that must not join B's load begun before the gap.
     * nearCacheMaxAge is long here, so only the gap itself can keep the caller out. Before: the gap
     * cleared the near cache and woke waiters but left the load joinable, and the caller got "old".
     */
    @Test
    void purge_sentWhileTheListenerWasDown_aCallerAfterTheGapDoesNotJoinALoadBegunBeforeIt() throws Exception {
        String ns = TestDatabases.newTable("ns");
        String app = TestDatabases.newTable("listenerB");
        String url = TestDatabases.url(Db.POSTGRES) + "&ApplicationName=" + app;
        AtomicBoolean reachable = new AtomicBoolean(true);
        Source source = new Source();
        HikariConfig configB = new HikariConfig();
        configB.setJdbcUrl(TestDatabases.url(Db.POSTGRES));
        configB.setMaximumPoolSize(4);
        try (HikariDataSource poolA = TestDatabases.pool(Db.POSTGRES, 4, -1);
                HikariDataSource poolB = new HikariDataSource(configB);
                OnceCache<String> a = OnceCache.builder(poolA)
                        .namespace(ns)
                        .codec(Codec.string())
                        .build();
                OnceCache<String> b = OnceCache.builder(poolB)
                        .namespace(ns)
                        .codec(Codec.string())
                        .nearCacheMaxAge(Duration.ofSeconds(60))
                        .lease(Duration.ofSeconds(30))
                        .listenerConnection(
                                () -> { // kept from reconnecting while the test says so
                                    if (!reachable.get()) throw new SQLException("unreachable", "08001");
                                    return DriverManager.getConnection(url);
                                })
                        .build()) {
            await().atMost(Duration.ofSeconds(10)).until(() -> b.listening() && listenerPid(app) != 0);
            CompletableFuture<String> first = b.getAsync("k", source::held);
            assertThat(source.loading.await(10, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<String> joined = b.getAsync("k", source::read);

            long pid = listenerPid(app);
            reachable.set(false);
            TestDatabases.execute(Db.POSTGRES, "SELECT pg_terminate_backend(" + pid + ")");
            await().atMost(Duration.ofSeconds(10)).until(() -> !b.listening());
            source.value.set("new");
            a.purge("k"); // its notice is lost: B is not listening
            reachable.set(true);
            await().atMost(Duration.ofSeconds(15)).until(b::listening);

            CompletableFuture<String> late = b.getAsync("k", source::read);
            source.release.countDown();

            assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("old");
            assertThat(joined.get(10, TimeUnit.SECONDS)).isEqualTo("old");
            assertThat(late.get(10, TimeUnit.SECONDS))
                    .as("a caller on B after the listener's gap")
                    .isEqualTo("new");
            assertThat(source.calls).hasValue(2);
        }
    }

    /**
     * A failing load that a late caller may not join (no notice can reach it): the caller waits for it and
     * gets its failure, as a joined caller does. It re-resolved instead and ran the loader again, one more
     * paid call per late caller of a failing load (helper-66: 2 calls for 10 callers 300 ms apart).
     */
    @Test
    void failingLoadOlderThanNearCacheMaxAge_aLateCallerGetsItsFailure_noSecondLoaderCall() throws Exception {
        String ns = TestDatabases.newTable("ns");
        Duration maxAge = Duration.ofMillis(200);
        AtomicInteger calls = new AtomicInteger();
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (HikariDataSource pool = TestDatabases.pool(Db.SQLITE, 4, -1);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace(ns)
                        .codec(Codec.string())
                        .nearCacheMaxAge(maxAge)
                        .lease(Duration.ofSeconds(30))
                        .build()) {
            CompletableFuture<String> first = cache.getAsync("k", () -> {
                calls.incrementAndGet();
                loading.countDown();
                release.await();
                throw new IllegalStateException("the paid API failed");
            });
            assertThat(loading.await(10, TimeUnit.SECONDS)).isTrue();
            Thread.sleep(maxAge.toMillis() + 200);
            CompletableFuture<String> late = cache.getAsync("k", () -> {
                calls.incrementAndGet();
                return "second call";
            });
            release.countDown();
            assertThat(first).failsWithin(Duration.ofSeconds(10));
            assertThat(late).failsWithin(Duration.ofSeconds(10));
            assertThat(calls).hasValue(1);
        }
    }
}
