package dev.once.cache;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * Options for an {@link OnceCache}; every one has a default but the data source.
 *
 * @param <V> the value type of the cache built
 */
public final class OnceCacheBuilder<V> {
    /** Opens a connection; used for the PostgreSQL listener's dedicated connection. */
    public interface ConnectionOpener {
        /**
         * Opens a new connection that the listener keeps.
         *
         * @return an open connection
         * @throws SQLException when it cannot be opened
         */
        Connection open() throws SQLException;
    }

    final DataSource dataSource;
    Codec<V> codec;
    String namespace = "default";
    String table = "once_entry";
    Duration ttl = Duration.ofMinutes(10);
    Duration lease = Duration.ofSeconds(5);
    Duration staleWhileRevalidate = Duration.ZERO;
    Duration negativeTtl = Duration.ZERO;
    int failedRoundsBeforeError = 2;
    long nearCacheSize;
    long nearCacheMaxBytes = 64L << 20;
    Duration nearCacheMaxAge = Duration.ofSeconds(1);
    boolean notify = true;
    boolean notifyValues = false;
    byte[] sealKey;
    ConnectionOpener listenerConnection;
    Duration pollMin = Duration.ofMillis(2);
    Duration pollMax = Duration.ofMillis(50);
    boolean failOpen = true;
    Duration storeTimeout = Duration.ofSeconds(1);
    int maxConnections = 8;
    /** Whether {@link #maxConnections(int)} was called (a pool smaller than it is then worth a warning). */
    boolean maxConnectionsSet;

    Duration loadTimeout = Duration.ofMinutes(5);
    boolean createTable = true;
    boolean startWhileUnreachable;
    int maxValueBytes = 4 * 1024 * 1024;
    Duration cleanupInterval = Duration.ofMinutes(5);
    Expiry<V> expiry;
    Duration retainExpired = Duration.ofMinutes(1);
    MeterRegistry meterRegistry = Metrics.globalRegistry;

    OnceCacheBuilder(DataSource dataSource, Codec<V> codec) {
        this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
        this.codec = codec;
    }

    /** The settings as they are now: a cache keeps its own copy, so later changes here never reach it. */
    private OnceCacheBuilder<V> copy() {
        OnceCacheBuilder<V> c = new OnceCacheBuilder<>(dataSource, codec);
        c.namespace = namespace;
        c.table = table;
        c.ttl = ttl;
        c.lease = lease;
        c.staleWhileRevalidate = staleWhileRevalidate;
        c.negativeTtl = negativeTtl;
        c.failedRoundsBeforeError = failedRoundsBeforeError;
        c.nearCacheSize = nearCacheSize;
        c.nearCacheMaxBytes = nearCacheMaxBytes;
        c.nearCacheMaxAge = nearCacheMaxAge;
        c.notify = notify;
        c.notifyValues = notifyValues;
        c.sealKey = sealKey;
        c.listenerConnection = listenerConnection;
        c.pollMin = pollMin;
        c.pollMax = pollMax;
        c.failOpen = failOpen;
        c.storeTimeout = storeTimeout;
        c.maxConnections = maxConnections;
        c.maxConnectionsSet = maxConnectionsSet;
        c.loadTimeout = loadTimeout;
        c.createTable = createTable;
        c.startWhileUnreachable = startWhileUnreachable;
        c.maxValueBytes = maxValueBytes;
        c.cleanupInterval = cleanupInterval;
        c.expiry = expiry;
        c.retainExpired = retainExpired;
        c.meterRegistry = meterRegistry;
        return c;
    }

    /**
     * How values become bytes: {@link Codec#bytes()}, {@link Codec#string()}, {@link Codec#json(Class)}.
     *
     * @param <W> the value type of the cache built
     * @param codec the codec
     * @return this builder, typed for the codec
     */
    @SuppressWarnings("unchecked")
    public <W> OnceCacheBuilder<W> codec(Codec<W> codec) {
        OnceCacheBuilder<W> self = (OnceCacheBuilder<W>) this;
        self.codec = Objects.requireNonNull(codec, "codec");
        return self;
    }

    /**
     * Keys live in a namespace; caches with different namespaces share a table without meeting.
     *
     * @param namespace a name, up to 200 characters (default {@code default})
     * @return this builder
     */
    public OnceCacheBuilder<V> namespace(String namespace) {
        if (namespace == null || namespace.isBlank() || namespace.length() > 200) {
            throw new IllegalArgumentException("namespace must be 1 to 200 characters");
        }
        if (!namespace.strip().equals(namespace)) {
            // MariaDB's collations pad with spaces, utf8mb4_bin included: "ns" and "ns " would share rows
            throw new IllegalArgumentException("namespace must not begin or end with white space: '" + namespace + "'");
        }
        if (namespace.chars().anyMatch(Character::isISOControl) || !ExactText.wellFormed(namespace)) {
            // PostgreSQL refuses a NUL in text; an unpaired surrogate has no UTF-8 to store
            throw new IllegalArgumentException("namespace must not hold control characters or unpaired surrogates");
        }
        this.namespace = namespace;
        return this;
    }

    /**
     * The cache table (default {@code once_entry}).
     *
     * @param table the table name: letters, digits and _
     * @return this builder
     */
    public OnceCacheBuilder<V> table(String table) {
        this.table = Schema.validTable(table);
        return this;
    }

    /**
     * How long a value stays fresh, by the database's clock (default 10 minutes).
     *
     * @param ttl positive
     * @return this builder
     */
    public OnceCacheBuilder<V> ttl(Duration ttl) {
        this.ttl = positive(ttl, "ttl");
        return this;
    }

    /**
     * How long a leader's claim lasts without renewal (default 5 s). It is renewed every third of this
     * while the loader runs, so only a crashed leader lets it lapse; waiters then take over.
     *
     * @param lease positive
     * @return this builder
     */
    public OnceCacheBuilder<V> lease(Duration lease) {
        this.lease = positive(lease, "lease");
        return this;
    }

    /**
     * Serve an expired value for this long after its TTL while exactly one process refreshes it. Off by default.
     * With an {@link #expiry}, which gives each value its own window, set this to the longest window it
     * gives: cleanup keeps expired rows for this plus {@link #retainExpired}, and cannot see a value's own
     * window (no column holds it).
     *
     * @param window zero (off) or more
     * @return this builder
     */
    public OnceCacheBuilder<V> staleWhileRevalidate(Duration window) {
        this.staleWhileRevalidate = nonNegative(window, "staleWhileRevalidate");
        return this;
    }

    /**
     * Cache loader failures for this long, so every caller gets the error without calling the loader. Off by default.
     *
     * @param negativeTtl zero (off) or more
     * @return this builder
     */
    public OnceCacheBuilder<V> negativeTtl(Duration negativeTtl) {
        this.negativeTtl = nonNegative(negativeTtl, "negativeTtl");
        return this;
    }

    /**
     * When another process's loader fails, waiters claim the key and retry; after this many failed
     * rounds they give up with a {@link CacheLoadException} (default 2).
     *
     * @param rounds at least 1
     * @return this builder
     */
    public OnceCacheBuilder<V> failedRoundsBeforeError(int rounds) {
        if (rounds < 0) throw new IllegalArgumentException("failedRoundsBeforeError must be >= 0");
        this.failedRoundsBeforeError = rounds;
        return this;
    }

    /**
     * An in-process near cache (Caffeine) of at most {@code maxEntries} values and {@link
     * #nearCacheMaxBytes} bytes, each kept no longer than its remaining TTL. Purges reach other processes' near caches through NOTIFY on PostgreSQL; elsewhere
     * entries are also capped by {@link #nearCacheMaxAge}. Off by default.
     *
     * @param maxEntries zero (off) or more
     * @return this builder
     */
    public OnceCacheBuilder<V> nearCache(long maxEntries) {
        if (maxEntries < 0) throw new IllegalArgumentException("nearCache size must be >= 0");
        this.nearCacheSize = maxEntries;
        return this;
    }

    /**
     * The most the near cache's values may weigh together, counted as their stored size (default 64 MiB).
     * The entries and the bytes are both bounds: an entry weighs its size plus a little, and at least
     * {@code maxBytes} / the entries set with {@link #nearCache}; a value over half of it is never kept in
     * memory (it is read from the table).
     *
     * @param maxBytes at least 1
     * @return this builder
     */
    public OnceCacheBuilder<V> nearCacheMaxBytes(long maxBytes) {
        if (maxBytes < 1) throw new IllegalArgumentException("nearCacheMaxBytes must be >= 1");
        this.nearCacheMaxBytes = maxBytes;
        return this;
    }

    /**
     * The longest a near-cache entry lives where purges cannot be broadcast (default 1 s).
     *
     * @param maxAge positive
     * @return this builder
     */
    public OnceCacheBuilder<V> nearCacheMaxAge(Duration maxAge) {
        this.nearCacheMaxAge = positive(maxAge, "nearCacheMaxAge");
        return this;
    }

    /**
     * Wake waiters with PostgreSQL LISTEN/NOTIFY (default on; ignored elsewhere). Off: waiters poll, the
     * mode for PostgreSQL-compatible engines without NOTIFY.
     *
     * @param notify false to poll
     * @return this builder
     */
    public OnceCacheBuilder<V> notify(boolean notify) {
        this.notify = notify;
        return this;
    }

    /**
     * Send each stored value with the NOTIFY that announces it (default off; PostgreSQL with NOTIFY only),
     * so that processes waiting for it need not read it: one statement fewer per waiting process and
     * key. The value travels sealed (AES-GCM) under a key derived from the table's seal secret (in
     * {@code <table>_seal}, which only the cache's role should read) and the claim token of its load:
     * others can neither read it nor forge one, and a replayed one opens for no later load. Without a
     * readable seal table no value is sent. Off by default until its effect on the tail is understood:
     * in two same-run comparisons the p50 of a coalesced burst improved (−9 and −3 ms) and the pooled
     * p99 worsened (+15 and +66 ms, from one or two slow rounds); on, a losing claim also writes a row
     * version to learn the winner's token (docs/once-cache.md).
     *
     * @param notifyValues true to send the value, sealed; false (the default) to send only the key,
     *     waiters then reading the row
     * @return this builder
     */
    public OnceCacheBuilder<V> notifyValues(boolean notifyValues) {
        this.notifyValues = notifyValues;
        return this;
    }

    /**
     * A secret kept outside the database, the same in every process on the table, that values sent with
     * NOTIFY ({@link #notifyValues}) are sealed under as well as the table's seal secret: whoever can
     * read the database (a role given {@code pg_read_all_data}, a REPLICATION role, a backup or a dump)
     * learns the seal secret but not this, so cannot make a payload that opens. With it, values are
     * sent whichever roles can read the seal table; without it, only while none but the cache's own (and
     * roles that can write the cache table) can. A process with another key, or none, cannot open the
     * values and reads the rows instead: never a wrong answer, during a rolling change of key too.
     *
     * @param key at least 16 bytes, random (copied)
     * @return this builder
     */
    public OnceCacheBuilder<V> sealKey(byte[] key) {
        Objects.requireNonNull(key, "sealKey");
        if (key.length < 16) throw new IllegalArgumentException("sealKey must be at least 16 bytes, not " + key.length);
        this.sealKey = key.clone();
        return this;
    }

    /**
     * How the PostgreSQL listener opens its dedicated connection, e.g. {@code () ->
     * DriverManager.getConnection(url, user, password)}. Default: it borrows one from the data source
     * and keeps it.
     *
     * @param opener opens the listener's connection
     * @return this builder
     */
    public OnceCacheBuilder<V> listenerConnection(ConnectionOpener opener) {
        this.listenerConnection = Objects.requireNonNull(opener);
        return this;
    }

    /**
     * Polling waiters re-read after min, doubling up to max (defaults 2 ms and 50 ms).
     *
     * @param min the first delay
     * @param max the longest delay
     * @return this builder
     */
    public OnceCacheBuilder<V> polling(Duration min, Duration max) {
        this.pollMin = positive(min, "polling min");
        this.pollMax = positive(max, "polling max");
        if (max.compareTo(min) < 0) throw new IllegalArgumentException("polling max must be >= min");
        return this;
    }

    /**
     * When the database is unreachable: true (default) calls the loader directly, still one call per key
     * per process, and resumes caching when the database returns; false throws {@link CacheLoadException}.
     *
     * @param failOpen false to fail closed
     * @return this builder
     */
    public OnceCacheBuilder<V> failOpen(boolean failOpen) {
        this.failOpen = failOpen;
        return this;
    }

    /**
     * The longest the cache waits for the database in one statement, connection included (default 1 s),
     * whatever the pool's own timeouts: a statement that takes longer counts as an outage. The first
     * outage opens a breaker: later calls skip the database at once (fail open or closed, see {@link
     * #failOpen}) until a background probe, every 500 ms with the same bound, reaches it again.
     *
     * @param timeout positive
     * @return this builder
     */
    public OnceCacheBuilder<V> storeTimeout(Duration timeout) {
        this.storeTimeout = positive(timeout, "storeTimeout");
        return this;
    }

    /**
     * How many statements the cache runs at once on the data source (default 8); its other callers queue
     * for a slot before they ask the pool, and the wait for a slot does not count toward {@link
     * #storeTimeout} (it is this process's contention, not the database's slowness). A burst of new keys on
     * virtual threads would otherwise put hundreds of callers into the pool's own wait, where HikariCP
     * 7.1.0 was seen spinning on every returned connection until the burst's statements timed out and kept
     * timing out. Keep it at or under the pool's size: on a HikariCP pool the cache takes the smaller of
     * the two (and logs a warning when this was set above it). Caches on one HikariCP pool with the same
     * {@link #storeTimeout} that leave this at its default share their slots, together no more than the
     * pool's connections; set, it is this cache's own. Other
     * pools' sizes it cannot read: keep the caches' limits summed within the pool.
     *
     * @param maxConnections statements at once, at least 1
     * @return this builder
     */
    public OnceCacheBuilder<V> maxConnections(int maxConnections) {
        if (maxConnections < 1) throw new IllegalArgumentException("maxConnections must be at least 1");
        this.maxConnections = maxConnections;
        this.maxConnectionsSet = true;
        return this;
    }

    /**
     * The longest a leader's loader may hold the key (default 5 minutes). Past it the lease is released as
     * a failed round: other processes' waiters retry or give up ({@link #failedRoundsBeforeError}) instead
     * of waiting on a hung loader for good; its late value is not stored. The loader itself is not
     * interrupted: bound it with its own timeout as well.
     *
     * @param timeout positive
     * @return this builder
     */
    public OnceCacheBuilder<V> loadTimeout(Duration timeout) {
        this.loadTimeout = positive(timeout, "loadTimeout");
        return this;
    }

    /**
     * Create the table on first use when it is missing (default true).
     *
     * @param createTable false when migrations create it
     * @return this builder
     */
    public OnceCacheBuilder<V> createTable(boolean createTable) {
        this.createTable = createTable;
        return this;
    }

    /**
     * Values above this size are refused with a clear error (default 4 MiB).
     *
     * @param maxValueBytes positive
     * @return this builder
     */
    public OnceCacheBuilder<V> maxValueBytes(int maxValueBytes) {
        if (maxValueBytes <= 0) throw new IllegalArgumentException("maxValueBytes must be positive");
        this.maxValueBytes = maxValueBytes;
        return this;
    }

    /**
     * How often expired rows are deleted in small batches (default 5 minutes; zero turns it off).
     *
     * @param interval zero (off) or more
     * @return this builder
     */
    public OnceCacheBuilder<V> cleanupInterval(Duration interval) {
        this.cleanupInterval = nonNegative(interval, "cleanupInterval");
        return this;
    }

    /**
     * Freshness per value instead of {@link #ttl} and {@link #staleWhileRevalidate}: each stored value
     * says how long it stays fresh, and how long it may be served stale while it is refreshed.
     *
     * @param expiry decides each value's freshness
     * @return this builder
     */
    public OnceCacheBuilder<V> expiry(Expiry<V> expiry) {
        this.expiry = Objects.requireNonNull(expiry, "expiry");
        return this;
    }

    /**
     * How long expired values are kept beyond their stale window before cleanup deletes them (default
     * 1 minute): a {@link Reloader} sees them as the previous value, {@link OnceCache#peek} as STALE.
     *
     * @param retain zero or more
     * @return this builder
     */
    public OnceCacheBuilder<V> retainExpired(Duration retain) {
        this.retainExpired = nonNegative(retain, "retainExpired");
        return this;
    }

    /**
     * Where metrics go (default Micrometer's global registry).
     *
     * @param registry the registry for the cache's meters
     * @return this builder
     */
    public OnceCacheBuilder<V> meterRegistry(MeterRegistry registry) {
        this.meterRegistry = Objects.requireNonNull(registry);
        return this;
    }

    /**
     * Whether {@link #build()} returns a cache even when the database cannot be reached (default false:
     * it throws). Such a cache behaves as a started one during an outage (failing open, the loader is
     * called directly, one call per key per process; failing closed, calls throw) and starts in the
     * background once the database answers, trying once a second. A database that answers and refuses
     * the cache (a login refused, no such database, a table it may not create) still fails {@code
     * build()}. For a service that must come up while its database is down, as a proxy in front of a
     * paid API.
     *
     * @param start true to start without the database
     * @return this builder
     */
    public OnceCacheBuilder<V> startWhileUnreachable(boolean start) {
        this.startWhileUnreachable = start;
        return this;
    }

    /** How long {@link #build()} waits for an answer before a cache that may start without one starts so. */
    static final Duration START_WAIT = Duration.ofSeconds(5);

    /**
     * Checks the database, creates the table if allowed, and starts the background threads.
     *
     * @return the cache; close it when done
     * @throws CacheLoadException when the database cannot be reached (unless {@link
     *     #startWhileUnreachable}) or the table cannot be created
     */
    public OnceCache<V> build() {
        OnceCacheBuilder<V> config = copy();
        if (!config.startWhileUnreachable) return started(config);
        long wait = Math.max(config.storeTimeout.toMillis(), START_WAIT.toMillis());
        return PendingCache.start(config, () -> started(config, true), wait);
    }

    private static <V> OnceCache<V> started(OnceCacheBuilder<V> config) {
        return started(config, false);
    }

    /**
     * The cache started on these settings. With {@code reachFirst}, a connection of its own is opened to
     * their database and closed first: outside the pool when the data source tells its URL, under a 10 s
     * login timeout, so that a refusal is told within {@link #START_WAIT} rather than after the pool's
     * wait for a connection.
     */
    private static <V> OnceCache<V> started(OnceCacheBuilder<V> config, boolean reachFirst) {
        try {
            if (reachFirst) NotifyListener.outsidePool(config.dataSource).open().close();
            return new SqlOnceCache<>(config);
        } catch (SQLException e) {
            throw new CacheLoadException(
                    "cannot start the cache on table " + config.table + ": " + withRootCause(e), e);
        }
    }

    /**
     * The message and, when another lies under it, the first cause's: a pool's "Connection is not
     * available, request timed out" alone hid a login refused or a database that does not exist.
     */
    private static String withRootCause(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        String message = String.valueOf(e.getMessage());
        return root == e || root.getMessage() == null || message.contains(root.getMessage())
                ? message
                : message + " (" + root.getMessage() + ")";
    }

    private static Duration positive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) throw new IllegalArgumentException(name + " must be positive");
        return atMostLongest(d, name);
    }

    private static Duration nonNegative(Duration d, String name) {
        if (d == null || d.isNegative()) throw new IllegalArgumentException(name + " must not be negative");
        return atMostLongest(d, name);
    }

    /** Durations become milliseconds added to the database's clock in a BIGINT: a longer one overflowed on every get. */
    static final Duration LONGEST = Duration.ofDays(365L * 1000);

    private static Duration atMostLongest(Duration d, String name) {
        if (d.compareTo(LONGEST) > 0)
            throw new IllegalArgumentException(name + " must be at most 1000 years (365000 days), not " + d);
        return d;
    }
}
