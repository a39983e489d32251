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
        PrintWriter out) {
    public static Settings quick(PrintWriter out) {
        return new Settings(List.of(1, 4), 1_000, 3, 1_500, 20, out);
    }

    public static Settings full(PrintWriter out) {
        return new Settings(List.of(1, 4, 16, 64), 3_000, 5, 4_000, 100, out);
    }

    void progress(String format, Object... args) {
        out.printf(format + "%n", args);
        out.flush();
    }
}
