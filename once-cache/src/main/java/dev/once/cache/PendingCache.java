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
 * <p>Only an unreachable database is waited out. A reachable one that refuses the cache (a table
 * without its unique key, a wrong password) fails {@code build()} as it always has; found only on a
 * later attempt, it is logged at ERROR and tried again every 30 seconds, and the cache keeps failing
 * open or closed meanwhile.
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
    private final Thread starter;
    private volatile OnceCache<V> started;
    private volatile boolean closed;
    private volatile String why = "the database has not answered yet";

    private PendingCache(OnceCacheBuilder<V> config, Callable<OnceCache<V>> start) {
        this.namespace = config.namespace;
        this.failOpen = config.failOpen;
        this.maxValueBytes = config.maxValueBytes;
        this.start = start;
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
                log.warn(
                        "once-cache: namespace {}: the database did not answer within {} ms; {} until it does",
                        config.namespace,
                        waitMillis,
                        config.failOpen ? "loading without the cache" : "failing closed");
                return pending;
            } catch (InterruptedException e) {
                pending.close();
                Thread.currentThread().interrupt();
                throw new CacheLoadException("interrupted while starting the cache", e);
            } catch (ExecutionException e) {
                Throwable t = e.getCause();
                if (!unreachable(t)) {
                    pending.close();
                    if (t instanceof Error err) throw err;
                    throw t instanceof CacheLoadException c ? c : new CacheLoadException(t.getMessage(), t);
                }
                log.warn(
                        "once-cache: namespace {}: {}; {} until it can, trying again every second",
                        config.namespace,
                        pending.why,
                        config.failOpen ? "loading without the cache" : "failing closed");
                return pending;
            }
        }
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
                if (!first.complete(c) && told != null)
                    log.info("once-cache: namespace {}: the database answers; caching", namespace);
                return;
            } catch (Throwable t) {
                boolean refused = !unreachable(t);
                why = (refused ? "the database refused the cache: " : "the database cannot be reached: ")
                        + t.getMessage();
                if (first.completeExceptionally(t)) { // start() tells of it, or throws it
                    if (refused) return;
                    told = why;
                } else if (!closed && !why.equals(told)) {
                    if (refused) log.error("once-cache: namespace {}: cannot start: {}", namespace, why, t);
                    else log.warn("once-cache: namespace {}: not started yet: {}", namespace, why);
                    told = why;
                }
                if (refused) pause = REFUSED_RETRY_MILLIS;
                if (t instanceof Error e && !(t instanceof OutOfMemoryError)) throw e;
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

    /** The cache started: from now on every call goes to it; closed at once if this one closed meanwhile. */
    private synchronized void adopt(OnceCache<V> c) {
        if (closed) {
            c.close();
            return;
        }
        started = c;
    }

    @Override
    public V get(String key, Callable<? extends V> loader) {
        return lookup(key, loader).value();
    }

    @Override
    public CacheResult<V> lookup(String key, Callable<? extends V> loader) {
        Objects.requireNonNull(loader, "loader");
        return lookup(key, previous -> loader.call());
    }

    @Override
    public CacheResult<V> lookup(String key, Reloader<V> loader) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(loader, "loader");
        OnceCache<V> c = started;
        if (c != null) return c.lookup(key, loader);
        refuseIfClosed();
        if (!failOpen) throw new CacheLoadException("the cache has not started: " + why, null);
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
        if (running != null) {
            try {
                return running.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof Bypass) return loadAlone(loader);
                throw failed(e.getCause());
            }
        }
        try {
            V v = loadAlone(loader, mine);
            inFlight.remove(key, mine);
            mine.complete(v);
            return v;
        } catch (RuntimeException | Error e) {
            inFlight.remove(key, mine);
            mine.completeExceptionally(e);
            throw e;
        }
    }

    /** The loader's value, or the value it passed through with {@link Bypass}. */
    private V loadAlone(Reloader<V> loader) {
        try {
            return loader.load(null);
        } catch (Bypass b) {
            return passed(b);
        } catch (Exception e) {
            throw failed(e);
        }
    }

    /** As {@link #loadAlone(Reloader)}, telling the key's other callers of a {@link Bypass} first. */
    private V loadAlone(Reloader<V> loader, CompletableFuture<V> mine) {
        try {
            return loader.load(null);
        } catch (Bypass b) {
            mine.completeExceptionally(b); // the value was this caller's: the others load their own
            return passed(b);
        } catch (Exception e) {
            throw failed(e);
        }
    }

    @SuppressWarnings("unchecked")
    private V passed(Bypass b) {
        return (V) b.value();
    }

    /** The loader's failure as a started cache reports it. */
    private static CacheLoadException failed(Throwable t) {
        if (t instanceof CacheLoadException c) return c;
        if (t instanceof Error e) throw e;
        if (t instanceof RuntimeException r) return new CacheLoadException(r.getMessage(), r);
        return new CacheLoadException("the loader failed: " + t, t);
    }

    @Override
    public Optional<CacheResult<V>> peek(String key) {
        Objects.requireNonNull(key, "key");
        OnceCache<V> c = started;
        if (c != null) return c.peek(key);
        refuseIfClosed();
        return Optional.empty(); // as a started cache during an outage: nothing can be read
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
        notStarted("put key " + key).put(key, value);
    }

    @Override
    public void purge(String key) {
        Objects.requireNonNull(key, "key");
        notStarted("purge key " + key).purge(key);
    }

    @Override
    public void purgeAll() {
        notStarted("purge namespace " + namespace).purgeAll();
    }

    /** The started cache, or, before it starts, the failure of what needed it: nothing was written. */
    private OnceCache<V> notStarted(String what) {
        OnceCache<V> c = started;
        if (c != null) return c;
        refuseIfClosed();
        throw new CacheLoadException("cannot " + what + ": the cache has not started: " + why, null);
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
