package dev.once.cache;

/**
 * A value and where it came from, for callers that report it (the proxy's {@code X-Once-Cache} header).
 *
 * @param <V> the cache's value type
 * @param value the value
 * @param source where it came from
 */
public record CacheResult<V>(V value, Source source) {
    /** Where a value came from. */
    public enum Source {
        /** Read from the cache table. */
        HIT,
        /** Read from this process's near cache. */
        NEAR_HIT,
        /** This caller's loader ran and its value was stored. */
        MISS,
        /** Another caller's load (in this process or another) produced it. */
        COALESCED,
        /** An expired value served while one process refreshes it. */
        STALE,
        /** Loaded without the cache: the loader said {@link Bypass}, or the database is unreachable (fail-open). */
        BYPASS
    }
}
