package dev.once.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The optional in-process copy of fresh values, each kept no longer than its remaining TTL, and no
 * longer than {@code maxAge} unless purges are being broadcast to it right now.
 *
 * <p>A value read from the table before a purge must not be put here after the purge was applied: a
 * caller takes {@link #generation()} before its read and passes it to {@link #put}; every invalidation
 * moves the generation first and removes second, and a put re-checks the generation after writing, so
 * one of the two always undoes the stale put.
 */
final class NearCache<V> {
    private record Held<V>(V value, long ttlNanos) {}

    private final Cache<String, Held<V>> cache;
    private final long maxAgeNanos;
    private final BooleanSupplier broadcast;
    private final AtomicLong generation = new AtomicLong();

    /** @param broadcast true while purges reach this process (PostgreSQL LISTEN up); entries then need no age cap */
    NearCache(long maxEntries, long maxAgeNanos, BooleanSupplier broadcast) {
        this.maxAgeNanos = maxAgeNanos;
        this.broadcast = broadcast;
        this.cache = maxEntries == 0
                ? null
                : Caffeine.newBuilder()
                        .maximumSize(maxEntries)
                        // upkeep on the calling thread: on a hot key the read buffer fills often, and handing each
                        // drain to the common pool cost a thread wake-up (futex) per drain in the proxy's hit profile
                        .executor(Runnable::run)
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

    /** Taken before reading the value that will be put. */
    long generation() {
        return generation.get();
    }

    /** Keeps the value unless an invalidation happened since {@code readAt} was taken. */
    void put(String keyHash, V value, long remainingMillis, long readAt) {
        if (cache == null || remainingMillis <= 0 || generation.get() != readAt) return;
        long cap = broadcast.getAsBoolean() ? Long.MAX_VALUE : maxAgeNanos;
        Held<V> held = new Held<>(value, Math.min(cap, remainingMillis * 1_000_000));
        // the check and the insert are one step on the key: a single-key invalidation (generation first,
        // then the removal, which waits for this step) either finds the entry and removes it or makes the
        // check fail. A plain put followed by a re-check left the stale entry readable in between: a
        // purge could return while it was there (FreshnessTest, PostgreSQL, 1 in 300).
        cache.asMap().compute(keyHash, (k, current) -> generation.get() == readAt ? held : current);
        if (generation.get() != readAt) cache.invalidate(keyHash); // invalidateAll iterates: undo behind it
    }

    void invalidate(String keyHash) {
        generation.incrementAndGet();
        if (cache != null) cache.invalidate(keyHash);
    }

    void invalidateAll() {
        generation.incrementAndGet();
        if (cache != null) cache.invalidateAll();
    }
}
