package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link OnceCacheBuilder#startWhileUnreachable}: a cache built while its PostgreSQL is down serves as
 * one whose database went down (fail open, one loader call per key per process; or fail closed), and
 * caches once the database starts on its port. A database that answers and refuses still fails build().
 */
class StartWhileUnreachableTest {
    @TempDir
    Path data;

    private int port;

    @BeforeEach
    void freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
    }

    private EmbeddedPostgres startDatabase() throws IOException {
        return EmbeddedPostgres.builder().setPort(port).setDataDirectory(data).start();
    }

    private HikariDataSource pool(String database) {
        return pool(database, 500);
    }

    private HikariDataSource pool(String database, long connectionTimeoutMillis) {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl("jdbc:postgresql://localhost:" + port + "/" + database + "?user=postgres&connectTimeout=2");
        c.setMaximumPoolSize(8);
        c.setConnectionTimeout(connectionTimeoutMillis);
        c.setInitializationFailTimeout(-1);
        return new HikariDataSource(c);
    }

    @Test
    void build_databaseDownAtStart_failsOpenOneCallPerKeyThenCachesOnceItAnswers() throws Exception {
        EmbeddedPostgres pg = null;
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        try (HikariDataSource pool = pool("postgres");
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace("late")
                        .codec(Codec.string())
                        .meterRegistry(registry)
                        .startWhileUnreachable(true)
                        .build()) {
            assertThat(cache.storeAvailable()).isFalse();

            // identical calls at once: one loader call in this process, every caller its value
            AtomicInteger calls = new AtomicInteger();
            int callers = 8;
            CyclicBarrier together = new CyclicBarrier(callers);
            List<CacheResult<String>> results = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < callers; i++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        together.await();
                        results.add(cache.lookup("k", () -> {
                            calls.incrementAndGet();
                            Thread.sleep(1_500); // the others arrive while it runs
                            return "v1";
                        }));
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                }));
            }
            for (Thread t : threads) t.join();
            assertThat(calls).hasValue(1);
            assertThat(results).hasSize(callers).allSatisfy(r -> {
                assertThat(r.value()).isEqualTo("v1");
                assertThat(r.source()).isEqualTo(CacheResult.Source.BYPASS);
            });
            // nothing was kept: the next call loads again
            assertThat(cache.get("k", () -> "v2")).isEqualTo("v2");
            // counted as a started cache counts its fail-open loads (the shared one and the last), on the meter
            // it goes on with once started
            assertThat(OnceCacheTest.count(registry, "once.cache.requests", "result", "fail_open"))
                    .isEqualTo(2);
            // what needs the table says so, rather than pretending it happened
            assertThatThrownBy(() -> cache.purge("k"))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("has not started");
            assertThatThrownBy(() -> cache.put("k", "v"))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("has not started");
            assertThat(cache.peek("k")).isEmpty();

            pg = startDatabase();
            await().atMost(Duration.ofSeconds(60)).until(cache::storeAvailable);
            AtomicInteger later = new AtomicInteger();
            CacheResult<String> first = cache.lookup("k", () -> "v" + (3 + later.getAndIncrement()));
            CacheResult<String> second = cache.lookup("k", () -> "v" + (3 + later.getAndIncrement()));
            assertThat(first.source()).isEqualTo(CacheResult.Source.MISS);
            assertThat(second.value()).isEqualTo("v3");
            assertThat(second.source()).isIn(CacheResult.Source.HIT, CacheResult.Source.NEAR_HIT);
            assertThat(later).hasValue(1);
            try (Connection c = pool.getConnection();
                    ResultSet rs = c.createStatement()
                            .executeQuery("SELECT count(*) FROM once_entry WHERE namespace = 'late'")) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(1);
            }
        } finally {
            if (pg != null) pg.close();
        }
    }

    @Test
    void build_failClosedDatabaseDown_throwsWithoutCallingTheLoader() {
        AtomicInteger calls = new AtomicInteger();
        try (HikariDataSource pool = pool("postgres");
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace("closed")
                        .codec(Codec.string())
                        .failOpen(false)
                        .startWhileUnreachable(true)
                        .build()) {
            assertThatThrownBy(() -> cache.get("k", () -> "v" + calls.incrementAndGet()))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("has not started")
                    .hasMessageContaining("cannot be reached");
            // as a started cache's peek fails closed during an outage: "not cached" would be a wrong answer
            assertThatThrownBy(() -> cache.peek("k"))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("has not started");
        }
        assertThat(calls).hasValue(0);
    }

    /**
     * Behind a pool left at HikariCP's 30 s connection timeout too: build() waits 5 s for its first try,
     * and the pool's wait hid the refusal past that, so the cache started pending and ran uncached
     * (helper-49). Each try opens a connection of its own first.
     */
    @Test
    void build_databaseAnswersAndRefuses_failsAsWithoutTheOption() throws Exception {
        try (EmbeddedPostgres pg = startDatabase();
                HikariDataSource pool = pool("no_such_database", 30_000)) {
            assertThatThrownBy(() -> OnceCache.builder(pool)
                            .namespace("refused")
                            .startWhileUnreachable(true)
                            .build())
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("no_such_database");
        }
    }

    @Test
    void close_whileNotStarted_stopsTryingToStart() throws Exception {
        try (HikariDataSource pool = pool("postgres")) {
            OnceCache<String> cache = OnceCache.builder(pool)
                    .namespace("closed-early")
                    .codec(Codec.string())
                    .startWhileUnreachable(true)
                    .build();
            cache.close();
            assertThatThrownBy(() -> cache.get("k", () -> "v"))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("closed");
            try (EmbeddedPostgres pg = startDatabase()) {
                // a started cache would have made its table within a few of its one-second tries
                Thread.sleep(4_000);
                try (Connection c = pool.getConnection();
                        ResultSet rs = c.createStatement().executeQuery("SELECT to_regclass('once_entry') IS NULL")) {
                    rs.next();
                    assertThat(rs.getBoolean(1)).as("no table made after close").isTrue();
                }
                assertThat(cache.storeAvailable()).isFalse();
            }
        }
    }

    /**
     * A server that accepts connections and never answers: each try to start gave up at its 10 s login
     * timeout, but pgjdbc's own thread for it went on waiting on its socket for good, one more each try
     * (helper-50: 64 threads a minute with 10 routes). The tries now carry a read timeout as well.
     */
    @Test
    void silentDatabase_triesToStart_leaveNoThreadBehind() throws Exception {
        try (dev.once.jdbc.testing.SilentServer silent = new dev.once.jdbc.testing.SilentServer()) {
            HikariConfig c = new HikariConfig();
            c.setJdbcUrl("jdbc:postgresql://127.0.0.1:" + silent.port() + "/postgres?user=postgres");
            c.setConnectionTimeout(500);
            c.setInitializationFailTimeout(-1);
            c.setMinimumIdle(0); // the pool opens nothing by itself: every connection tried is a try to start
            try (HikariDataSource ds = new HikariDataSource(c);
                    OnceCache<String> cache = OnceCache.builder(ds)
                            .namespace("silent")
                            .codec(Codec.string())
                            .startWhileUnreachable(true)
                            .build()) {
                assertThat(cache.get("k", () -> "v")).isEqualTo("v");
                // a try every 5 s or so; each one's thread, with the read timeout, ends 10 s after it began
                await().atMost(Duration.ofSeconds(120)).until(() -> silent.accepted() >= 10);
                long waiting = Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t.getName().contains("PostgreSQL JDBC driver connection thread"))
                        .count();
                assertThat(waiting)
                        .as("the driver's threads still waiting on a silent socket")
                        .isLessThanOrEqualTo(3);
            }
        }
    }
}
