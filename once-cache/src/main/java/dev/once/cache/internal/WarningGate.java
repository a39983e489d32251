package dev.once.cache.internal;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Lets a repeated warning through at most once a period, whichever of many threads asks: a failure that
 * every request meets (a table that refuses writes, a store that is down) must not write a log line per
 * request. Not API: shared by once-cache and once-proxy, may change without notice.
 */
public final class WarningGate {
    private final long periodNanos;
    private final AtomicLong last;

    private WarningGate(Duration period) {
        this.periodNanos = period.toNanos();
        this.last = new AtomicLong(System.nanoTime() - periodNanos);
    }

    /**
     * A gate open at most once a second.
     *
     * @return a new gate, open to its first caller
     */
    public static WarningGate perSecond() {
        return every(Duration.ofSeconds(1));
    }

    /**
     * A gate open at most once a period.
     *
     * @param period the shortest time between two callers let through
     * @return a new gate, open to its first caller
     */
    public static WarningGate every(Duration period) {
        return new WarningGate(period);
    }

    /**
     * Whether this caller logs: true for the first caller a period after the last one let through.
     *
     * @return true at most once a period
     */
    public boolean pass() {
        long now = System.nanoTime();
        long previous = last.get();
        return now - previous >= periodNanos && last.compareAndSet(previous, now);
    }
}
