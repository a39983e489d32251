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
    /** {@code heard}: kept past {@code maxAge} on the word that purges reach this process. */
    private record Held<V>(V value, long ttlNanos, int weight, boolean heard) {}

    /** What an entry costs besides its value's bytes: its key (64 hex digits), its holder, Caffeine's node. */
    static final int ENTRY_OVERHEAD = 256;

    private final Cache<String, Held<V>> cache;
    private final long maxAgeNanos;
    private final BooleanSupplier broadcast;
    private final AtomicLong generation = new AtomicLong();
    private final long maxBytes;
    /** The least an entry weighs: {@code maxBytes / maxEntries}, so that the weight bound is the count bound too. */
    private final long minWeight;

    /**
     * Bounded both by entries and by bytes, with one Caffeine weight: an entry weighs its value's stored
     * size plus {@link #ENTRY_OVERHEAD}, and at least {@code maxBytes / maxEntries}, so a total weight
     * within {@code maxBytes} holds at most {@code maxEntries} entries and at most {@code maxBytes} of
     * values. A bound by entries alone let an anonymous client fill the heap with large answers of
     * distinct keys (10,000 × 8 MiB; a 256 MB heap ran out after 58).
     *
     * @param broadcast true while purges reach this process: PostgreSQL's LISTEN connection is up and has
     *     shown within {@code maxAge} that it hears. Entries put meanwhile need no age cap, but are served
     *     only while it stays true: a silent connection is found dead only later, and a purge sent into the
     *     silence must not leave its value served longer than {@code maxAge}
     */
    NearCache(long maxEntries, long maxBytes, long maxAgeNanos, BooleanSupplier broadcast) {
        this.maxAgeNanos = maxAgeNanos;
        this.broadcast = broadcast;
        this.maxBytes = maxBytes;
        this.minWeight = maxEntries == 0 ? 0 : Math.max(1, maxBytes / maxEntries);
        this.cache = maxEntries == 0 || maxBytes == 0
                ? null
                : Caffeine.newBuilder()
                        .maximumWeight(maxBytes)
                        .weigher((String key, Held<V> held) -> held.weight)
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
        if (held == null || held.heard && !broadcast.getAsBoolean()) return null;
        return held.value;
    }

    /** Taken before reading the value that will be put. */
    long generation() {
        return generation.get();
    }

    /**
     * Keeps the value unless an invalidation happened since {@code readAt} was taken.
     *
     * @param bytes the size of the value as stored (its encoding): what it weighs here
     */
    void put(String keyHash, V value, int bytes, long remainingMillis, long readAt) {
        if (cache == null || remainingMillis <= 0 || generation.get() != readAt) return;
        long weight = Math.max(minWeight, (long) bytes + ENTRY_OVERHEAD);
        if (weight > maxBytes / 2) return; // one value would push out half of the others: read it from the table
        boolean heard = broadcast.getAsBoolean();
        long cap = heard ? Long.MAX_VALUE : maxAgeNanos;
        // saturating: a TTL of the builder's longest (1,000 years) is more nanoseconds than a long holds
        long ttlNanos = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(remainingMillis);
        Held<V> held = new Held<>(value, Math.min(cap, ttlNanos), (int) weight, heard);
        // the check and the insert are one step on the key: a single-key invalidation (generation first,
        // then the removal, which waits for this step) either finds the entry and removes it or makes the
        // check fail. A plain put followed by a re-check left the stale entry readable in between: a
        // purge could return while it was there (FreshnessTest, PostgreSQL, 1 in 300).
        cache.asMap().compute(keyHash, (k, current) -> generation.get() == readAt ? held : current);
        if (generation.get() != readAt) cache.invalidate(keyHash); // invalidateAll iterates: undo behind it
    }

    /**
     * Milliseconds since {@code startedNanos} ({@link System#nanoTime()}), rounded up: what to take off a
     * remaining TTL the database counted from a statement that began then, so that a slow answer or a slow
     * decode does not keep the value here past the row's expiry.
     */
    static long millisSince(long startedNanos) {
        long elapsed = Math.max(0, System.nanoTime() - startedNanos);
        return (elapsed + 999_999) / 1_000_000;
    }

    /** How long the key's entry has left, in milliseconds; -1 when there is none. For tests. */
    long remainingMillis(String keyHash) {
        if (cache == null || cache.getIfPresent(keyHash) == null) return -1;
        return cache.policy()
                .expireVariably()
                .flatMap(p -> p.getExpiresAfter(keyHash, java.util.concurrent.TimeUnit.MILLISECONDS).stream()
                        .boxed()
                        .findFirst())
                .orElse(-1L);
    }

    /** The weight held now: about the bytes of the values kept (at least {@code maxBytes / maxEntries} each). */
    long weight() {
        if (cache == null) return 0;
        cache.cleanUp();
        return cache.policy().eviction().orElseThrow().weightedSize().orElse(0);
    }

    /** How many entries are kept now. */
    long entries() {
        if (cache == null) return 0;
        cache.cleanUp();
        return cache.estimatedSize();
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
