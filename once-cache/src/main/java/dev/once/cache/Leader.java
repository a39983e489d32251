package dev.once.cache;

import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader's part of the claim protocol ({@link SqlOnceCache}): call the loader under a kept lease,
 * then write the value (or release the claim with the failure) only while holding the lease.
 *
 * <p>Invariants: the lease is renewed from the claim until the final write is done, or until {@code
 * loadTimeout}, when it is released as a failed round; every write is fenced on the claim token, so a
 * leader whose lease was taken over writes nothing; a failure is recorded with its round number, the
 * previous round's plus one, which is how waiters in every process count failed rounds.
 */
final class Leader<V> {
    private static final Logger log = LoggerFactory.getLogger(Leader.class);
    private final dev.once.cache.internal.WarningGate storeWarning = dev.once.cache.internal.WarningGate.perSecond();
    private final dev.once.cache.internal.WarningGate refreshWarning = dev.once.cache.internal.WarningGate.perSecond();

    /** A driver's message up to its first line break: PostgreSQL's detail lines may quote a row's values. */
    private static String firstLine(String message) {
        if (message == null) return "no message";
        int end = message.indexOf('\n');
        return end < 0 ? message : message.substring(0, end);
    }

    private final OnceCacheBuilder<V> config;
    private final EntryStore store;
    private final Codec<V> codec;
    private final CacheMetrics metrics;
    private final NearCache<V> near;
    private final LeaseKeeper leases;
    private final Waiters waiters;
    private final ConcurrentHashMap<String, String> leading = new ConcurrentHashMap<>(); // claim token -> key hash

    Leader(
            OnceCacheBuilder<V> config,
            EntryStore store,
            CacheMetrics metrics,
            NearCache<V> near,
            LeaseKeeper leases,
            Waiters waiters) {
        this.config = config;
        this.store = store;
        this.codec = config.codec;
        this.metrics = metrics;
        this.near = near;
        this.leases = leases;
        this.waiters = waiters;
    }

    /** The leader's part: load under a kept lease, then write the value only while holding the lease. */
    CacheResult<V> lead(
            String key, String hash, String token, Reloader<V> loader, V previous, int failedRounds, boolean refresh)
            throws Exception {
        leading.put(token, hash);
        try {
            return leadHoldingLease(key, hash, token, loader, previous, failedRounds, refresh);
        } finally {
            leading.remove(token);
        }
    }

    /**
     * Loads under a lease renewed until the loader returns or {@code loadTimeout} passes; then the lease
     * is released as a failed round, so waiters are not held by a hung loader (whose write is fenced off).
     * A failure is recorded as round {@code failedRounds + 1}; a failed refresh leaves the stale value in
     * place instead of a cached failure.
     */
    private CacheResult<V> leadHoldingLease(
            String key, String hash, String token, Reloader<V> loader, V previous, int failedRounds, boolean refresh)
            throws Exception {
        LeaseKeeper.Held held = leases.keep(token, hash, config.loadTimeout.toNanos(), () -> {
            // the key's hash (the row's key_hash), not its text: a proxy's key text holds its credentials' digests
            String error = "the loader for the key hashed " + hash + " did not return within " + config.loadTimeout
                    + " (loadTimeout)";
            log.warn("once-cache: {}; its lease is released", error);
            try {
                store.release(hash, token, Entry.failedRound(failedRounds + 1, error));
            } catch (StoreException e) {
                log.debug("could not release a timed-out load's claim; it lapses with its lease", e);
            }
        });
        try { // the lease is kept until the final write is done: a write queued behind a busy pool must not find it
            // lapsed
            return loadAndStore(key, hash, token, loader, previous, failedRounds, refresh);
        } finally {
            held.stop();
        }
    }

    /**
     * The load, then its write (or the claim's release) with the thread's interrupt status set aside: a
     * loader that keeps its thread's interrupt (it caught InterruptedException and set it again, as it
     * should) has still answered, and an interrupt pending when the write began made it fail at once. The
     * value was lost to every caller joined to it when failing closed, and the claim was left held: other
     * processes waited out the whole lease, then called the loader again (helper-70). The write is bounded
     * by storeTimeout as always; the interrupt is set again after it, for the caller to see.
     */
    private CacheResult<V> loadAndStore(
            String key, String hash, String token, Reloader<V> loader, V previous, int failedRounds, boolean refresh)
            throws Exception {
        boolean[] interrupted = {false};
        try {
            return loadAndStore(key, hash, token, loader, previous, failedRounds, refresh, interrupted);
        } finally {
            if (interrupted[0]) Thread.currentThread().interrupt();
        }
    }

    private CacheResult<V> loadAndStore(
            String key,
            String hash,
            String token,
            Reloader<V> loader,
            V previous,
            int failedRounds,
            boolean refresh,
            boolean[] interrupted)
            throws Exception {
        V value;
        byte[] bytes;
        long ttl;
        try {
            long loadStarted = System.nanoTime();
            try {
                try {
                    value = load(loader, previous);
                } finally {
                    interrupted[0] = Thread.interrupted();
                }
            } catch (Bypass pass) {
                store.complete(
                        hash,
                        token,
                        Entry.PASS,
                        null,
                        "pass-through",
                        pass.remember().toMillis());
                waiters.wake(hash); // other processes hear the NOTIFY sent with the write itself
                throw pass;
            }
            metrics.loadPhase.record(System.nanoTime() - loadStarted, java.util.concurrent.TimeUnit.NANOSECONDS);
            if (value == null) throw new CacheLoadException("the loader for key " + key + " returned null", null);
            bytes = codec.encode(value);
            int bound = store.valueBound();
            if (bytes.length > bound) {
                metrics.oversized.increment();
                String error = "the value for key " + key + " is " + bytes.length + " bytes, over the cache's limit of "
                        + bound + " (maxValueBytes): the loader's answer was not stored and is lost";
                log.warn("once-cache: {}", error);
                throw new CacheLoadException(error, null);
            }
            // the cache's Expiry is the application's code too: what it throws is this load's failure, and
            // releases the claim (an exception here once left the claim held: every later caller waited out
            // the lease, loaded and failed the same way)
            ttl = freshMillis(value);
        } catch (Exception | Error failure) {
            try {
                String error = describe(failure);
                // a failure of an interrupted loader says its caller was cancelled, not that the key fails: never
                // cached for everyone (helper-71: with negativeTtl, one cancelled request was served as every
                // caller's failure for that long, once the interrupt set aside let the write through)
                if (config.negativeTtl.isZero() || refresh || interrupted[0] || interruption(failure))
                    store.release(hash, token, Entry.failedRound(failedRounds + 1, error));
                else store.complete(hash, token, Entry.FAILED, null, error, config.negativeTtl.toMillis());
                waiters.wake(hash); // other processes hear the NOTIFY sent with the write itself
            } catch (StoreException e) {
                failure.addSuppressed(e);
            }
            throw failure;
        }
        try {
            long writtenAt = near.generation();
            long storeStarted = System.nanoTime();
            boolean stored = store.complete(hash, token, Entry.READY, bytes, null, ttl);
            metrics.storePhase.record(System.nanoTime() - storeStarted, java.util.concurrent.TimeUnit.NANOSECONDS);
            if (stored) {
                waiters.wake(hash); // other processes hear the NOTIFY sent with the write itself
                // counted from before the write, whose statement read the database's clock: a slow answer
                // must not keep the value here past the row's expiry
                if (ttl > 0) near.put(hash, value, bytes.length, ttl - NearCache.millisSince(storeStarted), writtenAt);
            } else {
                metrics.leaseLost.increment(); // fenced: a newer leader's value stands
            }
        } catch (RuntimeException | Error failure) {
            // anything else thrown after the load: the claim is released (fenced, so harmless after the
            // value's write), never left held until its lease lapses
            releaseAfter(hash, token, failedRounds, failure);
            throw failure;
        } catch (StoreException e) {
            if (!config.failOpen) throw StoreException.toCaller(e);
            // once a second at most, and without the key: a proxy's keys hold its credentials' digests, and a
            // table that refused every write logged a warning of 7 lines a request, with them (helper-59)
            if (storeWarning.pass())
                log.warn(
                        "once-cache could not store a value ({}); returning it uncached (more such failures this"
                                + " second are not logged)",
                        firstLine(e.getMessage()));
        }
        return new CacheResult<>(value, CacheResult.Source.MISS);
    }

    V load(Reloader<V> loader, V previous) throws Exception {
        try {
            V v = loader.load(previous);
            metrics.loadSuccess.increment();
            return v;
        } catch (Bypass pass) {
            metrics.loadSuccess.increment();
            throw pass;
        } catch (Exception | Error e) {
            metrics.loadFailure.increment();
            throw e;
        }
    }

    /** Stale-while-revalidate: this process won the claim; it reloads while everyone serves the old value. */
    void refresh(String key, String hash, String token, Reloader<V> loader, V previous) {
        try {
            lead(key, hash, token, loader, previous, 0, true);
        } catch (Bypass pass) {
            // not stored: the stale value stays until the key is claimed again
        } catch (Exception e) {
            // at most once a second and without the key, as the store warning: with the upstream down every
            // stale read's refresh failed and logged the key's text, a proxy's credential digests with it
            if (refreshWarning.pass())
                log.warn(
                        "once-cache could not refresh a stale value ({}); the stale value is served meanwhile (more"
                                + " such failures this second are not logged)",
                        firstLine(e.getMessage()));
        }
    }

    /** Frees the claim after a failure that came once the loader had returned, recording it as a failed round. */
    private void releaseAfter(String hash, String token, int failedRounds, Throwable failure) {
        try {
            store.release(hash, token, Entry.failedRound(failedRounds + 1, describe(failure)));
            waiters.wake(hash);
        } catch (StoreException e) {
            failure.addSuppressed(e);
        }
    }

    /**
     * How long a value stays fresh: the TTL, or what the cache's {@link Expiry} says of it, at most the
     * 1,000 years the builder allows.
     */
    long freshMillis(V value) {
        return config.expiry == null ? config.ttl.toMillis() : boundedMillis(config.expiry.freshFor(value));
    }

    /**
     * A duration an {@link Expiry} gave, in milliseconds from zero to the builder's longest duration
     * (1,000 years; it is added to the database's clock in a BIGINT). {@code ChronoUnit.FOREVER}'s
     * duration overflowed {@code toMillis()} itself: the ArithmeticException left the load's claim held.
     */
    static long boundedMillis(java.time.Duration d) {
        if (d.isNegative()) return 0;
        return d.compareTo(OnceCacheBuilder.LONGEST) > 0 ? OnceCacheBuilder.LONGEST.toMillis() : d.toMillis();
    }

    /**
     * On close: loads still running lose their claims now rather than when their lease lapses, so other
     * processes take the keys over at once. The abandoned loads' writes are then fenced off.
     */
    void releaseAll() {
        leading.forEach((token, hash) -> {
            try {
                store.release(hash, token, "the leading process shut down");
            } catch (StoreException e) {
                log.debug("could not release a claim on close; it lapses with its lease", e);
            }
        });
    }

    /**
     * Whether a failure is, or was caused by, a thread's interrupt (an I/O or channel interrupted too). A
     * cause chain can loop ({@code initCause} on an earlier link): at most 64 links are looked at.
     */
    static boolean interruption(Throwable failure) {
        Throwable t = failure;
        for (int depth = 0; t != null && depth < 64; t = t.getCause(), depth++) {
            if (t instanceof InterruptedException
                    || t instanceof java.io.InterruptedIOException
                    || t instanceof java.nio.channels.ClosedByInterruptException) return true;
        }
        return false;
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return t.getClass().getName() + (m == null ? "" : ": " + (m.length() > 1000 ? m.substring(0, 1000) : m));
    }
}
