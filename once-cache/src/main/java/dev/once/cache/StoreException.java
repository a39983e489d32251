package dev.once.cache;

/**
 * A statement on the cache table failed. {@link #outage()}: the database is unreachable (or did not
 * answer within {@code storeTimeout}), the cache fails open or closed as configured. Otherwise the
 * statement itself failed (a missing table, say): an error, never taken for an outage. A loader's own
 * exceptions are never wrapped in this type, so they cannot be mistaken for the store's.
 */
final class StoreException extends Exception {
    private final boolean outage;

    StoreException(boolean outage, String message, Throwable cause) {
        super(message, cause);
        this.outage = outage;
    }

    boolean outage() {
        return outage;
    }

    /** What the cache's caller gets for it (null: the breaker was open, nothing was tried). */
    static CacheLoadException toCaller(StoreException e) {
        if (e == null || e.outage())
            return new CacheLoadException(
                    "the cache table is unreachable" + (e == null ? "" : ": " + e.getMessage()), e);
        return new CacheLoadException(e.getMessage(), e);
    }
}
