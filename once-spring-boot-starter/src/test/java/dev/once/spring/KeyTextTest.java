package dev.once.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.spring.values.Quote;
import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.cache.interceptor.SimpleKey;

class KeyTextTest {
    record Req(String symbol, int days, Side side) {}

    enum Side {
        BUY,
        SELL
    }

    /** Object.toString(): the class name and an identity hash that differs in every JVM. */
    static final class Opaque {}

    record Holder(String name, Opaque opaque) {}

    @Test
    void of_commonKeys_textIsTheSameInEveryJvm() {
        assertThat(KeyText.of("c", "AAPL")).isEqualTo("AAPL");
        assertThat(KeyText.of("c", 42)).isEqualTo("#int:42");
        assertThat(KeyText.of("c", 42L)).isEqualTo("#long:42");
        assertThat(KeyText.of("c", new BigDecimal("1.50"))).isEqualTo("#BigDecimal:1.50");
        assertThat(KeyText.of("c", Side.BUY)).isEqualTo("#enum:dev.once.spring.KeyTextTest$Side.BUY");
        assertThat(KeyText.of("c", new SimpleKey("AAPL", 3))).isEqualTo("#[\"AAPL\", int:3]");
        assertThat(KeyText.of("c", SimpleKey.EMPTY)).isEqualTo("#[]");
        assertThat(KeyText.of("c", new Req("AAPL", 3, Side.SELL)))
                .isEqualTo(
                        "#dev.once.spring.KeyTextTest$Req(\"AAPL\", int:3, enum:dev.once.spring.KeyTextTest$Side.SELL)");
        UUID u = UUID.fromString("123e4567-e89b-12d3-a456-426614174000");
        assertThat(KeyText.of("c", u)).isEqualTo("#uuid:" + u);
    }

    @Test
    void of_keysThatJavaTellsApart_differ() {
        assertThat(KeyText.of("c", 1)).isNotEqualTo(KeyText.of("c", 1L)).isNotEqualTo(KeyText.of("c", "1"));
        assertThat(KeyText.of("c", "#int:1")).isNotEqualTo(KeyText.of("c", 1)); // a string cannot pose as a number
        assertThat(KeyText.of("c", new SimpleKey("a, b"))).isNotEqualTo(KeyText.of("c", new SimpleKey("a", "b")));
        assertThat(KeyText.of("c", new SimpleKey("a\", \"b"))).isNotEqualTo(KeyText.of("c", new SimpleKey("a", "b")));
        assertThat(KeyText.of("c", new BigDecimal("1.5"))).isNotEqualTo(KeyText.of("c", new BigDecimal("1.50")));
    }

    @Test
    void of_setsAndMaps_orderDoesNotMatter() {
        Set<String> ab = new LinkedHashSet<>(List.of("a", "b"));
        Set<String> ba = new LinkedHashSet<>(List.of("b", "a"));
        assertThat(KeyText.of("c", ab)).isEqualTo(KeyText.of("c", ba));
        Map<String, Integer> m1 = new LinkedHashMap<>();
        m1.put("x", 1);
        m1.put("y", 2);
        Map<String, Integer> m2 = new LinkedHashMap<>();
        m2.put("y", 2);
        m2.put("x", 1);
        assertThat(KeyText.of("c", m1)).isEqualTo(KeyText.of("c", m2));
    }

    @Test
    void of_typeWithoutStableText_refusedNamingTheType() {
        assertThatThrownBy(() -> KeyText.of("quotes", new Opaque()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cache 'quotes'")
                .hasMessageContaining("dev.once.spring.KeyTextTest$Opaque")
                .hasMessageContaining("identity hash");
        assertThatThrownBy(() -> KeyText.of("quotes", new SimpleKey("AAPL", new Opaque())))
                .hasMessageContaining("dev.once.spring.KeyTextTest$Opaque")
                .hasMessageContaining("inside a key of type org.springframework.cache.interceptor.SimpleKey");
        assertThatThrownBy(() -> KeyText.of("quotes", new Holder("x", new Opaque())))
                .hasMessageContaining("dev.once.spring.KeyTextTest$Opaque");
    }

    @Test
    void of_recordValueKey_usesItsComponents() {
        Quote q = new Quote("AAPL", BigDecimal.ONE, null);
        assertThat(KeyText.of("c", q))
                .isEqualTo("#dev.once.spring.values.Quote(\"AAPL\", BigInteger:1, null)"
                        .replace("BigInteger:1", "BigDecimal:1"));
    }

    @Test
    void of_dates_exactToTheMillisecondAndFreeOfTheTimeZone() {
        java.util.TimeZone zone = java.util.TimeZone.getDefault();
        String utc;
        String newYork;
        try {
            java.util.TimeZone.setDefault(java.util.TimeZone.getTimeZone("UTC"));
            utc = KeyText.of("c", new java.util.Date(1000));
            java.util.TimeZone.setDefault(java.util.TimeZone.getTimeZone("America/New_York"));
            newYork = KeyText.of("c", new java.util.Date(1000));
        } finally {
            java.util.TimeZone.setDefault(zone);
        }
        assertThat(utc).isEqualTo(newYork);
        assertThat(KeyText.of("c", new java.util.Date(1000))).isNotEqualTo(KeyText.of("c", new java.util.Date(1999)));
        assertThat(KeyText.of("c", new java.sql.Date(0))).isNotEqualTo(KeyText.of("c", new java.sql.Date(3_600_000)));
        assertThat(KeyText.of("c", new java.sql.Time(0))).isNotEqualTo(KeyText.of("c", new java.sql.Time(1)));
        java.sql.Timestamp t1 = new java.sql.Timestamp(0);
        java.sql.Timestamp t2 = new java.sql.Timestamp(0);
        t2.setNanos(1);
        assertThat(KeyText.of("c", t1)).isNotEqualTo(KeyText.of("c", t2));
    }

    @Test
    void of_optionalAndPattern_keepWhatTheirToStringLoses() {
        assertThat(KeyText.of("c", java.util.Optional.of("1"))).isNotEqualTo(KeyText.of("c", java.util.Optional.of(1)));
        assertThat(KeyText.of("c", java.util.Optional.of("")))
                .isNotEqualTo(KeyText.of("c", java.util.Optional.empty()));
        assertThat(KeyText.of("c", java.util.regex.Pattern.compile("abc", java.util.regex.Pattern.CASE_INSENSITIVE)))
                .isNotEqualTo(KeyText.of("c", java.util.regex.Pattern.compile("abc")));
        assertThat(KeyText.of("c", java.util.regex.Pattern.compile("abc")))
                .isEqualTo(KeyText.of("c", java.util.regex.Pattern.compile("abc")));
    }

    @Test
    void of_jdkTypeNotKnownToPrintExactly_refusedNamingTheTypeAndTheWayOut() {
        assertThatThrownBy(() -> KeyText.of("quotes", new StringBuilder("AAPL"))) // equal text, unequal keys
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cache 'quotes'")
                .hasMessageContaining("java.lang.StringBuilder")
                .hasMessageContaining("key = ");
    }
}
