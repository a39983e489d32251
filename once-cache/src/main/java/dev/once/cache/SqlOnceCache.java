package dev.once.cache;

import dev.once.jdbc.SqlErrors;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The claim protocol: one loader call per key across every process sharing the table.
 *
 * <ol>
 *   <li><b>In process.</b> One future per key per JVM: the first caller resolves the key, the others
 *       wait on its future ({@code coalesced_local}), so N threads make one database round trip.
 *   <li><b>Read.</b> {@code SELECT} by primary key. A fresh value is a hit: nothing is written, no lock
 *       is taken. A fresh cached failure is thrown. An expired value inside the stale-while-revalidate
 *       window is served while one background claim refreshes it.
 *   <li><b>Claim.</b> When no one may serve the key and no live lease exists, {@code INSERT ... ON
 *       CONFLICT DO UPDATE ... WHERE (the value expired and the lease is free or lapsed) RETURNING
 *       lease_owner}. Whoever reads back its own token is the leader. Times are the database's clock.
 *   <li><b>Load.</b> The leader calls the loader while {@link LeaseKeeper} renews its lease, then
 *       writes the value only if it still holds the lease (fencing), and NOTIFYs the key.
 *   <li><b>Wait.</b> Others wait for the key's signal, woken by NOTIFY (PostgreSQL) or by polling with
 *       backoff, and re-read. A waiter that finds the lease lapsed (the leader died) claims the key itself.
 *   <li><b>Failure.</b> A failing leader releases the claim with the error text and its round number
 *       (or, opt-in, caches the failure for {@code negativeTtl}); its in-process callers get the
 *       exception, other processes' waiters claim and retry until the round passes {@code
 *       failedRoundsBeforeError}, then get the error. {@link Leader} holds the leader's part.
 *   <li><b>Database down.</b> Every statement is bounded by {@code storeTimeout}; the first outage opens
 *       the {@link StoreBreaker} and later calls skip the database until its probe reaches it. Fail open
 *       (default): the loader is called directly, still once per key per process (the first caller's
 *       answer is shared). An error of a statement (a missing table) is an error, not an outage, and a
 *       loader's own exception is never taken for the store's.
 * </ol>
 * Invariants: a fresh value is never overwritten except by a purge or a put; a leader whose lease was
 * taken over (or freed by a put) writes nothing; a lease lives only while its leader is alive
 * (renewals), so a crash costs waiters at most one lease.
 */
final class SqlOnceCache<V> implements OnceCache<V> {
    private static final Logger log = LoggerFactory.getLogger(SqlOnceCache.class);
    private static final long SAFETY_NET_MILLIS = 1_000;

    private final OnceCacheBuilder<V> config;
    private final EntryStore store;
    private final Codec<V> codec;
    private final CacheMetrics metrics;
    private final NearCache<V> near;
    private final long nearMaxAgeNanos;
    private final Waiters waiters = new Waiters();
    private final LeaseKeeper leases;
    private final Leader<V> leader;
    private final NotifyListener listener;
    private final Janitor janitor;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final ConcurrentHashMap<String, Resolution<V>> inFlight = new ConcurrentHashMap<>();
    private final KeyHash keyHash;

    /**
     * A key's resolution in this process, which later callers of the key join. {@code purged} once a purge
     * of the key has committed while it ran: it may have read the row before the delete, so a caller that
     * comes after the purge waits for it to end and resolves anew instead of taking its answer (it did,
     * and got the purged value: up to 7 of 300 answers after purge() had returned). Joining it, rather than
     * running a second resolution beside it, keeps one resolution per key here, as its waiter needs.
     */
    private static final class Resolution<V> extends CompletableFuture<CacheResult<V>> {
        volatile boolean purged;
        /** When it began, before its read: its loader read the source after this. */
        final long started = System.nanoTime();
        /** What its loader threw, if it did: that is the key's failure, whatever it is. */
        volatile Throwable loaderThrew;
        /**
         * The resolution that the callers kept out of this one resolve by: the first of them registers it
         * (or joins one another caller began), and the others join it, ended or not. It began after this one
         * left the map, so after every one of them asked: its answer was read after they asked.
         */
        final java.util.concurrent.atomic.AtomicReference<Resolution<V>> next =
                new java.util.concurrent.atomic.AtomicReference<>();
    }

    /**
     * A resolution ended because its own caller was interrupted while it waited (for another's load, a
     * statement or a slot), not by its loader: that caller gets {@link #forCaller} with its interrupt set
     * again, and the callers that joined it resolve anew. Before, they got the interrupt too, as "the loader
     * failed: java.lang.InterruptedException", though no loader had run and their own threads were not
     * interrupted (helper-70).
     */
    private static final class CallerInterrupted extends RuntimeException {
        final CacheLoadException forCaller;

        CallerInterrupted(CacheLoadException forCaller) {
            super(forCaller.getMessage(), forCaller, false, false);
            this.forCaller = forCaller;
        }
    }

    /** The resolution's failure as the key's, or, when its caller was interrupted outside the loader, as its own. */
    private static Throwable failureOf(Resolution<?> r, String key, Throwable t) {
        if (t == r.loaderThrew) return t;
        boolean waitInterrupted = t instanceof InterruptedException;
        boolean statementInterrupted = t instanceof CacheLoadException c
                && c.getCause() instanceof StoreException
                && Thread.currentThread().isInterrupted();
        if (!waitInterrupted && !statementInterrupted) return t;
        Thread.currentThread().interrupt(); // kept for the caller: waiting for the signal cleared it
        return new CallerInterrupted(
                t instanceof CacheLoadException c
                        ? c
                        : new CacheLoadException("interrupted while waiting for the value of key " + key, t));
    }
    /**
     * This cache's part of every claim token: 128 bits from a {@link java.security.SecureRandom}, as the
     * token keys the value sent with the NOTIFY ({@link SealedValue}). The pid is for people reading rows.
     */
    private final String process = Long.toString(ProcessHandle.current().pid(), 36) + "-" + secret();

    private static String secret() {
        byte[] b = new byte[16];
        new java.security.SecureRandom().nextBytes(b);
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    private final AtomicLong claims = new AtomicLong();
    private final StoreBreaker breaker;
    private volatile boolean closed;
    private final String channel;
    private final NotifyListener.Subscriber subscriber;

    SqlOnceCache(OnceCacheBuilder<V> config) throws SQLException {
        this.config = config;
        this.codec = config.codec;
        this.keyHash = new KeyHash(config.namespace);
        StoreDialect dialect;
        try (Connection c = config.dataSource.getConnection()) {
            dialect = StoreDialect.of(c);
            this.breaker = new StoreBreaker(
                    SqlErrors.of(c),
                    config.storeTimeout.toMillis(),
                    config.table,
                    statementSlots(config),
                    config.maxConnections,
                    !hikari(config.dataSource));
        }
        boolean notify = config.notify && dialect == StoreDialect.POSTGRES;
        this.channel = config.table.toLowerCase(java.util.Locale.ROOT);
        this.store = new EntryStore(
                config.dataSource,
                dialect,
                config.table,
                config.namespace,
                notify ? channel : null,
                config.notifyValues,
                config.sealKey,
                breaker);
        int storable;
        try {
            if (config.createTable) {
                store.createTableIfAbsent();
                breaker.restoreWith(store::madeAgainIfGone);
            }
            store.refuseNamespaceIgnoringCase();
            store.warnOfNamespaceLedIndexes();
            store.enableSealing();
            storable = store.bound(config.maxValueBytes);
        } catch (SQLException | RuntimeException e) {
            // gives back its share of a pool's statement slots: a cache started again and again while its
            // database is unreachable (startWhileUnreachable) would otherwise take them all
            breaker.close();
            throw e;
        }
        if (storable < config.maxValueBytes) {
            log.warn(
                    "once-cache: {} stores values of at most {} bytes, less than maxValueBytes ({}): the server's"
                            + " max_allowed_packet bounds a statement, values are sent escaped, so larger ones fail as"
                            + " over the limit (raise max_allowed_packet to store them)",
                    config.table,
                    storable,
                    config.maxValueBytes);
        }
        this.metrics = new CacheMetrics(config.meterRegistry, config.namespace);
        metrics.sharedReads(store);
        this.leases = new LeaseKeeper(config.lease.toMillis(), held -> store.renew(held, config.lease.toMillis()));
        this.nearMaxAgeNanos = config.nearCacheMaxAge.toNanos();
        this.near = new NearCache<>(config.nearCacheSize, config.nearCacheMaxBytes, nearMaxAgeNanos, this::heard);
        metrics.nearCache(near);
        this.leader = new Leader<>(config, store, metrics, near, leases, waiters);
        this.subscriber = new NotifyListener.Subscriber(
                this::onNotification, this::onListenerLost, this::onMissedNotifications, nearMaxAgeNanos);
        this.listener = notify
                ? NotifyListener.subscribe(config.dataSource, config.listenerConnection, channel, subscriber)
                : null;
        this.janitor = config.cleanupInterval.isZero()
                ? null
                : new Janitor(
                        store,
                        config.cleanupInterval,
                        config.staleWhileRevalidate.toMillis() + config.retainExpired.toMillis());
    }

    /**
     * The statements the cache may run at once ({@link StatementSlots}): its own {@link
     * OnceCacheBuilder#maxConnections} (no more than a HikariCP pool's connections), or, left at its default
     * on a HikariCP pool, slots shared with every other such cache on that pool with the same store
     * timeout, no more than its connections, so that callers queue in the cache and never inside the pool.
     * Other pools' sizes are not known here.
     */
    private static StatementSlots statementSlots(OnceCacheBuilder<?> config) {
        int poolSize = hikari(config.dataSource) ? hikariPoolSize(config.dataSource) : 0;
        if (poolSize <= 0) return StatementSlots.own(config.maxConnections);
        if (config.maxConnectionsSet && config.maxConnections > poolSize) {
            log.warn(
                    "once-cache: maxConnections {} for namespace {} is more than the pool's {} connections;"
                            + " it runs at most {} statements at once",
                    config.maxConnections,
                    config.namespace,
                    poolSize,
                    poolSize);
        }
        // a limit set for this cache is its own (capped at the pool's size); left at its default, the cache
        // shares the pool's slots with the other caches on it that did the same
        if (config.maxConnectionsSet) return StatementSlots.own(Math.min(config.maxConnections, poolSize));
        return StatementSlots.shared(
                config.dataSource, config.storeTimeout.toMillis(), poolSize, config.maxConnections);
    }

    /** HikariCP's {@code maximumPoolSize}, read without depending on HikariCP; 0 when it cannot be read. */
    private static int hikariPoolSize(javax.sql.DataSource dataSource) {
        try {
            return (Integer)
                    dataSource.getClass().getMethod("getMaximumPoolSize").invoke(dataSource);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return 0;
        }
    }

    /**
     * True for HikariCP's data source (by class name: once-cache does not depend on it), which opens
     * connections on its own threads and heeds interrupts while a caller waits for one.
     */
    private static boolean hikari(javax.sql.DataSource dataSource) {
        for (Class<?> c = dataSource.getClass(); c != null; c = c.getSuperclass())
            if (c.getName().equals("com.zaxxer.hikari.HikariDataSource")) return true;
        return false;
    }

    /**
     * A synchronous caller's loader runs in its own thread, with its ThreadLocals (a transaction, a security
     * context, a logging context), also when the resolution it joined cannot answer it: one purged while it
     * ran, one whose own caller was interrupted, one whose loader said {@link Bypass}. It ran on the cache's
     * thread there (helper-71). So the joined resolution tells it to resolve or load itself, here.
     */
    @Override
    public CacheResult<V> lookup(String key, Reloader<V> loader) {
        CompletableFuture<CacheResult<V>> answer = lookupAsync(key, loader, Run.HERE, System.nanoTime());
        while (true) {
            try {
                return answer.join();
            } catch (CompletionException e) {
                Throwable t = cause(e);
                if (t instanceof ResolveHere here) { // a resolution registered for this caller to run
                    here.resolve.run();
                    answer = here.answer();
                    continue;
                }
                if (t != LOAD_HERE) throw unwrap(t);
            }
            try {
                return new CacheResult<>(loadOrPass(loader), CacheResult.Source.BYPASS);
            } catch (Exception e) {
                throw unwrap(e);
            }
        }
    }

    /** Where a new resolution runs. */
    private enum Run {
        /** In the calling thread, now: a synchronous caller's first resolution. */
        HERE,
        /** On the cache's executor: an asynchronous caller's. */
        EXECUTOR,
        /**
         * Registered now (later callers of the key join it), run by the synchronous caller it is handed to
         * ({@link ResolveHere}) in its own thread: a resolution anew after one it could not join.
         */
        DEFER
    }

    /** What a joined resolution tells a synchronous caller that it must do in its own thread. */
    private static class InCallersThread extends RuntimeException {
        InCallersThread(String what) {
            super(what, null, false, false);
        }
    }

    private static final InCallersThread LOAD_HERE = new InCallersThread("load in the caller's thread");

    /** A resolution registered for a synchronous caller, which runs it and takes its answer. */
    private static final class ResolveHere extends InCallersThread {
        final transient Runnable resolve;
        final transient CompletableFuture<?> answer;

        ResolveHere(Runnable resolve, CompletableFuture<?> answer) {
            super("resolve in the caller's thread");
            this.resolve = resolve;
            this.answer = answer;
        }

        @SuppressWarnings("unchecked")
        <T> CompletableFuture<T> answer() {
            return (CompletableFuture<T>) answer;
        }
    }

    @Override
    public CompletableFuture<V> getAsync(String key, Callable<? extends V> loader) {
        Objects.requireNonNull(loader, "loader");
        return lookupAsync(key, previous -> loader.call(), Run.EXECUTOR, System.nanoTime())
                .thenApply(CacheResult::value);
    }

    @Override
    public java.util.Optional<CacheResult<V>> peek(String key) {
        Objects.requireNonNull(key, "key");
        refuseIfClosed();
        String hash = keyHash.of(key);
        V nearValue = near.get(hash);
        if (nearValue != null) return java.util.Optional.of(new CacheResult<>(nearValue, CacheResult.Source.NEAR_HIT));
        Entry e;
        try {
            e = store.read(hash);
        } catch (StoreException ex) {
            if (!config.failOpen || !ex.outage()) throw StoreException.toCaller(ex);
            return java.util.Optional.empty();
        }
        if (e == null || e.state() != Entry.READY || e.value() == null) return java.util.Optional.empty();
        return java.util.Optional.of(new CacheResult<>(
                codec.decode(e.value()), e.fresh() ? CacheResult.Source.HIT : CacheResult.Source.STALE));
    }

    /**
     * After {@link #close()} nothing touches the table: a closed cache answering reads would hide a
     * caller that outlived it (an attack counted 14,872 answers in 2 s after it), and its claims would go
     * without the lease renewal that close() stopped.
     */
    private void refuseIfClosed() {
        if (closed) throw new CacheLoadException("the cache is closed", null);
    }

    @Override
    public java.util.Optional<V> nearValue(String key) {
        Objects.requireNonNull(key, "key");
        if (closed) return java.util.Optional.empty();
        return java.util.Optional.ofNullable(nearHit(keyHash.of(key)));
    }

    /** The near cache's value for the hash, counted as a near hit when there is one; else null. */
    private V nearHit(String hash) {
        V value = near.get(hash);
        if (value != null) metrics.nearHit.increment();
        return value;
    }

    @Override
    public boolean storeAvailable() {
        return breaker.available();
    }

    /** The store breaker's state, for a test's failure message. */
    String storeState() {
        return breaker.describe();
    }

    /** How long the key's near-cache entry has left, in milliseconds; -1 when there is none. For tests. */
    long nearRemainingMillis(String key) {
        return near.remainingMillis(keyHash.of(key));
    }

    /**
     * The first caller of a key in this process resolves it; the others share its result, or, when the
     * loader said {@link Bypass} (its answer is its caller's alone), load their own. A fail-open answer
     * is shared: during an outage a key still costs one loader call per process.
     */
    /**
     * For a caller that asked at {@code asked} (nanoTime): a caller that waited for a resolution it could
     * not join keeps its first time, so it may join any resolution begun after it asked.
     */
    private CompletableFuture<CacheResult<V>> lookupAsync(String key, Reloader<V> loader, Run run, long asked) {
        return lookupAsync(key, loader, run, asked, null);
    }

    /** As above; {@code after}: the resolution this caller was kept out of, whose {@code next} it sets. */
    private CompletableFuture<CacheResult<V>> lookupAsync(
            String key, Reloader<V> loader, Run run, long asked, Resolution<V> after) {
        boolean async = run == Run.EXECUTOR;
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(loader, "loader");
        if (closed) return CompletableFuture.failedFuture(new CacheLoadException("the cache is closed", null));
        String hash = keyHash.of(key);
        V nearValue = nearHit(hash);
        if (nearValue != null) {
            return CompletableFuture.completedFuture(new CacheResult<>(nearValue, CacheResult.Source.NEAR_HIT));
        }
        Resolution<V> mine = new Resolution<>();
        Resolution<V> running = inFlight.putIfAbsent(hash, mine);
        if (running != null && loadingHere.get().get(hash) == running) {
            // this thread runs that resolution's loader, which asked for its own key: joining its own
            // resolution (or waiting for it to end) waited for good, the lease renewed until loadTimeout
            // (Caffeine and Guava refuse it too)
            return CompletableFuture.failedFuture(recursive(key));
        }
        // whether the listener hears, then whether the resolution was purged: the listener counts as hearing
        // only after its caches marked their resolutions for a gap, so this order never sees it hearing with
        // the mark missing (read the other way, a caller could read "not purged", then "hearing" after the
        // listener's return, and join a load begun before a purge it never heard: helper-75, by reading)
        if (running != null && (unheardPurgesMayPredate(running, asked) || running.purged)) {
            // after it ends (and leaves the map), a resolution of its own; but a failure is no purged value,
            // so one not purged hands its failure on, as joining it would have: re-resolving ran the loader
            // again for each late caller of a failing load (helper-66)
            return running.handle((r, t) -> t).thenCompose(failure -> {
                if (failure != null
                        && !running.purged
                        && !(cause(failure) instanceof Bypass)
                        && !(cause(failure) instanceof CallerInterrupted)) {
                    return CompletableFuture.failedFuture(cause(failure));
                }
                return after(running, key, loader, async, asked);
            });
        }
        if (after != null) after.next.compareAndSet(null, running != null ? running : mine);
        if (running != null) return joined(running, key, loader, async, asked);
        // Out of the map before completing: a caller that comes after the answer (after a purge, say) must
        // not join a finished resolution and get its answer.
        Reloader<V> load = marked(hash, mine, loader);
        Runnable resolve = () -> {
            CacheResult<V> r;
            try {
                r = resolve(key, hash, load);
            } catch (Throwable t) {
                inFlight.remove(hash, mine);
                mine.completeExceptionally(failureOf(mine, key, t));
                return;
            }
            inFlight.remove(hash, mine);
            mine.complete(r);
        };
        CompletableFuture<CacheResult<V>> answer = mine.exceptionally(t -> {
            if (cause(t) instanceof Bypass b) return new CacheResult<>(passed(b), CacheResult.Source.BYPASS);
            if (cause(t) instanceof CallerInterrupted i) throw new CompletionException(i.forCaller);
            throw new CompletionException(cause(t));
        });
        switch (run) {
            case EXECUTOR -> {
                try {
                    executor.execute(resolve);
                } catch (java.util.concurrent.RejectedExecutionException closing) {
                    inFlight.remove(hash, mine);
                    mine.completeExceptionally(new CacheLoadException("the cache is closed", closing));
                }
            }
            case HERE -> resolve.run(); // the first caller resolves in its own thread: no hand-off on the hit path
            case DEFER -> {
                return CompletableFuture.failedFuture(new ResolveHere(resolve, answer));
            }
        }
        return answer;
    }

    /**
     * The caller resolves anew: an asynchronous one on the cache's executor; a synchronous one in its own
     * thread, its resolution registered now. The callers kept out of one resolution come here one after
     * another in the thread that ends it, so the first registers the next resolution and the others join it:
     * each ran its own before, and with a fast loader (an outage, failing open) every kept-out caller called
     * it (helper-73: 64 loader calls for 10 rounds of 8 such callers; 31 when they were started on the
     * executor, where a fast one could end before the next caller looked).
     */
    private CompletableFuture<CacheResult<V>> again(
            String key, Reloader<V> loader, boolean async, long asked, Resolution<V> keptOutOf) {
        return lookupAsync(key, loader, async ? Run.EXECUTOR : Run.DEFER, asked, keptOutOf);
    }

    /** The answer of the resolution after {@code ended}, which this caller could not take the answer of. */
    private CompletableFuture<CacheResult<V>> after(
            Resolution<V> ended, String key, Reloader<V> loader, boolean async, long asked) {
        Resolution<V> next = ended.next.get();
        return next != null ? joined(next, key, loader, async, asked) : again(key, loader, async, asked, ended);
    }

    /** The answer of a resolution this caller joins (running, or ended when it is one it may take). */
    private CompletableFuture<CacheResult<V>> joined(
            Resolution<V> running, String key, Reloader<V> loader, boolean async, long asked) {
        metrics.coalescedLocal.increment();
        return running.exceptionallyCompose(t -> cause(t) instanceof Bypass
                        ? async
                                ? CompletableFuture.supplyAsync(
                                        () -> new CacheResult<>(bypassed(loader), CacheResult.Source.BYPASS), executor)
                                : CompletableFuture.failedFuture(LOAD_HERE)
                        : cause(t) instanceof CallerInterrupted
                                // its caller's interrupt, not this one's: its callers resolve anew, together
                                ? after(running, key, loader, async, asked)
                                : CompletableFuture.failedFuture(cause(t)))
                .thenApply(r -> switch (r.source()) {
                    case MISS, COALESCED -> new CacheResult<>(r.value(), CacheResult.Source.COALESCED);
                    default -> r;
                });
    }

    /**
     * True when the running resolution began more than {@code nearCacheMaxAge} before this caller asked
     * while no purge notice can be counted on (no NOTIFY, or a listener that has not answered a heartbeat
     * within that age): a purge committed by another process since it began, which nothing here heard, may
     * have come after its loader read the source. It is the bound the near cache keeps without notices: a
     * caller that asks more than {@code nearCacheMaxAge} after a purge returned never takes an answer read
     * before it (helper-64: a caller joined such a load and got the purged value, on every database).
     */
    private boolean unheardPurgesMayPredate(Resolution<V> running, long asked) {
        if (asked - running.started <= nearMaxAgeNanos) return false;
        // a listener that answers its heartbeat hears every purge, or reports the gap (onMissedNotifications).
        // Its heartbeat comes every quarter of nearCacheMaxAge for every cache on it, near cache or not, so
        // this holds while it hears. Without a near cache it came every 2 s, and trusting a silent connection
        // for the 4 s of that heartbeat and its timeout let a caller 800 ms after an unheard purge join a load
        // older than the bound (helper-72; at nearCacheMaxAge itself such callers had been kept out about half
        // the time while the listener heard, helper-66)
        NotifyListener l = listener;
        // trusted for nearCacheMaxAge exactly, however short: with 5 ms, and a heartbeat every 20 ms at the
        // shortest, callers a few milliseconds into a load are often kept out of it and load again, the price
        // of the bound (trusting it for 80 ms let a caller 30 ms after an unheard purge join the old load,
        // helper-74)
        return closed || l == null || !l.heardWithin(nearMaxAgeNanos);
    }

    /**
     * The resolutions whose loader this thread runs now, by key hash: a loader asking for its own key finds
     * its own resolution here and is refused, instead of joining it and waiting for itself.
     */
    private final ThreadLocal<java.util.Map<String, Resolution<V>>> loadingHere =
            ThreadLocal.withInitial(java.util.HashMap::new);

    /** The resolution's loader, marked as running in the thread that calls it while it runs. */
    private Reloader<V> marked(String hash, Resolution<V> mine, Reloader<V> loader) {
        return previous -> {
            java.util.Map<String, Resolution<V>> loading = loadingHere.get();
            Resolution<V> before = loading.put(hash, mine);
            try {
                return loader.load(previous);
            } catch (Throwable t) {
                mine.loaderThrew = t;
                throw t;
            } finally {
                if (before == null) loading.remove(hash);
                else loading.put(hash, before);
            }
        };
    }

    static CacheLoadException recursive(String key) {
        return new CacheLoadException(
                "recursive load: the loader for key " + key + " asked the same cache for the same key, which"
                        + " would wait for itself",
                null);
    }

    private static Throwable cause(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    private CacheResult<V> resolve(String key, String hash, Reloader<V> loader) throws Exception {
        if (!breaker.available()) return failOpen(loader, null);
        try (Waiters.Done ignored = () -> waiters.forget(hash)) {
            return protocol(key, hash, loader);
        } catch (StoreException e) {
            if (!e.outage())
                throw StoreException.toCaller(e); // the statement failed, the database did not: no loader call
            return failOpen(loader, e);
        }
    }

    /** The database is unreachable: load without it (one call per key per process), or fail closed. */
    private CacheResult<V> failOpen(Reloader<V> loader, StoreException e) throws Exception {
        if (!config.failOpen) throw StoreException.toCaller(e);
        metrics.failOpen.increment();
        return new CacheResult<>(leader.load(loader, null), CacheResult.Source.BYPASS);
    }

    /** Loads without the cache, taking the value out of a {@link Bypass}. */
    private V loadOrPass(Reloader<V> loader) throws Exception {
        try {
            return leader.load(loader, null);
        } catch (Bypass b) {
            return passed(b);
        }
    }

    /** The key is marked pass-through: this caller loads for itself, and its answer is its own. */
    private Bypass passThrough(Reloader<V> loader) throws Exception {
        return new Bypass(loadOrPass(loader), java.time.Duration.ZERO);
    }

    private V bypassed(Reloader<V> loader) {
        try {
            return loadOrPass(loader);
        } catch (Exception e) {
            throw new CompletionException(e);
        }
    }

    @SuppressWarnings("unchecked")
    private V passed(Bypass b) {
        return (V) b.value();
    }

    private CacheResult<V> protocol(String key, String hash, Reloader<V> loader) throws Exception {
        long pollMillis = config.pollMin.toMillis();
        long started = System.nanoTime();
        long woke = 0; // when this waiter's last wait ended
        long waitStarted = 0;
        long waitStartedDb = 0; // the database clock when this caller began waiting for another's load
        while (true) {
            // The wake-up signal is taken before each read, so a wake-up between the read and the wait is not
            // lost; taking it on the first read too (a map entry, dropped when the resolution ends) lets a
            // caller that finds another's live lease wait at once instead of reading the row a second time
            var signal = waiters.signal(hash);
            long readAt = near.generation();
            long readStarted = System.nanoTime(); // a value this caller waits for is stored after this
            Entry e = store.read(hash);
            if (waitStarted != 0
                    && e != null
                    && e.state() == Entry.READY
                    && !e.fresh()
                    && !e.leased()
                    && e.expiresAt() >= waitStartedDb) {
                // the load this caller waited for, stored already stale (a value fresh for zero seconds):
                // it is still the answer to this request, as it is for the leader's own callers
                metrics.coalescedRemote.increment();
                V v = codec.decode(e.value());
                if (woke != 0) metrics.wakePhase.record(System.nanoTime() - woke, TimeUnit.NANOSECONDS);
                return new CacheResult<>(v, CacheResult.Source.COALESCED);
            }
            int failedRounds = waitStarted != 0 && e != null && !e.leased() ? e.failedRound() : 0;
            if (failedRounds > config.failedRoundsBeforeError) throw failedElsewhere(key, failedRounds, e.failure());
            boolean claimable = e == null || e.claimable();
            if (claimable) refuseIfClosed(); // a claim now would lapse: nothing renews it
            String token = claimable ? process + "-" + claims.incrementAndGet() : null;
            String owner = token == null ? null : store.claimOwner(hash, key, token, config.lease.toMillis());
            if (token != null && token.equals(owner)) {
                V previous = e != null && e.state() == Entry.READY && e.value() != null
                        ? decodeOrNull(hash, e.value())
                        : null;
                boolean stale = previous != null && staleAfterClaim(e, previous, hash, token);
                if (stale) { // serve the old value; this process refreshes it in the background
                    metrics.stale.increment();
                    executor.execute(() -> leader.refresh(key, hash, token, loader, previous));
                    return new CacheResult<>(previous, CacheResult.Source.STALE);
                }
                if (e != null && e.leaseOwner() != null) metrics.takeovers.increment();
                metrics.miss.increment(); // this request loads, after waiting for another or not
                if (waitStarted == 0) metrics.claimPhase.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
                return leader.lead(key, hash, token, loader, previous, failedRounds, false);
            }
            if (e != null && e.fresh()) {
                if (e.state() == Entry.PASS) throw passThrough(loader);
                if (e.state() == Entry.FAILED) {
                    metrics.negativeHit.increment();
                    throw new CacheLoadException("cached failure for key " + key + ": " + e.error(), null);
                }
                CacheResult.Source source = CacheResult.Source.HIT;
                if (waitStarted != 0) {
                    metrics.wait.record(System.nanoTime() - waitStarted, TimeUnit.NANOSECONDS);
                    metrics.coalescedRemote.increment();
                    source = CacheResult.Source.COALESCED;
                } else {
                    metrics.hit.increment();
                }
                V v = codec.decode(e.value());
                // fresh for what the row had left when the database read it, counted from before the read: a
                // slow decode or answer must not keep it here past the row's expiry (it did, by that long)
                near.put(hash, v, e.value().length, e.remainingMillis() - NearCache.millisSince(readStarted), readAt);
                if (woke != 0) metrics.wakePhase.record(System.nanoTime() - woke, TimeUnit.NANOSECONDS);
                return new CacheResult<>(v, source);
            }
            V old = servableStale(e);
            if (old != null) {
                metrics.stale.increment(); // another process is refreshing it
                return new CacheResult<>(old, CacheResult.Source.STALE);
            }
            // Another caller leads: its lease is live, or it won the race for this claim (the claim failed,
            // so the row was written after this read, leased or fresh)
            if (waitStarted == 0) {
                waitStarted = System.nanoTime();
                // only a value written after this read answers this caller: with no row any is; the row's own
                // value (expired, being refreshed or released in the same millisecond) never is
                waitStartedDb = e == null ? Long.MIN_VALUE : Math.max(e.now(), e.expiresAt() + 1);
                metrics.claimPhase.record(waitStarted - started, TimeUnit.NANOSECONDS);
            }
            // the claim token of the load this caller waits for, when it knows it
            String awaited = e != null && e.leased() ? e.leaseOwner() : owner;
            if (e == null || !e.leased()) {
                // lost the claim race: the winner's write or release comes after this read, and its NOTIFY
                // wakes the signal taken before the read. Listening, wait for it rather than read the row
                // again only to find the lease (a statement per waiting process per key); polling, look again
                if (listening()) {
                    waiters.await(hash, signal, Math.min(SAFETY_NET_MILLIS, config.lease.toMillis()));
                    woke = System.nanoTime();
                    CacheResult<V> sent = opened(signal, awaited, hash, readAt, readStarted, waitStarted, woke);
                    if (sent != null) return sent;
                }
                continue;
            }
            long untilLapse = e.leaseUntil() - e.now() + 1;
            waiters.await(hash, signal, Math.min(listening() ? SAFETY_NET_MILLIS : pollMillis, untilLapse));
            woke = System.nanoTime();
            CacheResult<V> sent = opened(signal, awaited, hash, readAt, readStarted, waitStarted, woke);
            if (sent != null) return sent;
            pollMillis = Math.min(pollMillis * 2, config.pollMax.toMillis());
        }
    }

    /**
     * The value the load this caller waits for sent with its NOTIFY, when the signal carries one that
     * opens under that load's token ({@link SealedValue}); else null, and the caller reads the row.
     */
    private CacheResult<V> opened(
            java.util.concurrent.CompletableFuture<String> signal,
            String awaited,
            String hash,
            long readAt,
            long readStarted,
            long waitStarted,
            long woke) {
        SealedValue.Opened sent =
                SealedValue.open(store.sealSecret(), signal.getNow(null), awaited, config.namespace, hash);
        if (sent == null) return null;
        V v = codec.decode(sent.value());
        metrics.wait.record(woke - waitStarted, TimeUnit.NANOSECONDS);
        metrics.coalescedRemote.increment();
        // fresh for what its leader said, counted from this caller's read (the store came after it): a
        // notification that arrives late must not keep the value longer than the row would; and never for
        // longer than this cache would give the value itself (a payload sealed by someone who had read the
        // secret said an hour, and this process served it as a hit for that long: helper-80), a freshness
        // below zero being none (Long.MIN_VALUE wrapped to forever in the subtraction: helper-81)
        long fresh = Math.min(Math.max(0, sent.freshMillis()), ownFreshMillis(v)) - NearCache.millisSince(readStarted);
        if (fresh > 0) near.put(hash, v, sent.value().length, fresh, readAt);
        metrics.wakePhase.record(System.nanoTime() - woke, TimeUnit.NANOSECONDS);
        return new CacheResult<>(v, CacheResult.Source.COALESCED);
    }

    /** How long this cache would keep {@code v} fresh, 0 when its {@link Expiry} fails on it. */
    private long ownFreshMillis(V v) {
        try {
            return leader.freshMillis(v);
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /**
     * The value this caller has just claimed the key to replace, or null when it cannot be decoded (a
     * class changed between deploys, say): the claim must go on to load, never end in the codec's
     * exception with the claim held, which would make every other process wait a lease and fail the same.
     */
    private V decodeOrNull(String hash, byte[] bytes) {
        try {
            return codec.decode(bytes);
        } catch (RuntimeException e) {
            // the key's hash (the row's key_hash), not its text, as in every log line of once-cache's own: a
            // proxy's key text holds its credentials' digests
            log.warn(
                    "once-cache: the stored value for the key hashed {} cannot be decoded ({}); loading it anew",
                    hash,
                    e.toString());
            return null;
        }
    }

    private static CacheLoadException failedElsewhere(String key, int rounds, String error) {
        return new CacheLoadException(
                "the loader for key " + key + " failed in another process " + rounds + " times; last error: " + error,
                null);
    }

    /**
     * The entry's expired value when it is still inside its stale window, else null. Decoded only when
     * the window depends on the value or is open: waiters come here on every round of their wait.
     */
    private V servableStale(Entry e) {
        if (e == null || e.state() != Entry.READY || e.value() == null) return null;
        if (config.expiry == null && e.now() >= e.expiresAt() + config.staleWhileRevalidate.toMillis()) return null;
        V old = codec.decode(e.value());
        return e.now() < e.expiresAt() + staleWindowMillis(old) ? old : null;
    }

    /**
     * Whether the claimed row's old value is inside its stale window. The window may be the application's
     * {@link Expiry}: what it throws goes to the caller, and the claim just won is released first (it was
     * left held: every later call waited out the lease and failed the same way).
     */
    private boolean staleAfterClaim(Entry e, V previous, String hash, String token) {
        try {
            return e.now() < e.expiresAt() + staleWindowMillis(previous);
        } catch (RuntimeException | Error failure) {
            try {
                store.release(hash, token, "the cache's Expiry threw: " + failure);
            } catch (StoreException released) {
                failure.addSuppressed(released);
            }
            throw failure;
        }
    }

    private long staleWindowMillis(V value) {
        return config.expiry == null
                ? config.staleWhileRevalidate.toMillis()
                : Leader.boundedMillis(config.expiry.staleWhileRevalidate(value));
    }

    /** True while purges reach this process: PostgreSQL with NOTIFY, its listener connected. */
    @Override
    public boolean listening() {
        NotifyListener l = listener;
        return !closed && l != null && l.listening(); // another cache may keep the shared listener
    }

    /** True while purges reach this process, and its listener has shown so within nearCacheMaxAge. */
    private boolean heard() {
        NotifyListener l = listener;
        return !closed && l != null && l.heardWithin(nearMaxAgeNanos);
    }

    /**
     * The listener's connection is lost: purges sent from now on do not reach this process. The near cache
     * forgets what it kept on the word that they did (new entries are kept no longer than nearCacheMaxAge
     * until the listener is back), and every waiter re-reads (and polls). A resolution running now is still
     * joined by a caller within nearCacheMaxAge of its start ({@link #unheardPurgesMayPredate}), the bound
     * that every answer keeps while purges go unheard: marking it as purged here too made every caller after
     * the loss wait for it and run the loader again, a second paid call per key when the database itself was
     * down (a caller after the loss, FailOpenTest).
     */
    private void onListenerLost() {
        near.invalidateAll();
        waiters.wakeAll();
    }

    /**
     * The listener is back after a loss: purges sent meanwhile never reached this process, and from now on
     * {@link #unheardPurgesMayPredate} no longer keeps callers out of older resolutions. So it does what a
     * heard purge of every key does: the near cache forgets everything, no resolution running now is joined
     * (its loader may have read the source before a purge it never heard: helper-64 saw a caller after the
     * gap join one and get the purged value), and every waiter re-reads.
     */
    private void onMissedNotifications() {
        purgedAll();
        near.invalidateAll();
        waiters.wakeAll();
    }

    private void onNotification(String payload) {
        if (payload.startsWith("v/")) { // a stored value, sealed: its waiter opens it, or reads the row
            String[] address = SealedValue.address(payload);
            if (address != null && address[0].equals(config.namespace)) waiters.deliver(address[1], payload);
            return;
        }
        int last = payload.lastIndexOf('/');
        // any role may NOTIFY on the channel: a payload of another shape is ignored, never thrown on
        if (last < 2 || payload.charAt(1) != '/' || !payload.substring(2, last).equals(config.namespace)) return;
        String hash = payload.substring(last + 1);
        switch (payload.charAt(0)) {
            case 'k' -> waiters.wake(hash);
            case 'p' -> { // a purged key's waiters read again: its leader's write is fenced off with the row
                near.invalidate(hash);
                purged(hash);
                waiters.wake(hash);
            }
            case 'P' -> {
                near.invalidateAll();
                purgedAll();
                waiters.wakeAll();
            }
            default -> {}
        }
    }

    @Override
    public void purge(String key) {
        Objects.requireNonNull(key, "key");
        refuseIfClosed();
        String hash = keyHash.of(key);
        near.invalidate(hash);
        try {
            store.purge(hash);
        } catch (StoreException e) {
            throw new CacheLoadException("cannot purge key " + key + ": " + e.getMessage(), e);
        } finally {
            // again after the delete: a caller here that missed the near cache just after the first
            // invalidation may have read the row before the delete; its put is checked against the
            // generation this moves, so it cannot put the purged value back
            near.invalidate(hash);
            purged(hash); // and a resolution here that may have read it is not joined from now on
        }
    }

    /**
     * One statement writes the row whatever it holds and frees its lease, fencing off a load in flight;
     * with NOTIFY it sends the purge notice, which wakes the key's waiters everywhere and drops it from
     * near caches. Here, as for a purge, the near cache forgets the key before and after the write, and a
     * resolution that may have read the old row is not joined; this process's waiters are woken at once.
     */
    @Override
    public void put(String key, V value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        refuseIfClosed();
        String hash = keyHash.of(key);
        byte[] bytes = codec.encode(value);
        int bound = store.valueBound();
        if (bytes.length > bound) {
            purge(key);
            throw new CacheLoadException(
                    "the value put for key " + key + " is " + bytes.length + " bytes, over the cache's limit of "
                            + bound + " (maxValueBytes): it was not stored, and the key was purged",
                    null);
        }
        near.invalidate(hash);
        boolean written = false;
        try {
            store.put(hash, key, bytes, leader.freshMillis(value));
            written = true;
        } catch (StoreException e) {
            throw new CacheLoadException("cannot put key " + key + ": " + e.getMessage(), e);
        } finally {
            near.invalidate(hash); // a read from before the write cannot put the old value back (see purge)
            if (written) detach(hash);
            else purged(hash); // the row may or may not hold the value: as after a purge
            waiters.wake(hash); // other processes hear the NOTIFY, or poll
        }
    }

    /**
     * After a put: the key's resolution here, if one runs, is neither joined nor waited for; a caller
     * from now on resolves anew and reads the put value. Marking it as a purge does (wait for it to end)
     * made a get after the put wait for a whole load it no longer took the value of: 15 s for a 15 s
     * loader (an attack). A purge cannot do this: its callers may claim and wait, and two resolutions
     * waiting on one key would share its wake-up signal; after a put the row is ready.
     */
    private void detach(String hash) {
        Resolution<V> running = inFlight.get(hash);
        if (running != null) {
            running.purged = true;
            inFlight.remove(hash, running);
        }
    }

    /** The key's resolution here, if one runs, began before a purge of it committed: not to be joined. */
    private void purged(String hash) {
        Resolution<V> running = inFlight.get(hash);
        if (running != null) running.purged = true;
    }

    private void purgedAll() {
        for (Resolution<V> running : inFlight.values()) running.purged = true;
    }

    @Override
    public void purgeAll() {
        refuseIfClosed();
        near.invalidateAll();
        try {
            store.purgeAll();
        } catch (StoreException e) {
            throw new CacheLoadException("cannot purge namespace " + config.namespace + ": " + e.getMessage(), e);
        } finally {
            near.invalidateAll(); // again after the delete, as in purge
            purgedAll();
        }
    }

    @Override
    public int maxValueBytes() {
        return store.valueBound();
    }

    @Override
    public void close() {
        closed = true;
        leases.close();
        leader.releaseAll();
        if (listener != null) NotifyListener.unsubscribe(config.dataSource, channel, subscriber);
        if (janitor != null) janitor.close();
        breaker.close();
        executor.shutdown();
    }

    /** A failure as callers get it: the loader's or the store's, as a CacheLoadException; an Error thrown. */
    static RuntimeException unwrap(Throwable t) {
        if (t instanceof ExecutionException || t instanceof CompletionException) t = t.getCause();
        if (t instanceof CacheLoadException c) return c;
        if (t instanceof RuntimeException r) return new CacheLoadException(r.getMessage(), r);
        if (t instanceof Error err) throw err;
        return new CacheLoadException("the loader failed: " + t, t);
    }
}
