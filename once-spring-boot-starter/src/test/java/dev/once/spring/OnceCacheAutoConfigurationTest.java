package dev.once.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.FaultProxy;
import dev.once.jdbc.testing.TestDatabases;
import dev.once.spring.values.Quote;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.cache.autoconfigure.CacheAutoConfiguration;
import org.springframework.boot.cache.autoconfigure.metrics.CacheMetricsAutoConfiguration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.cache.CacheManager;
import org.springframework.cache.annotation.EnableCaching;
import org.springframework.cache.concurrent.ConcurrentMapCacheManager;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The auto-configuration in application contexts on real databases. */
class OnceCacheAutoConfigurationTest {
    private final String table = TestDatabases.newTable("boot");

    private ApplicationContextRunner runner(Db db) {
        return runner(() -> TestDatabases.pool(db, 4, -1));
    }

    private ApplicationContextRunner runner(java.util.function.Supplier<DataSource> dataSource) {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(
                        OnceCacheAutoConfiguration.class,
                        OnceCacheHealthAutoConfiguration.class,
                        OnceCacheMetricsAutoConfiguration.class,
                        CacheAutoConfiguration.class,
                        MetricsAutoConfiguration.class,
                        CacheMetricsAutoConfiguration.class))
                .withUserConfiguration(Caching.class)
                .withBean(DataSource.class, dataSource)
                .withBean(MeterRegistry.class, SimpleMeterRegistry::new)
                .withPropertyValues("once.cache.table=" + table, "once.cache.allowed-packages=dev.once.spring.values");
    }

    @Configuration(proxyBeanMethods = false)
    @EnableCaching
    static class Caching {}

    @Configuration(proxyBeanMethods = false)
    static class OwnCacheManager {
        @Bean
        CacheManager myCacheManager() {
            return new ConcurrentMapCacheManager("mine");
        }
    }

    @Test
    void cacheManager_dataSourcePresent_isOnceAndSpringsOwnBacksOff() {
        runner(Db.SQLITE).run(ctx -> {
            assertThat(ctx).hasNotFailed();
            assertThat(ctx).hasSingleBean(CacheManager.class);
            assertThat(ctx.getBean(CacheManager.class)).isInstanceOf(OnceCacheManager.class);
        });
    }

    /**
     * Two applications on one table with a cache of the same name read each other's values when a
     * cache's namespace is its name (helper-62): the namespace now starts with {@code
     * spring.application.name}, so each reads its own, replicas of one application share, and {@code
     * once.cache.namespace-prefix=} (empty) shares on purpose.
     */
    @Test
    void cacheManager_twoApplicationsOnOneTable_cachesOfTheSameNameKeptApart() {
        java.util.function.BiFunction<ApplicationContextRunner, String, String> quote = (runner, loaded) -> {
            String[] got = new String[1];
            runner.run(ctx -> {
                assertThat(ctx).hasNotFailed();
                got[0] = ctx.getBean(CacheManager.class).getCache("quotes").get("AAPL", () -> loaded);
            });
            return got[0];
        };
        ApplicationContextRunner billing = runner(Db.SQLITE).withPropertyValues("spring.application.name=billing");
        ApplicationContextRunner shipping = runner(Db.SQLITE).withPropertyValues("spring.application.name=shipping");
        assertThat(quote.apply(billing, "billing's")).isEqualTo("billing's");
        assertThat(quote.apply(shipping, "shipping's"))
                .as("another application")
                .isEqualTo("shipping's");
        assertThat(quote.apply(billing, "loaded again"))
                .as("a replica of the first")
                .isEqualTo("billing's");
        ApplicationContextRunner shared = runner(Db.SQLITE).withPropertyValues("once.cache.namespace-prefix=");
        assertThat(quote.apply(shared, "shared")).isEqualTo("shared");
        assertThat(quote.apply(shared.withPropertyValues("spring.application.name=other"), "loaded again"))
                .as("an empty prefix shares across applications on purpose")
                .isEqualTo("shared");
    }

    @Test
    void cacheManager_userDefinedOne_backsOff() {
        runner(Db.SQLITE).withUserConfiguration(OwnCacheManager.class).run(ctx -> {
            assertThat(ctx).hasSingleBean(CacheManager.class);
            assertThat(ctx).doesNotHaveBean(OnceCacheManager.class);
            assertThat(ctx).doesNotHaveBean(OnceCacheHealthIndicator.class);
        });
    }

    @Test
    void cacheManager_noDataSource_backsOff() {
        new ApplicationContextRunner()
                .withConfiguration(
                        AutoConfigurations.of(OnceCacheAutoConfiguration.class, CacheAutoConfiguration.class))
                .withUserConfiguration(Caching.class)
                .run(ctx -> {
                    assertThat(ctx).doesNotHaveBean(OnceCacheManager.class);
                    assertThat(ctx).hasSingleBean(CacheManager.class); // Spring Boot's choice (Caffeine here)
                });
    }

    @Test
    void cacheManager_disabledByProperty_springBootsChoiceApplies() {
        runner(Db.SQLITE)
                .withPropertyValues("once.cache.enabled=false", "spring.cache.type=simple")
                .run(ctx -> {
                    assertThat(ctx).doesNotHaveBean(OnceCacheManager.class);
                    assertThat(ctx.getBean(CacheManager.class)).isInstanceOf(ConcurrentMapCacheManager.class);
                });
    }

    @Test
    void properties_defaultsAndPerCacheOverrides_reachEachCache() {
        runner(Db.SQLITE)
                .withPropertyValues(
                        "once.cache.ttl=10m",
                        "once.cache.cache-names=quotes,plain",
                        "once.cache.caches.quotes.ttl=1h",
                        "once.cache.caches.quotes.stale-while-revalidate=5m",
                        "once.cache.caches.quotes.negative-ttl=30s",
                        "once.cache.caches.quotes.near-cache=10000",
                        "once.cache.near-cache-max-bytes=8MB",
                        "once.cache.caches.typed.type=dev.once.spring.values.Quote")
                .run(ctx -> {
                    OnceCacheProperties p = ctx.getBean(OnceCacheProperties.class);
                    assertThat(p.getTtl()).isEqualTo(Duration.ofMinutes(10));
                    assertThat(p.getNearCacheMaxBytes().toBytes()).isEqualTo(8L << 20);
                    OnceCacheProperties.CacheSpec quotes = p.getCaches().get("quotes");
                    assertThat(quotes.getTtl()).isEqualTo(Duration.ofHours(1));
                    assertThat(quotes.getStaleWhileRevalidate()).isEqualTo(Duration.ofMinutes(5));
                    assertThat(quotes.getNegativeTtl()).isEqualTo(Duration.ofSeconds(30));
                    assertThat(quotes.getNearCache()).isEqualTo(10_000L);

                    OnceCacheManager m = ctx.getBean(OnceCacheManager.class);
                    assertThat(m.getCacheNames()).contains("quotes", "plain");
                    m.getCache("quotes").get("AAPL", () -> "q");
                    m.getCache("plain").get("AAPL", () -> "p");
                    assertThat(storedTtl(Db.SQLITE, "quotes"))
                            .isCloseTo(Duration.ofHours(1).toMillis(), within(5));
                    assertThat(storedTtl(Db.SQLITE, "plain"))
                            .isCloseTo(Duration.ofMinutes(10).toMillis(), within(5));

                    // the near cache of quotes answers the second read; plain has none
                    m.getCache("quotes").get("AAPL", () -> "not called");
                    m.getCache("plain").get("AAPL", () -> "not called");
                    MeterRegistry registry = ctx.getBean(MeterRegistry.class);
                    assertThat(requests(registry, "quotes", "near_hit")).isEqualTo(1);
                    assertThat(requests(registry, "plain", "near_hit")).isZero();
                    assertThat(requests(registry, "plain", "hit")).isEqualTo(1);

                    // a failure is cached for quotes (negative-ttl): the second call does not run
                    int[] calls = {0};
                    for (int i = 0; i < 2; i++) {
                        try {
                            m.getCache("quotes").get("BAD", () -> {
                                calls[0]++;
                                throw new IllegalStateException("upstream 503");
                            });
                        } catch (RuntimeException expected) {
                            // both fail
                        }
                    }
                    assertThat(calls[0]).isEqualTo(1);

                    // the configured type reads a row whatever type it names
                    Quote q = new Quote("AAPL", BigDecimal.TEN, Instant.EPOCH);
                    m.getCache("typed").put("AAPL", q);
                    assertThat(m.getCache("typed").get("AAPL", Quote.class)).isEqualTo(q);
                });
    }

    @Test
    void properties_perCacheStaleWhileRevalidate_servesTheOldValueWhileOneRefreshRuns() {
        runner(Db.SQLITE)
                .withPropertyValues(
                        "once.cache.caches.fast.ttl=300ms", "once.cache.caches.fast.stale-while-revalidate=1m")
                .run(ctx -> {
                    OnceSpringCache fast = ctx.getBean(OnceCacheManager.class).getCache("fast");
                    AtomicInteger calls = new AtomicInteger();
                    assertThat(fast.get("k", () -> "v" + calls.incrementAndGet()))
                            .isEqualTo("v1");
                    Thread.sleep(500); // expired, inside the stale window
                    assertThat(fast.get("k", () -> "v" + calls.incrementAndGet()))
                            .isEqualTo("v1"); // stale, refreshing
                    long deadline = System.currentTimeMillis() + 10_000;
                    while (calls.get() < 2 && System.currentTimeMillis() < deadline) Thread.sleep(20);
                    Thread.sleep(100);
                    assertThat(fast.get("k", () -> "v" + calls.incrementAndGet()))
                            .isEqualTo("v2");
                    assertThat(calls).hasValue(2);
                });
    }

    @Test
    void customizer_runsAfterTheProperties() {
        runner(Db.SQLITE)
                .withPropertyValues("once.cache.caches.quotes.ttl=1h")
                .withBean(
                        OnceCacheManagerCustomizer.class,
                        () -> b -> b.configure("quotes", o -> o.ttl(Duration.ofSeconds(90))))
                .run(ctx -> {
                    OnceCacheManager m = ctx.getBean(OnceCacheManager.class);
                    m.getCache("quotes").get("k", () -> "v");
                    assertThat(storedTtl(Db.SQLITE, "quotes")).isCloseTo(90_000L, within(5));
                });
    }

    @Test
    void cacheMetrics_springsCacheGetsAndOnceMetersInTheAppsRegistry() {
        runner(Db.SQLITE).withPropertyValues("once.cache.cache-names=quotes").run(ctx -> {
            OnceCacheManager m = ctx.getBean(OnceCacheManager.class);
            m.getCache("quotes").get("k", () -> "v");
            m.getCache("quotes").get("k", () -> "v");
            MeterRegistry registry = ctx.getBean(MeterRegistry.class);
            assertThat(registry.get("cache.gets")
                            .tag("cache", "quotes")
                            .tag("result", "hit")
                            .functionCounter()
                            .count())
                    .isEqualTo(1);
            assertThat(registry.get("cache.gets")
                            .tag("cache", "quotes")
                            .tag("result", "miss")
                            .functionCounter()
                            .count())
                    .isEqualTo(1);
            assertThat(requests(registry, "quotes", "miss")).isEqualTo(1);
            assertThat(requests(registry, "quotes", "hit")).isEqualTo(1);
        });
    }

    @Test
    void health_sqlite_upThenDownWhenTheTableIsGone() throws Exception {
        runner(Db.SQLITE).withPropertyValues("once.cache.cache-names=quotes").run(ctx -> {
            OnceCacheHealthIndicator health = ctx.getBean("onceHealthIndicator", OnceCacheHealthIndicator.class);
            Health up = health.health();
            assertThat(up.getStatus()).isEqualTo(Status.UP);
            assertThat(up.getDetails())
                    .containsEntry("table", table)
                    .containsEntry("outage", false)
                    .containsEntry("listen", "not used (polling)")
                    .containsEntry("caches", Map.of("quotes", "ok"));

            TestDatabases.execute(Db.SQLITE, "DROP TABLE " + table);
            Health down = health.health();
            assertThat(down.getStatus()).isEqualTo(Status.DOWN);
            assertThat(down.getDetails().get("error").toString()).contains("the table cannot be read");
        });
    }

    @Test
    void health_postgres_listenUp() {
        runner(Db.POSTGRES).withPropertyValues("once.cache.cache-names=quotes").run(ctx -> {
            OnceCacheHealthIndicator health = ctx.getBean("onceHealthIndicator", OnceCacheHealthIndicator.class);
            long deadline = System.currentTimeMillis() + 10_000;
            Health h = health.health();
            while (!"up".equals(h.getDetails().get("listen")) && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
                h = health.health();
            }
            assertThat(h.getStatus()).isEqualTo(Status.UP);
            assertThat(h.getDetails()).containsEntry("listen", "up").containsEntry("database", "PostgreSQL");
        });
    }

    @Test
    void health_postgresBlackholed_downWithinItsTimeoutThenUpAgain() throws Exception {
        String url = TestDatabases.url(Db.POSTGRES);
        try (FaultProxy proxy = FaultProxy.to(url)) {
            com.zaxxer.hikari.HikariConfig pool = new com.zaxxer.hikari.HikariConfig();
            pool.setJdbcUrl(proxy.url(url));
            pool.setMaximumPoolSize(4);
            runner(() -> new com.zaxxer.hikari.HikariDataSource(pool))
                    .withPropertyValues("once.cache.cache-names=quotes")
                    .run(ctx -> {
                        OnceCacheHealthIndicator health =
                                ctx.getBean("onceHealthIndicator", OnceCacheHealthIndicator.class);
                        OnceCacheManager m = ctx.getBean(OnceCacheManager.class);
                        assertThat(health.health().getStatus()).isEqualTo(Status.UP);

                        proxy.blackhole();
                        assertThat(m.getCache("quotes").get("k", () -> "straight from the method"))
                                .isEqualTo("straight from the method"); // fails open
                        long started = System.nanoTime();
                        Health down = health.health();
                        long tookMillis = (System.nanoTime() - started) / 1_000_000;
                        assertThat(down.getStatus()).isEqualTo(Status.DOWN);
                        assertThat(tookMillis).isLessThan(4_000); // store-timeout 1 s + 1 s, and some slack
                        System.out.println("health with the database blackholed: DOWN in " + tookMillis + " ms: "
                                + down.getDetails());

                        proxy.pass();
                        long deadline = System.currentTimeMillis() + 30_000;
                        Health h = health.health();
                        while (h.getStatus() != Status.UP && System.currentTimeMillis() < deadline) {
                            Thread.sleep(100);
                            h = health.health();
                        }
                        assertThat(h.getStatus()).isEqualTo(Status.UP);
                        assertThat(h.getDetails()).containsEntry("outage", false);
                    });
        }
    }

    private long storedTtl(Db db, String cache) throws Exception {
        try (Connection c = TestDatabases.connect(db);
                PreparedStatement ps = c.prepareStatement(
                        "SELECT expires_at - updated_at FROM " + table + " WHERE namespace = ? AND state = 1")) {
            ps.setString(1, cache);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).as("a stored value in " + cache).isTrue();
                return rs.getLong(1);
            }
        }
    }

    private static double requests(MeterRegistry registry, String namespace, String result) {
        var c = registry.find("once.cache.requests")
                .tag("namespace", namespace)
                .tag("result", result)
                .counter();
        return c == null ? 0 : c.count();
    }

    private static org.assertj.core.data.Offset<Long> within(long ms) {
        return org.assertj.core.data.Offset.offset(ms);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(
            delimiter = '|',
            value = {
                "once.cache.ttl=-5s | once.cache.ttl = PT-5S",
                "once.cache.lease=0s | once.cache.lease = PT0S",
                "once.cache.store-timeout=0 | once.cache.store-timeout = PT0S",
                "once.cache.near-cache=-1 | once.cache.near-cache = -1",
                "once.cache.near-cache-max-bytes=0 | once.cache.near-cache-max-bytes = 0B",
                "once.cache.table=atk_x;drop | once.cache.table = atk_x;drop",
                "once.cache.caches.quotes.ttl=-1s | once.cache.caches.quotes.ttl = PT-1S",
                "once.cache.caches.quotes.near-cache=-2 | once.cache.caches.quotes.near-cache = -2",
                "once.cache.caches.quotes.type=com.nope.Missing | once.cache.caches.quotes.type = com.nope.Missing"
            })
    void properties_badValueWithDynamicCaches_failsStartupNamingThePropertyAndValue(String property, String named) {
        runner(Db.SQLITE).withPropertyValues(property).run(ctx -> {
            assertThat(ctx).hasFailed();
            Throwable cause = ctx.getStartupFailure();
            while (cause.getCause() != null && !(cause instanceof IllegalArgumentException)) cause = cause.getCause();
            assertThat(cause).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(named);
        });
    }
}
