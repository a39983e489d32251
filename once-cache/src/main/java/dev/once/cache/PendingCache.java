package dev.once.cache;

import dev.once.jdbc.SqlErrors;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A cache whose database could not be reached when it was built ({@link
 * OnceCacheBuilder#startWhileUnreachable}). Until the database answers it behaves as a started cache
 * during an outage: failing open, the loader is called directly, one call per key per process at a
 * time; failing closed, calls throw. A background thread starts the real cache, trying at most once a
 * second, and from then on every call goes to it.
 *
 * <p>Only an unreachable database is waited out ({@link SqlErrors#connecting}). One that answers and
 * refuses the cache (a login refused, no such database, a table it may not create) fails {@code
 * build()} as it always has; found only on a later attempt, it is logged at ERROR and tried again
 * every 30 seconds, and the cache keeps failing open or closed meanwhile. Each attempt first opens a
 * connection of its own, outside the pool when the data source tells its URL (as the listener's is),
 * under a 10 s login timeout: a pool's wait for a connection (HikariCP's 30 s) hid a refusal behind its
 * timeout past {@code build()}'s wait.
 */
final class PendingCache<V> implements OnceCache<V> {
    private static final Logger log = LoggerFactory.getLogger(PendingCache.class);
    static final long RETRY_MILLIS = 1_000;
    static final long REFUSED_RETRY_MILLIS = 30_000;

    private final String namespace;
    private final boolean failOpen;
    private final int maxValueBytes;
    private final Callable<OnceCache<V>> start;
    private final CompletableFuture<OnceCache<V>> first = new CompletableFuture<>();
    private final ConcurrentHashMap<String, CompletableFuture<V>> inFlight = new ConcurrentHashMap<>();
    /** The keys whose loader this thread runs now: a loader asking for its own key is refused, not left waiting. */
    private final ThreadLocal<java.util.Set<String>> loadingHere = ThreadLocal.withInitial(java.util.HashSet::new);

    private final Thread starter;
    /** The started cache's own fail-open count, counted from the start (one meter, as Micrometer keys it). */
    private final io.micrometer.core.instrument.Counter failedOpen;

    private volatile OnceCache<V> started;
    private volatile boolean closed;
    private volatile String why = "the database has not answered yet";

    private PendingCache(OnceCacheBuilder<V> config, Callable<OnceCache<V>> start) {
        this.namespace = config.namespace;
        this.failOpen = config.failOpen;
        this.maxValueBytes = config.maxValueBytes;
        this.start = start;
        this.failedOpen = CacheMetrics.request(config.meterRegistry, config.namespace, "fail_open");
        this.starter = Thread.ofPlatform()
                .daemon()
                .name("once-cache-start " + config.table + " " + config.namespace)
                .unstarted(this::startUntilStarted);
    }

    /**
     * Starts the cache: the started one when its first attempt succeeds within {@code wait}; a pending
     * one when the database cannot be reached (or takes longer than {@code wait} to answer).
     *
     * @throws CacheLoadException when the database answered and refused the cache
     */
    static <V> OnceCache<V> start(OnceCacheBuilder<V> config, Callable<OnceCache<V>> start, long waitMillis) {
        PendingCache<V> pending = new PendingCache<>(config, start);
        pending.starter.start();
        while (true) {
            try {
                return pending.first.get(waitMillis, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                // taken by this side, the first attempt's end is a later attempt's: adopted or logged there
                if (!pending.first.completeExceptionally(new TimeoutException())) continue; // it just ended
                return pending.told("the database did not answer within " + waitMillis + " ms");
            } catch (InterruptedException e) {
                pending.close();
                Thread.currentThread().interrupt();
                throw new CacheLoadException("interrupted while starting the cache", e);
            } catch (ExecutionException e) {
                if (!unreachable(e.getCause())) {
                    pending.close();
                    throw SqlOnceCache.unwrap(e.getCause());
                }
                return pending.told(pending.why + ", trying again every second");
            }
        }
    }

    /** This pending cache, once the log says why it did not start and what calls do meanwhile. */
    private PendingCache<V> told(String reason) {
        log.warn(
                "once-cache: namespace {}: {}; {} until it does",
                namespace,
                reason,
                failOpen ? "loading without the cache" : "failing closed");
        return this;
    }

    /** Whether the failure is the database out of reach, which waiting may mend ({@link SqlErrors#connecting}). */
    static boolean unreachable(Throwable failure) {
        return SqlErrors.connecting(failure) == SqlErrors.Kind.UNREACHABLE;
    }

    /**
     * Tries to start the cache until it starts or this closes: once a second while the database cannot
     * be reached, every 30 s while it refuses. Each new reason is logged once, not once a try.
     */
    private void startUntilStarted() {
        String told = null;
        while (!closed) {
            long began = System.nanoTime();
            long pause = RETRY_MILLIS;
            try {
                OnceCache<V> c = start.call();
                adopt(c);
                if (!first.complete(c) && told != null) {
                    // WARN, as the lines it ends: an INFO went unseen under a WARN root
                    log.warn("once-cache: namespace {}: the database answers; caching now", namespace);
                }
                return;
            } catch (Throwable t) {
                boolean refused = !unreachable(t);
                why = (refused ? "the database refused the cache: " : "the database cannot be reached: ")
                        + t.getMessage();
                String reason = reason(t);
                if (first.completeExceptionally(t)) { // start() tells of it, or throws it
                    if (refused) return;
                    told = reason;
                } else if (!closed && !reason.equals(told)) {
                    if (refused) log.error("once-cache: namespace {}: cannot start: {}", namespace, why);
                    else log.warn("once-cache: namespace {}: not started yet: {}", namespace, why);
                    told = reason;
                }
                // an Error too (a driver's class missing, say) is told and tried again, slowly: the thread
                // ending would leave the cache unstarted for the life of the process, without a word
                if (refused) pause = REFUSED_RETRY_MILLIS;
            }
            long left = pause - (System.nanoTime() - began) / 1_000_000;
            if (left > 0) {
                try {
                    Thread.sleep(left);
                } catch (InterruptedException e) {
                    return; // closed
                }
            }
        }
    }

    /**
     * What a failure is, for telling each reason once: its deepest cause's type and the SQLStates on the
     * way. Not its message: a pool's says how many milliseconds it waited and how many callers wait.
     */
    private static String reason(Throwable t) {
        StringBuilder b = new StringBuilder();
        Throwable root = t;
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            root = c;
            if (c instanceof java.sql.SQLException sql && sql.getSQLState() != null)
                b.append(sql.getSQLState()).append('/');
        }
        return b.append(root.getClass().getName()).toString();
    }

    /** The cache started: from now on every call goes to it; closed at once if this one closed meanwhile. */
    private synchronized void adopt(OnceCache<V> c) {
        if (closed) {
            c.close();
            return;
        }
        started = c;
    }

    @Override
    public CacheResult<V> lookup(String key, Reloader<V> loader) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(loader, "loader");
        OnceCache<V> c = started;
        if (c != null) return c.lookup(key, loader);
        refuseIfClosed();
        if (!failOpen) throw notStarted("");
        return new CacheResult<>(loadShared(key, loader), CacheResult.Source.BYPASS);
    }

    /**
     * The first caller of a key loads; those that come while it runs share its value or its error, as a
     * started cache's do during an outage. A value its loader said {@link Bypass} of is its caller's
     * alone: the others load their own.
     */
    private V loadShared(String key, Reloader<V> loader) {
        CompletableFuture<V> mine = new CompletableFuture<>();
        CompletableFuture<V> running = inFlight.putIfAbsent(key, mine);
        if (running != null && loadingHere.get().contains(key)) throw SqlOnceCache.recursive(key);
        if (running != null) {
            try {
                return running.join();
            } catch (CompletionException e) {
                if (!(e.getCause() instanceof Bypass)) throw SqlOnceCache.unwrap(e.getCause());
                try { // the value was its caller's: this one loads its own
                    return loader.load(null);
                } catch (Bypass b) {
                    return passed(b);
                } catch (Exception failed) {
                    throw SqlOnceCache.unwrap(failed);
                }
            }
        }
        failedOpen.increment(); // once a load, as a started cache counts its fail-open resolutions
        V v;
        java.util.Set<String> loading = loadingHere.get();
        boolean marked = loading.add(key);
        try {
            v = loader.load(null);
        } catch (Bypass b) {
            inFlight.remove(key, mine);
            mine.completeExceptionally(b); // the value is this caller's: the others load their own
            return passed(b);
        } catch (Throwable t) {
            inFlight.remove(key, mine);
            mine.completeExceptionally(t);
            throw SqlOnceCache.unwrap(t);
        } finally {
            if (marked) loading.remove(key);
        }
        inFlight.remove(key, mine);
        mine.complete(v);
        return v;
    }

    @SuppressWarnings("unchecked")
    private V passed(Bypass b) {
        return (V) b.value();
    }

    @Override
    public Optional<CacheResult<V>> peek(String key) {
        Objects.requireNonNull(key, "key");
        OnceCache<V> c = started;
        if (c != null) return c.peek(key);
        refuseIfClosed();
        // as a started cache during an outage: failing open, nothing can be read; failing closed, it throws
        if (!failOpen) throw notStarted("");
        return Optional.empty();
    }

    @Override
    public Optional<V> nearValue(String key) {
        Objects.requireNonNull(key, "key");
        OnceCache<V> c = started;
        return c != null ? c.nearValue(key) : Optional.empty();
    }

    @Override
    public CompletableFuture<V> getAsync(String key, Callable<? extends V> loader) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(loader, "loader");
        OnceCache<V> c = started;
        if (c != null) return c.getAsync(key, loader);
        return CompletableFuture.supplyAsync(() -> get(key, loader), Thread::startVirtualThread);
    }

    @Override
    public boolean storeAvailable() {
        OnceCache<V> c = started;
        return c != null && c.storeAvailable();
    }

    @Override
    public boolean listening() {
        OnceCache<V> c = started;
        return c != null && c.listening();
    }

    @Override
    public void put(String key, V value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        whenStarted("put key " + key).put(key, value);
    }

    @Override
    public void purge(String key) {
        Objects.requireNonNull(key, "key");
        whenStarted("purge key " + key).purge(key);
    }

    @Override
    public void purgeAll() {
        whenStarted("purge namespace " + namespace).purgeAll();
    }

    /** The started cache, or, before it starts, the failure of what needed it: nothing was written. */
    private OnceCache<V> whenStarted(String what) {
        OnceCache<V> c = started;
        if (c != null) return c;
        refuseIfClosed();
        throw notStarted("cannot " + what + ": ");
    }

    private CacheLoadException notStarted(String what) {
        return new CacheLoadException(what + "the cache has not started: " + why, null);
    }

    private void refuseIfClosed() {
        if (closed) throw new CacheLoadException("the cache is closed", null);
    }

    @Override
    public int maxValueBytes() {
        OnceCache<V> c = started;
        return c != null ? c.maxValueBytes() : maxValueBytes;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        starter.interrupt();
        OnceCache<V> c = started;
        if (c != null) c.close();
    }

    @Override
    public String toString() {
        OnceCache<V> c = started;
        return c != null ? c.toString() : "OnceCache[" + namespace + ", not started: " + why + "]";
    }
}
