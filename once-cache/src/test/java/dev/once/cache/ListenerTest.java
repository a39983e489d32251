package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** The LISTEN connection on PostgreSQL, where the data source does not tell its URL. */
class ListenerTest {

    /**
     * A data source that wraps the pool (a tracing or transaction-aware proxy, as Spring applications
     * often have) hides the pool's URL: the listener then holds one of its connections for good. Closing
     * the cache must still end promptly, with the connection given back.
     */
    @Test
    void close_dataSourceWithoutItsUrl_endsPromptly_givesTheConnectionBack() {
        try (var pool = TestDatabases.pool(Db.POSTGRES, 4, java.sql.Connection.TRANSACTION_READ_COMMITTED)) {
            closeOnWrapped(pool);
            assertThat(pool.getHikariPoolMXBean().getActiveConnections())
                    .as("connections still borrowed")
                    .isZero();
        }
    }

    private static void closeOnWrapped(DataSource pool) {
        DataSource wrapped = Delegating.dataSource(pool, c -> {});
        OnceCache<String> cache = OnceCache.builder(wrapped)
                .namespace(TestDatabases.newTable("ns"))
                .codec(Codec.string())
                .build();
        assertThat(cache.get("k", () -> "v")).isEqualTo("v");
        await().atMost(Duration.ofSeconds(10)).until(cache::listening);
        assertTimeoutPreemptively(Duration.ofSeconds(10), cache::close);
    }

    /**
     * A database that refused connections for 8 s and is back: the listener's wait between attempts
     * doubled up to 5 s, so it heard nothing (and waiters polled) until about 3 s after the database was
     * back. Its wait now stops growing at {@link NotifyListener#MAX_BACKOFF_MILLIS}.
     */
    @Test
    void listening_databaseRefusedForSecondsThenBack_listeningAgainWithinAboutASecond() throws Exception {
        String url = TestDatabases.url(Db.POSTGRES);
        try (dev.once.jdbc.testing.FaultProxy proxy = dev.once.jdbc.testing.FaultProxy.to(url);
                OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                        .namespace(TestDatabases.newTable("ns"))
                        .codec(Codec.string())
                        .listenerConnection(() -> java.sql.DriverManager.getConnection(proxy.url(url)))
                        .build()) {
            await().atMost(Duration.ofSeconds(10)).until(cache::listening);
            proxy.refuse();
            await().atMost(Duration.ofSeconds(10)).until(() -> !cache.listening());
            Thread.sleep(8_000);
            proxy.pass();
            long back = System.nanoTime();
            await().atMost(Duration.ofSeconds(10)).until(cache::listening);
            assertThat(Duration.ofNanos(System.nanoTime() - back))
                    .as("listening again after the database came back")
                    .isLessThan(Duration.ofMillis(1_800));
        }
    }

    /**
     * Any role may NOTIFY on the cache's channel. Payloads of any other shape (a cut-short key notice, a
     * namespace with nothing after it, a sealed-value notice that names no key) are ignored: they do not
     * make the listener reconnect, which would clear every near cache each time one is sent.
     */
    @Test
    void hostilePayloads_ignored_theListenerStaysConnected_andTheNearCacheKept() throws Exception {
        String ns = TestDatabases.newTable("ns");
        try (OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                        .namespace(ns)
                        .codec(Codec.string())
                        .nearCache(100)
                        .nearCacheMaxAge(Duration.ofMinutes(5))
                        .ttl(Duration.ofMinutes(5))
                        .build();
                java.sql.Connection c = TestDatabases.connect(Db.POSTGRES);
                java.sql.PreparedStatement notify = c.prepareStatement("SELECT pg_notify('once_entry', ?)")) {
            await().atMost(Duration.ofSeconds(10)).until(cache::listening);
            assertThat(cache.get("k", () -> "v")).isEqualTo("v");
            assertThat(cache.nearValue("k")).contains("v");
            for (String hostile :
                    new String[] {"k/", "/", "k", "p/", "P/", "x/" + ns + "/", "v/", "v//x", "v/" + ns + "/"}) {
                notify.setString(1, hostile);
                notify.execute();
            }
            notify.setString(1, "k/" + ns + "/done"); // a well-formed notice after them: all were handled
            notify.execute();
            Thread.sleep(500);
            assertThat(cache.listening()).isTrue();
            assertThat(cache.nearValue("k"))
                    .as("a reconnection would have cleared the near cache")
                    .contains("v");
        }
    }

    /**
     * An OutOfMemoryError on the listener's thread (another thread filled the heap; the next allocation
     * here failed) ended that thread for good: purges and wake-ups never arrived again (helper-19). It is
     * now a gap like a lost connection: the listener reconnects and delivers what comes next.
     */
    @Test
    void outOfMemoryWhileDelivering_theListenerReconnects_andDeliversWhatComesNext() throws Exception {
        DataSource pool = TestDatabases.shared(Db.POSTGRES);
        String channel = TestDatabases.newTable("chan");
        java.util.List<String> heard = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicInteger gaps = new java.util.concurrent.atomic.AtomicInteger();
        NotifyListener.Subscriber subscriber = new NotifyListener.Subscriber(
                payload -> {
                    if (payload.equals("boom")) throw new OutOfMemoryError("Java heap space (simulated)");
                    heard.add(payload);
                },
                gaps::incrementAndGet,
                gaps::incrementAndGet,
                0);
        NotifyListener listener = NotifyListener.subscribe(pool, null, channel, subscriber);
        try (java.sql.Connection c = TestDatabases.connect(Db.POSTGRES);
                java.sql.PreparedStatement notify = c.prepareStatement("SELECT pg_notify(?, ?)")) {
            notify.setString(1, channel);
            await().atMost(Duration.ofSeconds(10)).until(listener::listening);
            int gapsBefore = gaps.get();
            notify.setString(2, "boom");
            notify.execute();
            await().atMost(Duration.ofSeconds(10)).until(() -> gaps.get() >= gapsBefore + 2); // lost, then back
            await().atMost(Duration.ofSeconds(10)).until(listener::listening);
            notify.setString(2, "after");
            notify.execute();
            await().atMost(Duration.ofSeconds(10)).until(() -> heard.contains("after"));
        } finally {
            NotifyListener.unsubscribe(pool, channel, subscriber);
        }
    }

    /** Two caches share one listener (one data source and table): a closed one no longer says it listens. */
    @Test
    void listening_afterClose_falseWhileAnotherCacheKeepsTheSharedListener() {
        DataSource pool = TestDatabases.shared(Db.POSTGRES);
        String ns = TestDatabases.newTable("ns");
        try (OnceCache<String> kept =
                OnceCache.builder(pool).namespace(ns).codec(Codec.string()).build()) {
            OnceCache<String> closed =
                    OnceCache.builder(pool).namespace(ns).codec(Codec.string()).build();
            await().atMost(Duration.ofSeconds(10)).until(() -> kept.listening() && closed.listening());
            closed.close();
            assertThat(closed.listening()).isFalse();
            assertThat(kept.listening()).isTrue();
        }
    }
}
