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
        java.nio.file.Path compareWith,
        List<String> compareJvmOptions,
        PrintWriter out) {
    public static Settings quick(PrintWriter out) {
        return new Settings(List.of(1, 16), 500, 3, 800, 20, 20, null, List.of(), out);
    }

    public static Settings full(PrintWriter out) {
        return new Settings(List.of(1, 4, 16, 64), 2_000, 5, 3_000, 100, 100, null, List.of(), out);
    }

    public Settings withThreads(List<Integer> threads) {
        return new Settings(
                List.copyOf(threads),
                warmupMillis,
                repetitions,
                repetitionMillis,
                burstRounds,
                strategyKeys,
                compareWith,
                compareJvmOptions,
                out);
    }

    /** proxy-waiters also runs replicas of this {@code once.jar}, their bursts alternated with this build's. */
    public Settings withCompareWith(java.nio.file.Path jar) {
        return new Settings(
                threads,
                warmupMillis,
                repetitions,
                repetitionMillis,
                burstRounds,
                strategyKeys,
                jar,
                compareJvmOptions,
                out);
    }

    /** proxy-waiters also runs replicas (of this build, or of {@link #compareWith}) under these JVM options. */
    public Settings withCompareJvmOptions(List<String> options) {
        return new Settings(
                threads,
                warmupMillis,
                repetitions,
                repetitionMillis,
                burstRounds,
                strategyKeys,
                compareWith,
                List.copyOf(options),
                out);
    }

    /** Whether proxy-waiters runs a second set of replicas, their bursts alternated with this build's. */
    public boolean compares() {
        return compareWith != null || !compareJvmOptions.isEmpty();
    }

    void progress(String format, Object... args) {
        out.printf(format + "%n", args);
        out.flush();
    }
}
