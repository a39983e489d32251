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
        int waiterKeys,
        int waiterRequestsPerKey,
        PrintWriter out) {
    /** proxy-waiters' burst by default: the shape issue 12's goals are stated for. */
    public static final int WAITER_KEYS = 50;

    public static final int WAITER_REQUESTS_PER_KEY = 12;

    public static Settings quick(PrintWriter out) {
        return new Settings(
                List.of(1, 16), 500, 3, 800, 20, 20, null, List.of(), WAITER_KEYS, WAITER_REQUESTS_PER_KEY, out);
    }

    public static Settings full(PrintWriter out) {
        return new Settings(
                List.of(1, 4, 16, 64),
                2_000,
                5,
                3_000,
                100,
                100,
                null,
                List.of(),
                WAITER_KEYS,
                WAITER_REQUESTS_PER_KEY,
                out);
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
                waiterKeys,
                waiterRequestsPerKey,
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
                waiterKeys,
                waiterRequestsPerKey,
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
                waiterKeys,
                waiterRequestsPerKey,
                out);
    }

    /** proxy-waiters' burst: {@code keys} new keys, {@code requestsPerKey} identical requests for each. */
    public Settings withWaiterBurst(int keys, int requestsPerKey) {
        return new Settings(
                threads,
                warmupMillis,
                repetitions,
                repetitionMillis,
                burstRounds,
                strategyKeys,
                compareWith,
                compareJvmOptions,
                keys,
                requestsPerKey,
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
