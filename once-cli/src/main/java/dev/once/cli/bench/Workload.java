package dev.once.cli.bench;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/** What the throughput pairs share: the hot key set, the stored value, and the plain-insert baseline. */
final class Workload {
    static final int HOT_KEYS = 1_000;
    static final String VALUE = "x".repeat(100);

    private Workload() {}

    /** A hot key index spread so threads do not walk the keys in step. */
    static int hot(long i, int thread) {
        return (int) ((i * 7919 + thread * 104729L) % HOT_KEYS);
    }

    /** A key no other operation of the run uses. */
    static String fresh(String prefix, String run, int thread, long i) {
        return prefix + "-" + run + "-" + thread + "-" + i + "-" + System.nanoTime();
    }

    /** A string cache on the target for a bench run, metrics kept to itself. */
    static dev.once.cache.OnceCache<String> cache(BenchTarget target, String ns, boolean notify, long nearEntries) {
        return dev.once.cache.OnceCache.builder(target.pool())
                .namespace(ns)
                .codec(dev.once.cache.Codec.string())
                .notify(notify)
                .nearCache(nearEntries)
                .meterRegistry(new io.micrometer.core.instrument.simple.SimpleMeterRegistry())
                .build();
    }

    /** The baseline for creating rows: a plain prepared insert of (k, v) that ignores a duplicate k. */
    static Throughput.Op plainInsert(BenchTarget target, String table, String run) throws SQLException {
        String insert = target.insertIgnoringDuplicate(table);
        return (t, i) -> {
            try (Connection c = target.pool().getConnection();
                    PreparedStatement ps = c.prepareStatement(insert)) {
                ps.setString(1, fresh("p", run, t, i));
                ps.setString(2, VALUE);
                ps.executeUpdate();
            }
        };
    }
}
