package dev.once.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.FaultProxy;
import dev.once.jdbc.testing.TestDatabases;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * A cache whose database cannot be reached when it is made (at startup, or on a dynamic cache's first
 * use) fails open as a started cache does in an outage, and starts once the database answers (helper-30
 * finding 5). The database is a real PostgreSQL behind a TCP proxy that stops answering.
 */
class UnreachableDatabaseTest {
    private final String table = TestDatabases.newTable("unreachable");

    private static DataSource pool(FaultProxy proxy, String url) {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(proxy.url(url));
        c.setMaximumPoolSize(4);
        c.setConnectionTimeout(1_000);
        c.setInitializationFailTimeout(-1); // the pool itself starts without the database
        return new HikariDataSource(c);
    }

    @Test
    void cacheManager_databaseUnreachableAtStartupAndFirstUse_failsOpenThenStarts() throws Exception {
        String url = TestDatabases.url(Db.POSTGRES);
        try (FaultProxy proxy = FaultProxy.to(url)) {
            proxy.blackhole();
            new ApplicationContextRunner()
                    .withConfiguration(AutoConfigurations.of(OnceCacheAutoConfiguration.class))
                    .withBean(DataSource.class, () -> pool(proxy, url))
                    .withPropertyValues("once.cache.table=" + table, "once.cache.cache-names=quotes")
                    .run(ctx -> {
                        assertThat(ctx).hasNotFailed(); // failed with "cannot start the cache" before
                        OnceCacheManager m = ctx.getBean(OnceCacheManager.class);
                        AtomicInteger calls = new AtomicInteger();
                        long started = System.nanoTime();
                        for (int i = 0; i < 20; i++) {
                            String v = m.getCache("quotes").get("k", () -> "direct#" + calls.incrementAndGet());
                            assertThat(v).startsWith("direct#");
                        }
                        long quotesMillis = (System.nanoTime() - started) / 1_000_000;
                        assertThat(calls).hasValue(20); // fail-open: every call ran the method
                        // callers do not wait for a start: 20 calls, each start attempt hanging ~1 s
                        assertThat(quotesMillis).isLessThan(1_500);

                        OnceSpringCache other = m.getCache("other"); // first use: one attempt, in the caller
                        started = System.nanoTime();
                        for (int i = 0; i < 20; i++)
                            assertThat(other.get("k", () -> "direct")).isEqualTo("direct");
                        assertThat((System.nanoTime() - started) / 1_000_000).isLessThan(1_500);
                        assertThat(other.get("k")).isNull();

                        proxy.pass();
                        long deadline = System.currentTimeMillis() + 20_000;
                        while (m.getCache("quotes").getNativeCache() == null && System.currentTimeMillis() < deadline)
                            Thread.sleep(100);
                        assertThat(m.getCache("quotes").getNativeCache()).isNotNull();
                        calls.set(0);
                        assertThat(m.getCache("quotes").get("k2", () -> "loaded#" + calls.incrementAndGet()))
                                .isEqualTo("loaded#1");
                        assertThat(m.getCache("quotes").get("k2", () -> "loaded#" + calls.incrementAndGet()))
                                .isEqualTo("loaded#1"); // cached now
                        while (other.getNativeCache() == null && System.currentTimeMillis() < deadline)
                            Thread.sleep(100);
                        assertThat(other.getNativeCache()).isNotNull();
                    });
        }
    }
}
