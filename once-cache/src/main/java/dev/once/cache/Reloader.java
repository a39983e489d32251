package dev.once.cache;

/**
 * A loader that is shown the value being replaced: the expired value when the key has one stored, or
 * null. An HTTP cache uses it to revalidate (a conditional request with the old ETag) instead of
 * fetching the whole answer again.
 */
@FunctionalInterface
public interface Reloader<V> {
    V load(V previous) throws Exception;
}
