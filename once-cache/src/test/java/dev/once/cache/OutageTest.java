package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real PostgreSQL stopped and started again (same port, same data) while the cache is under load. */
class OutageTest {
    @TempDir
    Path data;

    private int port;

    private EmbeddedPostgres start() throws IOException {
        return EmbeddedPostgres.builder()
                .setPort(port)
                .setDataDirectory(data)
                .setCleanDataDirectory(false)
                .start();
    }

    private HikariDataSource pool() {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl("jdbc:postgresql://localhost:" + port + "/postgres?user=postgres&connectTimeout=2");
        c.setMaximumPoolSize(8);
        c.setConnectionTimeout(500);
        c.setInitializationFailTimeout(-1);
        return new HikariDataSource(c);
    }

    @Test
    void get_databaseStoppedAndRestartedUnderLoad_failsOpenThenResumesCaching() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        EmbeddedPostgres pg = start();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        ConcurrentHashMap<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        AtomicInteger errors = new AtomicInteger();
        AtomicInteger wrong = new AtomicInteger();
        AtomicBoolean running = new AtomicBoolean(true);
        try (HikariDataSource pool = pool();
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace("outage")
                        .codec(Codec.string())
                        .meterRegistry(registry)
                        .build()) {
            List<Thread> load = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                load.add(Thread.ofPlatform().start(() -> {
                    while (running.get()) {
                        for (int k = 0; k < 10; k++) {
                            String key = "k" + k;
                            try {
                                String v = cache.get(key, () -> {
                                    calls.computeIfAbsent(key, x -> new AtomicInteger())
                                            .incrementAndGet();
                                    return "v-" + key;
                                });
                                if (!v.equals("v-" + key)) wrong.incrementAndGet();
                            } catch (RuntimeException e) {
                                errors.incrementAndGet();
                            }
                        }
                    }
                }));
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> hits(registry) > 100);
            assertThat(calls.values().stream().mapToInt(AtomicInteger::get).sum())
                    .isEqualTo(10);

            pg.close(); // the database stops
            await().atMost(Duration.ofSeconds(30)).until(() -> count(registry, "fail_open") > 50);

            pg = start(); // and comes back with its data
            double hitsBefore = hits(registry);
            await().atMost(Duration.ofSeconds(30)).until(() -> hits(registry) > hitsBefore + 100);
            running.set(false);
            for (Thread t : load) t.join();
        } finally {
            running.set(false);
            pg.close();
        }
        assertThat(errors).hasValue(0);
        assertThat(wrong).hasValue(0);
    }

    @Test
    void get_failClosed_databaseDown_throwsClearError() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        EmbeddedPostgres pg = start();
        try (HikariDataSource pool = pool();
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace("closed")
                        .codec(Codec.string())
                        .failOpen(false)
                        .build()) {
            assertThat(cache.get("k", () -> "v")).isEqualTo("v");
            pg.close();
            assertThatThrownBy(() -> cache.get("k2", () -> "v2"))
                    .isInstanceOf(CacheLoadException.class)
                    .hasMessageContaining("the cache table is unreachable");
        } finally {
            pg.close();
        }
    }

    private static double hits(SimpleMeterRegistry r) {
        return count(r, "hit");
    }

    private static double count(SimpleMeterRegistry r, String result) {
        var c = r.find("once.cache.requests").tag("result", result).counter();
        return c == null ? 0 : c.count();
    }
}
