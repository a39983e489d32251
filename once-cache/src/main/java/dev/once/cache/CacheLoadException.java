package dev.once.cache;

/**
 * A value could not be had: the loader failed (here, or in the process that led the load), a cached
 * failure is still fresh, or the cache table is unreachable and the cache fails closed.
 */
public class CacheLoadException extends RuntimeException {
    /**
     * A failed load.
     *
     * @param message what failed, for which key
     * @param cause the loader's error, or the database's
     */
    public CacheLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
