package dev.once.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import dev.once.spring.hostile.Gadget;
import dev.once.spring.values.Endpoint;
import dev.once.spring.values.Event;
import dev.once.spring.values.Offer;
import dev.once.spring.values.Quote;
import dev.once.spring.values.Shape;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.cache.annotation.Cacheable;
import org.springframework.cache.annotation.EnableCaching;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The type a value is read as comes from the methods that use the cache, not from the row (helper-30's
 * findings 1, 2 and 7): a row naming another type is a miss, reloaded, never a ClassCastException in the
 * caller nor an application class built from the row.
 */
class DeclaredValueTypeTest {
    private static final Quote QUOTE =
            new Quote("AAPL", new BigDecimal("187.25"), Instant.parse("2026-01-02T03:04:05Z"));

    static class Quotes {
        final AtomicInteger calls = new AtomicInteger();

        public int calls() {
            return calls.get();
        }

        @Cacheable(cacheNames = "quotes", sync = true)
        public Quote quote(String symbol) {
            calls.incrementAndGet();
            return QUOTE;
        }

        @Cacheable(cacheNames = "maybe", sync = true)
        public Optional<Quote> maybe(String symbol) {
            calls.incrementAndGet();
            return Optional.of(QUOTE);
        }

        @Cacheable(cacheNames = "nested", sync = true)
        public List<List<Quote>> nested(String k) {
            calls.incrementAndGet();
            return List.of(List.of(QUOTE));
        }

        @Cacheable(cacheNames = "byName", sync = true)
        public Map<String, List<Quote>> byName(String k) {
            calls.incrementAndGet();
            return Map.of("k", List.of(QUOTE));
        }

        @Cacheable(cacheNames = "shape", sync = true)
        public Shape shape(String k) {
            calls.incrementAndGet();
            return new Shape.Circle(1);
        }

        @Cacheable(cacheNames = "shapes", sync = true)
        public List<Shape> shapes(String k) {
            calls.incrementAndGet();
            return List.of(new Shape.Circle(1), new Shape.Square(2));
        }

        @Cacheable(cacheNames = "events", sync = true)
        public Event event(String k) {
            calls.incrementAndGet();
            return new Event(k, QUOTE);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableCaching
    static class App {
        @Bean
        Quotes quotes() {
            return new Quotes();
        }
    }

    private final String table = TestDatabases.newTable("declared");
    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(OnceCacheAutoConfiguration.class))
            .withUserConfiguration(App.class)
            .withBean(DataSource.class, () -> TestDatabases.pool(Db.SQLITE, 4, -1))
            .withPropertyValues("once.cache.table=" + table, "once.cache.allowed-packages=dev.once.spring.values");

    @BeforeEach
    void noMarks() {
        System.clearProperty(Gadget.MARK);
        System.clearProperty(Endpoint.MARK);
    }

    @Test
    void cacheable_rowNamingAnotherType_isReloadedAsTheDeclaredType() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            assertThat(q.quote("AAPL")).isEqualTo(QUOTE);
            int calls = 1;
            for (String row : List.of(
                    "{\"t\":\"java.lang.String\",\"v\":\"pwned\"}",
                    "{\"t\":\"java.util.Map\",\"d\":\"dev.once.spring.values.Quote\",\"v\":{\"a\":1}}",
                    "{\"t\":\"dev.once.spring.values.Endpoint\",\"d\":\"dev.once.spring.values.Quote\","
                            + "\"v\":\"http://evil.example\"}")) {
                SpringCaches.overwrite(Db.SQLITE, table, "quotes", "AAPL", row);
                Object got = q.quote("AAPL"); // a ClassCastException here before
                assertThat(got).as(row).isEqualTo(QUOTE);
                assertThat(q.calls()).as(row).isEqualTo(++calls); // the row was purged and the key loaded again
                assertThat(System.getProperty(Endpoint.MARK)).as(row).isNull();
            }
            assertThat(SpringCaches.value(Db.SQLITE, table, "quotes", "AAPL"))
                    .contains("\"t\":\"dev.once.spring.values.Quote\"");
        });
    }

    static class Offers {
        final AtomicInteger calls = new AtomicInteger();

        public int calls() {
            return calls.get();
        }

        @Cacheable(cacheNames = "quotes", sync = true)
        public Offer quote(String symbol) {
            calls.incrementAndGet();
            return OFFER;
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableCaching
    static class NextVersion {
        @Bean
        Offers offers() {
            return new Offers();
        }
    }

    private static final Offer OFFER = new Offer("AAPL", new BigDecimal("1.50"), Instant.parse("2026-11-29T00:00:00Z"));

    /**
     * The next version of an application returns another type from a cache's method (or a second
     * application of the same name shares the table): the rows the other wrote read as this type field
     * for field, and were served as such (helper-62's medium finding, its part left open by the
     * namespace prefix). Now each side's rows are misses to the other, loaded again.
     */
    @Test
    void cacheable_rowWrittenAsAnotherTypeWhoseJsonReadsAsThisOne_isAMiss() throws Exception {
        runner.run(ctx -> assertThat(ctx.getBean(Quotes.class).quote("AAPL")).isEqualTo(QUOTE));
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(OnceCacheAutoConfiguration.class))
                .withUserConfiguration(NextVersion.class)
                .withBean(DataSource.class, () -> TestDatabases.pool(Db.SQLITE, 4, -1))
                .withPropertyValues("once.cache.table=" + table, "once.cache.allowed-packages=dev.once.spring.values")
                .run(ctx -> {
                    Offers offers = ctx.getBean(Offers.class);
                    assertThat(offers.quote("AAPL")).isEqualTo(OFFER); // Offer[AAPL, 187.25, 2026-01-02] before
                    assertThat(offers.calls()).isEqualTo(1);
                    assertThat(offers.quote("AAPL")).isEqualTo(OFFER); // its own row, read back
                    assertThat(offers.calls()).isEqualTo(1);
                });
        assertThat(SpringCaches.value(Db.SQLITE, table, "quotes", "AAPL"))
                .contains("\"d\":\"dev.once.spring.values.Offer\"");
        runner.withPropertyValues("once.cache.caches.quotes.type=dev.once.spring.values.Quote")
                .run(ctx -> {
                    Quotes q = ctx.getBean(Quotes.class);
                    assertThat(q.quote("AAPL")).as("a configured type").isEqualTo(QUOTE);
                    assertThat(q.calls()).isEqualTo(1);
                });
    }

    @Test
    void cacheable_optional_readsItsContentAsTheDeclaredType() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            assertThat(q.maybe("AAPL")).contains(QUOTE);
            SpringCaches.overwrite(
                    Db.SQLITE,
                    table,
                    "maybe",
                    "AAPL",
                    "{\"t\":\"java.lang.String\",\"d\":\"java.util.Optional<dev.once.spring.values.Quote>\","
                            + "\"v\":\"pwned\"}");
            assertThat(q.maybe("AAPL")).contains(QUOTE);
            assertThat(q.calls()).isEqualTo(2);
        });
    }

    @Test
    void cacheable_nestedCollections_comeBackAsTheirDeclaredElements() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            q.nested("k");
            q.byName("k");
            Object nested = q.nested("k"); // from the row
            Object byName = q.byName("k");
            assertThat(q.calls()).isEqualTo(2);
            assertThat(((List<?>) ((List<?>) nested).get(0)).get(0)).isEqualTo(QUOTE); // a LinkedHashMap before
            assertThat(((List<?>) ((Map<?, ?>) byName).get("k")).get(0)).isEqualTo(QUOTE);
        });
    }

    @Test
    void cacheable_jsonTypeInfoNamingAClassOutsideTheAllowedPackages_neverLoadsIt() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            assertThat(q.event("e").payload()).isEqualTo(QUOTE);
            assertThat(q.event("e").payload()).isEqualTo(QUOTE); // its @class, an allowed type, reads back
            SpringCaches.overwrite(
                    Db.SQLITE,
                    table,
                    "events",
                    "e",
                    "{\"t\":\"dev.once.spring.values.Event\",\"d\":\"dev.once.spring.values.Event\",\"v\":{\"name\":\"e\",\"payload\":"
                            + "{\"@class\":\"" + Gadget.class.getName() + "\",\"command\":\"id\"}}}");
            assertThat(q.event("e")).isEqualTo(new Event("e", QUOTE));
            assertThat(System.getProperty(Gadget.MARK)).isNull(); // initialised, constructed and set before
            assertThat(q.calls()).isEqualTo(2);
        });
    }

    @Test
    void cacheable_interfaceType_readsTheRowsTypeOnlyWhenItIsOne() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            assertThat(q.shape("k")).isEqualTo(new Shape.Circle(1));
            assertThat(q.shape("k")).isEqualTo(new Shape.Circle(1)); // the row's type, a Circle, is a Shape
            SpringCaches.overwrite(
                    Db.SQLITE,
                    table,
                    "shape",
                    "k",
                    "{\"t\":\"dev.once.spring.values.Quote\",\"d\":\"dev.once.spring.values.Shape\",\"v\":{\"symbol\":\"X\"}}");
            Object got = q.shape("k"); // an allowed class, but not a Shape: reloaded
            assertThat(got).isEqualTo(new Shape.Circle(1));
            assertThat(q.calls()).isEqualTo(2);
        });
    }

    @Test
    void cacheable_listOfAnInterfaceWithoutTypeInfo_isNotCachedRatherThanReadAsMaps() {
        runner.run(ctx -> {
            Quotes q = ctx.getBean(Quotes.class);
            assertThat(q.shapes("k")).containsExactly(new Shape.Circle(1), new Shape.Square(2));
            assertThat(q.shapes("k")).containsExactly(new Shape.Circle(1), new Shape.Square(2));
            assertThat(q.calls()).isEqualTo(2); // each call ran the method: it would not read back (logged)
            assertThat(SpringCaches.value(Db.SQLITE, table, "shapes", "k")).isNull();
        });
    }
}
