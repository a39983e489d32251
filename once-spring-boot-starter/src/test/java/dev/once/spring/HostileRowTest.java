package dev.once.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import dev.once.spring.values.Quote;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Anyone who can write the cache table can put any type name in a row. These rows must never load or
 * instantiate the class they name: the value is a miss, purged and loaded again.
 */
class HostileRowTest {
    private static final String GADGET = "dev.once.spring.hostile.Gadget";
    private final String table = TestDatabases.newTable("hostile");
    private final Quote quote = new Quote("AAPL", new BigDecimal("187.25"), Instant.parse("2026-01-02T03:04:05Z"));

    @BeforeEach
    void noMark() {
        System.clearProperty("once.test.gadget");
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE", "POSTGRES"})
    void get_rowNamingAClassOutsideTheAllowlist_neverLoadsItAndReloads(Db db) throws Exception {
        try (OnceCacheManager m = SpringCaches.manager(db, table, b -> {})) {
            OnceSpringCache quotes = m.getCache("quotes");
            quotes.put("AAPL", quote);
            assertThat(SpringCaches.value(db, table, "quotes", "AAPL"))
                    .contains("\"t\":\"dev.once.spring.values.Quote\"");
            for (String type : List.of(
                    GADGET,
                    "java.util.List<" + GADGET + ">",
                    "java.util.Map<java.lang.String," + GADGET + ">",
                    "javax.naming.InitialContext")) {
                SpringCaches.overwrite(
                        db,
                        table,
                        "quotes",
                        "AAPL",
                        "{\"t\":\"" + type + "\",\"v\":{\"command\":\"touch /tmp/pwned\"}}");

                assertThat(quotes.get("AAPL")).as(type).isNull(); // a miss, never the gadget
                assertThat(System.getProperty("once.test.gadget")).as(type).isNull();

                AtomicInteger calls = new AtomicInteger();
                Quote q = quotes.get("AAPL", () -> {
                    calls.incrementAndGet();
                    return quote;
                });
                assertThat(q).isEqualTo(quote);
                assertThat(calls).hasValue(1); // the hostile row was purged and the key loaded again
                assertThat(System.getProperty("once.test.gadget")).as(type).isNull();
                assertThat(SpringCaches.value(db, table, "quotes", "AAPL")).contains("dev.once.spring.values.Quote");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE"})
    void get_cacheWithConfiguredType_readsThatTypeWhateverTheRowNames(Db db) throws Exception {
        try (OnceCacheManager m =
                SpringCaches.manager(db, table, b -> b.allowedPackages().valueType("typed", Quote.class))) {
            OnceSpringCache typed = m.getCache("typed");
            typed.put("AAPL", quote);
            String stored = SpringCaches.value(db, table, "typed", "AAPL");
            SpringCaches.overwrite(
                    db, table, "typed", "AAPL", stored.replace("{\"d\"", "{\"t\":\"" + GADGET + "\",\"d\""));
            assertThat(SpringCaches.value(db, table, "typed", "AAPL")).contains(GADGET);

            assertThat(typed.get("AAPL", Quote.class)).isEqualTo(quote);
            assertThat(System.getProperty("once.test.gadget")).isNull();
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE"})
    void get_rowThatIsNotJson_isAMissNotAnError(Db db) throws Exception {
        try (OnceCacheManager m = SpringCaches.manager(db, table, b -> {})) {
            OnceSpringCache quotes = m.getCache("quotes");
            quotes.put("AAPL", quote);
            SpringCaches.overwrite(db, table, "quotes", "AAPL", "\u00ac\u00ed\u0000\u0005sr\u0000 java serialization");
            assertThat(quotes.get("AAPL")).isNull();
            assertThat(quotes.get("AAPL", () -> quote)).isEqualTo(quote);
        }
    }
}
