package dev.once.cache;

/**
 * A loader that is shown the value being replaced: the expired value when the key has one stored, or
 * null. An HTTP cache uses it to revalidate (a conditional request with the old ETag) instead of
 * fetching the whole answer again.
 *
 * @param <V> the cache's value type
 */
@FunctionalInterface
public interface Reloader<V> {
    /**
     * Loads the value for the key.
     *
     * @param previous the expired value stored for the key, or null when there is none
     * @return the new value
     * @throws Exception when it cannot be loaded; waiters get a {@link CacheLoadException}
     */
    V load(V previous) throws Exception;
}
