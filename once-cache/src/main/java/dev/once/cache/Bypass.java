package dev.once.cache;

import java.time.Duration;
import java.util.Objects;

/**
 * Thrown by a loader to hand a value to its own caller without storing it: an answer that must not be
 * shared (private, {@code Set-Cookie}, {@code no-store}). The key is then marked pass-through for
 * {@code remember}, so the following calls load directly instead of queueing behind one another
 * (Varnish calls this hit-for-pass). Callers waiting on this load in the same process load for themselves.
 */
public final class Bypass extends RuntimeException {
    private final transient Object value;
    /** How long following calls for the key load directly. */
    private final Duration remember;

    /**
     * A value for the loader's caller only.
     *
     * @param value what the caller gets (never stored)
     * @param remember how long following calls for the key load directly instead of waiting for one another
     */
    public Bypass(Object value, Duration remember) {
        super("not stored: pass-through", null, false, false);
        this.value = Objects.requireNonNull(value, "value");
        this.remember = Objects.requireNonNull(remember, "remember");
    }

    /**
     * The value handed over.
     *
     * @return the value the loader produced
     */
    public Object value() {
        return value;
    }

    Duration remember() {
        return remember;
    }
}
