package dev.once.cache;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renews the leases of every load this cache leads, every third of the lease, so a live leader never
 * loses its claim and a dead one loses it within one lease.
 *
 * <p>All of them in one statement per round ({@link EntryStore#renew(List, long)}), not one each: with
 * one statement per lease, a slow database or a busy pool made a round take longer than the lease, and
 * other processes took live keys over (a second loader call each). A round now costs one round trip
 * whatever the number of loads, and is bounded by the store's timeout. A lease whose renewal finds it
 * gone (taken over after a stall, or purged) simply is not extended; the leader's write is fenced off.
 *
 * <p>A lease kept past its load deadline is handed to its timeout action instead of being renewed.
 */
final class LeaseKeeper implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LeaseKeeper.class);

    /** Extends the leases of these claims (token and key hash each) in as few statements as it can. */
    interface Renewal {
        void renew(List<Held> leases) throws Exception;
    }

    /** A lease being kept; stop it when the loader returns. */
    final class Held {
        final String token;
        final String keyHash;
        private final long deadlineNanos;
        private final Runnable onTimeout;

        private Held(String token, String keyHash, long deadlineNanos, Runnable onTimeout) {
            this.token = token;
            this.keyHash = keyHash;
            this.deadlineNanos = deadlineNanos;
            this.onTimeout = onTimeout;
        }

        void stop() {
            held.remove(token, this);
        }
    }

    private final ConcurrentHashMap<String, Held> held = new ConcurrentHashMap<>();
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("once-cache-leases").unstarted(r));
    private final Renewal renewal;

    LeaseKeeper(long leaseMillis, Renewal renewal) {
        this.renewal = renewal;
        long period = Math.max(1, leaseMillis / 3);
        scheduler.scheduleAtFixedRate(this::renewAll, period, period, TimeUnit.MILLISECONDS);
    }

    /** Keeps the claim's lease until {@link Held#stop()}, or until {@code timeoutNanos} passes: then {@code onTimeout}. */
    Held keep(String token, String keyHash, long timeoutNanos, Runnable onTimeout) {
        Held h = new Held(token, keyHash, System.nanoTime() + timeoutNanos, onTimeout);
        held.put(token, h);
        return h;
    }

    private void renewAll() {
        long now = System.nanoTime();
        List<Held> due = new ArrayList<>(held.size());
        for (Held h : held.values()) {
            if (now - h.deadlineNanos < 0) {
                due.add(h);
            } else if (held.remove(h.token, h)) {
                Thread.ofVirtual().name("once-cache-load-timeout").start(h.onTimeout);
            }
        }
        if (due.isEmpty()) return;
        try {
            renewal.renew(due);
        } catch (Exception e) {
            log.warn("once-cache could not renew {} leases ({}); will try again", due.size(), e.getMessage());
        }
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
