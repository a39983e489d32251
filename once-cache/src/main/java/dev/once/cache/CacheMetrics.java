package dev.once.cache;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/**
 * The cache's meters, tagged with its namespace: {@code once.cache.requests} by result (hit, near_hit,
 * miss, coalesced_local, coalesced_remote, stale, negative_hit, fail_open), {@code once.cache.loads} by
 * outcome, {@code once.cache.lease.takeovers}, {@code once.cache.lease.lost}, {@code once.cache.values.oversized} and the {@code
 * once.cache.wait} histogram of cross-process waits, and {@code once.cache.phase} timers.
 */
final class CacheMetrics {
    final Counter hit;
    final Counter nearHit;
    final Counter miss;
    final Counter coalescedLocal;
    final Counter coalescedRemote;
    final Counter stale;
    final Counter negativeHit;
    final Counter failOpen;
    final Counter loadSuccess;
    final Counter loadFailure;
    final Counter takeovers;
    final Counter leaseLost;
    final Counter oversized;
    final Timer wait;
    /**
     * Where a resolution's time goes, {@code once.cache.phase} by phase: {@code claim}, the reads and the
     * claim until the caller leads or waits; {@code wake}, a waiter's wake-up to its value (the row read
     * and decode); {@code load}, the loader; {@code store}, the leader's write of the value.
     */
    final Timer claimPhase;

    final Timer wakePhase;
    final Timer loadPhase;
    final Timer storePhase;

    CacheMetrics(MeterRegistry registry, String namespace) {
        this.registry = registry;
        this.namespace = namespace;
        hit = request(registry, namespace, "hit");
        nearHit = request(registry, namespace, "near_hit");
        miss = request(registry, namespace, "miss");
        coalescedLocal = request(registry, namespace, "coalesced_local");
        coalescedRemote = request(registry, namespace, "coalesced_remote");
        stale = request(registry, namespace, "stale");
        negativeHit = request(registry, namespace, "negative_hit");
        failOpen = request(registry, namespace, "fail_open");
        loadSuccess = Counter.builder("once.cache.loads")
                .tag("namespace", namespace)
                .tag("outcome", "success")
                .description("loader calls")
                .register(registry);
        loadFailure = Counter.builder("once.cache.loads")
                .tag("namespace", namespace)
                .tag("outcome", "failure")
                .description("loader calls")
                .register(registry);
        takeovers = Counter.builder("once.cache.lease.takeovers")
                .tag("namespace", namespace)
                .description("claims taken from a leader whose lease lapsed")
                .register(registry);
        leaseLost = Counter.builder("once.cache.lease.lost")
                .tag("namespace", namespace)
                .description("leaders whose lease was taken over before they wrote")
                .register(registry);
        oversized = Counter.builder("once.cache.values.oversized")
                .tag("namespace", namespace)
                .description("loaded values over maxValueBytes, returned to no one and not stored")
                .register(registry);
        wait = Timer.builder("once.cache.wait")
                .tag("namespace", namespace)
                .description("time waiting for another process's load")
                .publishPercentileHistogram()
                .maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry);
        claimPhase = phase(registry, namespace, "claim");
        wakePhase = phase(registry, namespace, "wake");
        loadPhase = phase(registry, namespace, "load");
        storePhase = phase(registry, namespace, "store");
    }

    private final MeterRegistry registry;
    private final String namespace;

    /**
     * Gauges of the near cache: the bytes its values weigh and its entries (the first cache of a
     * namespace's, held weakly: a closed cache's gauge goes blank rather than keep its values alive).
     */
    void nearCache(NearCache<?> near) {
        io.micrometer.core.instrument.Gauge.builder("once.cache.near.bytes", near, NearCache::weight)
                .tag("namespace", namespace)
                .description("what the near cache's values weigh: their stored size, at least maxBytes/maxEntries each")
                .baseUnit("bytes")
                .register(registry);
        io.micrometer.core.instrument.Gauge.builder("once.cache.near.entries", near, NearCache::entries)
                .tag("namespace", namespace)
                .description("values kept in the near cache")
                .register(registry);
    }

    /** Reads that waited for a statement slot and were answered by another caller's statement ({@link SharedReads}). */
    void sharedReads(EntryStore store) {
        io.micrometer.core.instrument.FunctionCounter.builder("once.cache.reads.shared", store, EntryStore::sharedReads)
                .tag("namespace", namespace)
                .description("row reads answered by a statement that read other keys too (reads that waited for"
                        + " a statement slot are read together)")
                .register(registry);
    }

    private static Timer phase(MeterRegistry registry, String namespace, String phase) {
        return Timer.builder("once.cache.phase")
                .tag("namespace", namespace)
                .tag("phase", phase)
                .description("time per phase of resolving a key that was not in the near cache")
                .register(registry);
    }

    static Counter request(MeterRegistry registry, String namespace, String result) {
        return Counter.builder("once.cache.requests")
                .tag("namespace", namespace)
                .tag("result", result)
                .description("cache requests by how they were answered")
                .register(registry);
    }
}
