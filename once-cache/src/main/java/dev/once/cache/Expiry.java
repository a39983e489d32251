package dev.once.cache;

import java.time.Duration;

/**
 * Freshness decided by each value rather than by the cache, for values that say how long they stay
 * fresh (HTTP responses with {@code Cache-Control}). Set with {@link OnceCacheBuilder#expiry}.
 *
 * @param <V> the cache's value type
 */
public interface Expiry<V> {
    /**
     * How long the value stays fresh from the moment it is stored. Zero stores it stale at once: the
     * callers that waited for its load still get it, and the next lookup loads again, with this value as
     * the previous one (for a conditional request). Longer than 1,000 years ({@code
     * ChronoUnit.FOREVER}'s duration, say) counts as 1,000 years, negative as zero; an exception thrown
     * here fails the load as the loader's would.
     *
     * @param value the value being stored
     * @return how long it is fresh, zero or more
     */
    Duration freshFor(V value);

    /**
     * How long after that it may still be served while one process refreshes it (default none); at
     * most 1,000 years, as {@link #freshFor}.
     *
     * @param value the value being stored
     * @return the stale-while-revalidate window, zero or more
     */
    default Duration staleWhileRevalidate(V value) {
        return Duration.ZERO;
    }
}
