package dev.once.cli.bench;

import java.io.PrintWriter;
import java.util.List;

/** How long and how often a bench run measures. */
public record Settings(
        List<Integer> threads,
        long warmupMillis,
        int repetitions,
        long repetitionMillis,
        int burstRounds,
        int strategyKeys,
        PrintWriter out) {
    public static Settings quick(PrintWriter out) {
        return new Settings(List.of(1, 16), 500, 3, 800, 20, 20, out);
    }

    public static Settings full(PrintWriter out) {
        return new Settings(List.of(1, 4, 16, 64), 2_000, 5, 3_000, 100, 100, out);
    }

    public Settings withThreads(List<Integer> threads) {
        return new Settings(
                List.copyOf(threads), warmupMillis, repetitions, repetitionMillis, burstRounds, strategyKeys, out);
    }

    void progress(String format, Object... args) {
        out.printf(format + "%n", args);
        out.flush();
    }
}
