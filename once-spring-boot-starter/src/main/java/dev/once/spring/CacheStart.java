package dev.once.spring;

import dev.once.cache.CacheLoadException;
import dev.once.cache.OnceCache;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link OnceCache} under a Spring cache, started when the database can be reached. Building one
 * reads the database (and creates the table), so while the database is down at startup or at a cache's
 * first use there is no cache yet: {@link #cache()} answers null, and the Spring cache then fails open
 * (or closed) as a started cache does in an outage. The first start runs in the caller; each later one
 * runs in the background, at most once per {@link #RETRY}, started by a call that found no cache:
 * callers never wait for it, and the database is not asked at every call.
 */
final class CacheStart implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CacheStart.class);
    static final Duration RETRY = Duration.ofSeconds(1);

    private final String name;
    private final Supplier<OnceCache<Object>> build;
    private final Executor executor;
    private final AtomicBoolean starting = new AtomicBoolean();
    private volatile OnceCache<Object> cache;
    private volatile CacheLoadException failure;
    private volatile long nextAttempt;
    private volatile boolean closed;

    /** Builds the cache now; when the database cannot be reached, logs it and leaves it to later calls. */
    CacheStart(String name, Supplier<OnceCache<Object>> build, Executor executor) {
        this.name = name;
        this.build = build;
        this.executor = executor;
        starting.set(true);
        attempt();
    }

    /** The started cache, or null while it cannot be started (a retry is then due at most every second). */
    OnceCache<Object> cache() {
        OnceCache<Object> c = cache;
        if (c != null || closed) return c;
        if (System.nanoTime() - nextAttempt >= 0 && starting.compareAndSet(false, true)) {
            try {
                executor.execute(this::attempt);
            } catch (RuntimeException e) { // the manager's executor is shut down: it is closing
                starting.set(false);
            }
        }
        return null;
    }

    /** Why the cache has not started (the last attempt's failure). */
    CacheLoadException failure() {
        CacheLoadException f = failure;
        return f != null ? f : new CacheLoadException("cache '" + name + "' has not started", null);
    }

    private void attempt() {
        try {
            OnceCache<Object> c = build.get();
            synchronized (this) {
                if (closed) {
                    c.close();
                    return;
                }
                cache = c;
            }
            if (failure != null) log.info("cache '{}' started: the database answers again", name);
            failure = null;
        } catch (CacheLoadException e) {
            if (failure == null)
                log.warn(
                        "cache '{}' cannot start ({}); until it can, its methods are called directly (fail-open)"
                                + " or fail (fail-open false), and the start is tried again at most every {} s",
                        name,
                        e.getMessage(),
                        RETRY.toSeconds());
            else log.debug("cache '{}' still cannot start: {}", name, e.getMessage());
            failure = e;
            nextAttempt = System.nanoTime() + RETRY.toNanos();
        } finally {
            starting.set(false);
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (cache != null) cache.close();
    }
}
