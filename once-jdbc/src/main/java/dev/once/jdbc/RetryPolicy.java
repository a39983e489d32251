package dev.once.jdbc;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Bounded retries with full-jitter exponential backoff: attempt n sleeps a random time in
 * [0, min(max, base * 2^n)), so contending processes spread out instead of colliding again in step.
 */
record RetryPolicy(int maxAttempts, Duration baseDelay, Duration maxDelay) {
    static final RetryPolicy DEFAULT = new RetryPolicy(8, Duration.ofMillis(2), Duration.ofMillis(200));

    RetryPolicy {
        if (maxAttempts < 1) throw new IllegalArgumentException("maxAttempts must be at least 1");
        if (baseDelay.isNegative() || maxDelay.compareTo(baseDelay) < 0) {
            throw new IllegalArgumentException("need 0 <= baseDelay <= maxDelay");
        }
    }

    long delayNanos(int attempt) {
        long cap = Math.min(maxDelay.toNanos(), baseDelay.toNanos() << Math.min(attempt, 20));
        return cap <= 0 ? 0 : ThreadLocalRandom.current().nextLong(cap);
    }

    void sleep(int attempt) throws java.sql.SQLException {
        long nanos = delayNanos(attempt);
        try {
            Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.sql.SQLException("interrupted while backing off before a retry", "57014", e);
        }
    }
}
