package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class DemoCommandTest {
    @Test
    void demo_small_onceCallsOncePerKeyOthersPayPerRequest() {
        RacecheckCommandTest.Run run =
                RacecheckCommandTest.once("demo", "--keys", "5", "--burst", "6", "--latency-ms", "50");

        assertThat(run.exit()).as(run.out() + run.err()).isZero();
        String[] cacheAside = row(run.out(), "cache-aside");
        String[] onConflict = row(run.out(), "on-conflict");
        String[] once = row(run.out(), "once");
        // columns: strategy requests errors upstream-calls calls-per-key p50 p99
        assertThat(once[1]).isEqualTo("30");
        assertThat(once[2]).isEqualTo("0");
        assertThat(once[3]).isEqualTo("5");
        assertThat(onConflict[2]).isEqualTo("0");
        assertThat(Integer.parseInt(onConflict[3])).isGreaterThan(5);
        assertThat(Integer.parseInt(cacheAside[2])).isPositive(); // duplicate-key errors
    }

    private static String[] row(String out, String strategy) {
        return out.lines()
                .map(String::trim)
                .filter(l -> l.startsWith(strategy + " "))
                .map(l -> l.split("\\s+"))
                .filter(f -> f.length == 7 && f[1].matches("\\d+"))
                .findFirst()
                .orElseThrow(() ->
                        new AssertionError("no row for " + strategy + " in:\n" + out + Arrays.toString(new String[0])));
    }
}
