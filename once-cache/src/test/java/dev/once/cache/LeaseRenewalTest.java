package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.FaultProxy;
import dev.once.jdbc.testing.TestDatabases;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * Issue 11 item 7: many live leaders behind a slow database with a small pool. Renewing their leases
 * one statement each, one after another, fell behind the lease, and other processes took live keys
 * over (a second paid call each). The loads end one after another: a pool exhausted by dozens of
 * simultaneous final writes delays the one renewal statement too (see docs/once-cache.md, failure modes).
 */
class LeaseRenewalTest {

    @Test
    void renew_manySlowLoadersBehindASlowDatabase_noLiveLeaseLost() throws Exception {
        String url = TestDatabases.url(Db.POSTGRES);
        String ns = TestDatabases.newTable("ns");
        int keys = 60;
        AtomicInteger calls = new AtomicInteger();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        HikariConfig slow = new HikariConfig();
        slow.setMaximumPoolSize(2);
        try (FaultProxy proxy = FaultProxy.to(url)) {
            slow.setJdbcUrl(proxy.url(url));
            try (HikariDataSource slowPool = new HikariDataSource(slow);
                    OnceCache<String> leader = OnceCache.builder(slowPool)
                            .namespace(ns)
                            .codec(Codec.string())
                            .lease(Duration.ofMillis(900))
                            .notify(false)
                            .build();
                    OnceCache<String> other = OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                            .namespace(ns)
                            .codec(Codec.string())
                            .meterRegistry(registry)
                            .build()) {
                List<CompletableFuture<String>> leaders = new ArrayList<>();
                for (int k = 0; k < keys; k++) {
                    String key = "k" + k;
                    long loadMillis = 4_000 + 50L * k; // they end one after another, each write on its own
                    leaders.add(leader.getAsync(key, () -> {
                        calls.incrementAndGet();
                        Thread.sleep(loadMillis);
                        return "leader-" + key;
                    }));
                }
                Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> calls.get() == keys);
                proxy.delay(15); // every round trip of the leader's process now takes 30 ms or more
                List<CompletableFuture<String>> waiters = new ArrayList<>();
                for (int k = 0; k < keys; k++) {
                    String key = "k" + k;
                    waiters.add(other.getAsync(key, () -> {
                        calls.incrementAndGet();
                        return "taken-over-" + key;
                    }));
                }
                for (int k = 0; k < keys; k++) {
                    assertThat(leaders.get(k).get(60, TimeUnit.SECONDS)).isEqualTo("leader-k" + k);
                    assertThat(waiters.get(k).get(60, TimeUnit.SECONDS)).isEqualTo("leader-k" + k);
                }
            }
        }
        assertThat(calls).hasValue(keys);
        assertThat(registry.find("once.cache.lease.takeovers").counter().count())
                .isZero();
    }
}
