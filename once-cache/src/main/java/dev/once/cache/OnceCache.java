package dev.once.cache;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;

/**
 * A durable cache on a SQL table in which each key costs one loader call across every process
 * that shares the table, however many ask at once.
 *
 * <pre>{@code
 * OnceCache<Quote> quotes = OnceCache.builder(dataSource)
 *         .namespace("quotes")
 *         .ttl(Duration.ofMinutes(10))
 *         .codec(Codec.json(Quote.class))
 *         .build();
 * Quote q = quotes.get("AAPL", () -> paidApi.quote("AAPL"));
 * }</pre>
 *
 * Implementations are thread-safe. Close the cache to stop its background threads and release the
 * connection its PostgreSQL listener holds.
 *
 * @param <V> the value type
 */
public interface OnceCache<V> extends AutoCloseable {

    /**
     * A builder for a cache on this data source, storing {@code byte[]} until {@link OnceCacheBuilder#codec} says otherwise.
     *
     * @param dataSource the database of the cache table (PostgreSQL, MariaDB or SQLite)
     * @return a builder with the defaults
     */
    static OnceCacheBuilder<byte[]> builder(DataSource dataSource) {
        return new OnceCacheBuilder<>(dataSource, Codec.bytes());
    }

    /**
     * The value for the key: from the cache when fresh, else from the loader, called once for the key
     * across all processes while the others wait for its value.
     *
     * @param key the key, any text
     * @param loader produces the value when no fresh one is stored
     * @return the value
     * @throws CacheLoadException when the loader failed, here or in the process that led the load
     */
    default V get(String key, Callable<? extends V> loader) {
        return lookup(key, loader).value();
    }

    /**
     * As {@link #get}, telling where the value came from.
     *
     * @param key the key, any text
     * @param loader produces the value when no fresh one is stored
     * @return the value and its source
     */
    default CacheResult<V> lookup(String key, Callable<? extends V> loader) {
        java.util.Objects.requireNonNull(loader, "loader");
        return lookup(key, previous -> loader.call());
    }

    /**
     * As {@link #lookup(String, Callable)}, with a loader that sees the expired value it replaces (null
     * when there is none), e.g. to revalidate it.
     *
     * @param key the key, any text
     * @param loader produces the value, shown the expired one
     * @return the value and its source
     */
    CacheResult<V> lookup(String key, Reloader<V> loader);

    /**
     * What is stored for the key, without loading: {@code HIT} when fresh, {@code STALE} when expired
     * but still kept, empty when nothing is stored (or the database is unreachable and the cache fails
     * open).
     *
     * @param key the key, any text
     * @return the stored value and whether it is fresh, or empty
     */
    java.util.Optional<CacheResult<V>> peek(String key);

    /**
     * The fresh value this process holds in memory for the key (its near cache), never touching the
     * database and never blocking: for a caller on a thread that must not block, such as an event loop,
     * which goes on to {@link #lookup} when this is empty. Empty when the near cache is off, does not
     * hold the key, or the cache is closed.
     *
     * @param key the key, any text
     * @return the value held in memory, or empty
     */
    java.util.Optional<V> nearValue(String key);

    /**
     * {@link #get} without blocking the caller; the load runs on a virtual thread.
     *
     * @param key the key, any text
     * @param loader produces the value when no fresh one is stored
     * @return the value, when it is had
     */
    CompletableFuture<V> getAsync(String key, Callable<? extends V> loader);

    /**
     * Whether the cache table was reachable at last sight: false from the first call that found the
     * database unreachable (or slower than {@link OnceCacheBuilder#storeTimeout}) until a background
     * probe reaches it again. Reads a flag only: it never blocks and never touches the database, so a
     * health check can call it on every request.
     *
     * @return false while the cache table is unreachable
     */
    boolean storeAvailable();

    /**
     * Whether waiters here are woken by PostgreSQL NOTIFY now: true on PostgreSQL with {@code notify} on
     * while the process's LISTEN connection is up; false elsewhere (waiters poll) and while it is down
     * (waiters fall back to a 1 s poll). Reads a flag, for health checks.
     *
     * @return whether NOTIFY wake-ups reach this process now
     */
    default boolean listening() {
        return false;
    }

    /**
     * Stores the value for the key, fresh for the cache's TTL (or its {@link OnceCacheBuilder#expiry}),
     * whatever the row holds, without calling a loader: for a caller that has just produced the newer
     * value itself (Spring's {@code @CachePut}). A load of the key in flight anywhere is ended: its
     * leader's later write is fenced off, though its own callers still get its loader's value; waiters
     * of the key, here and in every process, wake and read the put value. This process's near cache
     * drops the key at once; other processes' drop it as a {@link #purge} reaches them: by NOTIFY on
     * PostgreSQL, else within {@link OnceCacheBuilder#nearCacheMaxAge}.
     *
     * @param key the key, any text
     * @param value the value, not null
     * @throws CacheLoadException when the database cannot be written (put never fails open), or the value
     *     encodes to more than {@link OnceCacheBuilder#maxValueBytes} (the key is then purged: the value it
     *     was to replace is not served either)
     */
    void put(String key, V value);

    /**
     * Removes the key from the table and from every process's near cache.
     *
     * @param key the key
     */
    void purge(String key);

    /** Removes every key of this cache's namespace. */
    void purgeAll();

    /**
     * Stops the background threads and releases the claims of loads still running, so other processes
     * take those keys over at once. After it, {@code get}, {@code lookup}, {@code peek}, {@code put} and
     * the purges throw {@link CacheLoadException} ("the cache is closed"), {@code getAsync} fails its future, and
     * {@code nearValue} is empty; a call already waiting for another process's load is refused when it
     * would otherwise claim the key.
     */
    @Override
    void close();

    /**
     * The largest encoded value this cache stores: the builder's {@code maxValueBytes}, lowered at build
     * where the database bounds a statement (MariaDB's and MySQL's {@code max_allowed_packet}), and again
     * when a value's write shows that the server's bound was lowered while the cache ran.
     *
     * @return the bound in bytes; {@link Integer#MAX_VALUE} where an implementation has none
     */
    default int maxValueBytes() {
        return Integer.MAX_VALUE;
    }
}
