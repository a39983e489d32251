package dev.once.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.cache.annotation.CacheEvict;
import org.springframework.cache.annotation.CachePut;
import org.springframework.cache.annotation.Cacheable;
import org.springframework.cache.annotation.EnableCaching;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Spring's caching annotations, through its aspect, on a once cache (SQLite). */
class CacheableTest {
    /** Object.toString() only: no stable key text. */
    static final class Session {}

    static class Quotes {
        private final AtomicInteger calls = new AtomicInteger();

        /** The bean is a proxy: its fields are not the target's, its methods reach the target. */
        public int calls() {
            return calls.get();
        }

        @Cacheable(cacheNames = "quotes", sync = true)
        public String quote(String symbol) {
            int n = calls.incrementAndGet();
            if (symbol.equals("BAD")) throw new IllegalStateException("upstream 503 for " + symbol);
            return symbol + "#" + n;
        }

        @Cacheable(cacheNames = "quotes", sync = true)
        public CompletableFuture<String> quoteAsync(String symbol) {
            int n = calls.incrementAndGet();
            return CompletableFuture.supplyAsync(() -> symbol + "@" + n);
        }

        @Cacheable(cacheNames = "sessions", sync = true)
        public String forSession(Session session) {
            calls.incrementAndGet();
            return "s";
        }

        @Cacheable(cacheNames = "objects", sync = true)
        public String obj(Object o) {
            return "obj(" + o + ")#" + calls.incrementAndGet();
        }

        @Cacheable(cacheNames = "objects", sync = true)
        public String two(Object a, Object b) {
            return "two(" + a + "," + b + ")#" + calls.incrementAndGet();
        }

        @CachePut(cacheNames = "quotes")
        public String refresh(String symbol) {
            return symbol + "!" + calls.incrementAndGet();
        }

        @CacheEvict(cacheNames = "quotes")
        public void forget(String symbol) {}
    }

    @Configuration(proxyBeanMethods = false)
    @EnableCaching
    static class App {
        @Bean
        Quotes quotes() {
            return new Quotes();
        }
    }

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(OnceCacheAutoConfiguration.class))
            .withUserConfiguration(App.class)
            .withBean(DataSource.class, () -> TestDatabases.pool(Db.SQLITE, 4, -1))
            .withPropertyValues("once.cache.table=" + TestDatabases.newTable("aspect"));

    @Test
    void cacheableSync_loadsOnceThenHits_andCachePutAndEvictApply() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            assertThat(q.quote("AAPL")).isEqualTo("AAPL#1");
            assertThat(q.quote("AAPL")).isEqualTo("AAPL#1");
            assertThat(q.calls()).isEqualTo(1);
            assertThat(q.refresh("AAPL")).isEqualTo("AAPL!2");
            assertThat(q.quote("AAPL")).isEqualTo("AAPL!2");
            q.forget("AAPL");
            assertThat(q.quote("AAPL")).isEqualTo("AAPL#3");
        });
    }

    @Test
    void cacheableSync_methodThrows_callerGetsTheMethodsExceptionAndNothingIsCached() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            assertThatThrownBy(() -> q.quote("BAD"))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("upstream 503 for BAD");
            assertThatThrownBy(() -> q.quote("BAD")).isInstanceOf(IllegalStateException.class);
            assertThat(q.calls()).isEqualTo(2);
        });
    }

    @Test
    void cacheableSync_completableFuture_goesThroughRetrieve() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            assertThat(q.quoteAsync("MSFT").get(10, TimeUnit.SECONDS)).isEqualTo("MSFT@1");
            assertThat(q.quoteAsync("MSFT").get(10, TimeUnit.SECONDS)).isEqualTo("MSFT@1");
            assertThat(q.calls()).isEqualTo(1);
        });
    }

    @Test
    void cacheable_keyWithoutStableText_refusedNamingTheTypeAndTheMethodIsNotCalled() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            assertThatThrownBy(() -> q.forSession(new Session()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cache 'sessions'")
                    .hasMessageContaining(Session.class.getName());
            assertThat(q.calls()).isEqualTo(0);
        });
    }

    @Test
    void cacheableSync_nullArguments_areKeysLikeAnyOther() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            assertThat(q.obj(null)).isEqualTo("obj(null)#1"); // a NullPointerException in KeyText before
            assertThat(q.obj(null)).isEqualTo("obj(null)#1");
            assertThat(q.obj("null")).isEqualTo("obj(null)#2"); // the string "null" is another key
            assertThat(q.two(null, 1)).isEqualTo("two(null,1)#3");
            assertThat(q.two(null, 1)).isEqualTo("two(null,1)#3");
            assertThat(q.two("null", 1)).isEqualTo("two(null,1)#4");
            assertThat(q.two(null, null)).isEqualTo("two(null,null)#5");
            assertThat(q.calls()).isEqualTo(5);
        });
    }
}
