package dev.once.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;

/** The optional in-process copy of fresh values, each kept no longer than its remaining TTL. */
final class NearCache<V> {
    private record Held<V>(V value, long ttlNanos) {}

    private final Cache<String, Held<V>> cache;
    private final long maxAgeNanos;

    NearCache(long maxEntries, long maxAgeNanos) {
        this.maxAgeNanos = maxAgeNanos;
        this.cache = maxEntries == 0
                ? null
                : Caffeine.newBuilder()
                        .maximumSize(maxEntries)
                        .expireAfter(new Expiry<String, Held<V>>() {
                            @Override
                            public long expireAfterCreate(String key, Held<V> held, long now) {
                                return held.ttlNanos;
                            }

                            @Override
                            public long expireAfterUpdate(String key, Held<V> held, long now, long current) {
                                return held.ttlNanos;
                            }

                            @Override
                            public long expireAfterRead(String key, Held<V> held, long now, long current) {
                                return current;
                            }
                        })
                        .build();
    }

    V get(String keyHash) {
        if (cache == null) return null;
        Held<V> held = cache.getIfPresent(keyHash);
        return held == null ? null : held.value;
    }

    void put(String keyHash, V value, long remainingMillis) {
        if (cache == null || remainingMillis <= 0) return;
        cache.put(keyHash, new Held<>(value, Math.min(maxAgeNanos, remainingMillis * 1_000_000)));
    }

    void invalidate(String keyHash) {
        if (cache != null) cache.invalidate(keyHash);
    }

    void invalidateAll() {
        if (cache != null) cache.invalidateAll();
    }
}
