package dev.once.cache;

import dev.once.jdbc.SqlErrors;
import java.sql.SQLException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the cache's statements within a time bound of its own, and remembers an outage so that later
 * calls do not wait for it again (a circuit breaker).
 *
 * <p>Why a bound of its own: the application's pool may wait 30 s for a connection (HikariCP's
 * default) and may first validate an idle one for 5 s more; a socket to a database behind a dead route
 * blocks for as long as the kernel keeps retrying. So each call runs on a virtual thread and is
 * waited for at most {@code storeTimeout}; a call that overruns is interrupted (which closes a socket
 * it blocks on, and the wait of a pool) and counts as an outage. The pool's connections are not
 * reconfigured.
 *
 * <p>Errors are classified by once-jdbc's dialects ({@link SqlErrors}): unreachable (SQLState class
 * 08, a pool's timeout) is an outage; transient (serialization failure, deadlock, lock timeout, busy)
 * is retried with jittered backoff within the same bound; anything else is an error of the statement.
 *
 * <p>States: closed (calls run), open (calls fail at once, without touching the database). The first
 * outage opens it; a background probe then runs one bounded read every {@link #PROBE_MILLIS} ms and
 * closes it when the read succeeds. {@link #available()} reads the state only, so a health check
 * answers at once whatever the database does.
 */
final class StoreBreaker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StoreBreaker.class);
    static final long PROBE_MILLIS = 500;

    interface Call<T> {
        T run() throws SQLException;
    }

    private final SqlErrors errors;
    private final long timeoutNanos;
    private final String table;
    private final AtomicBoolean open = new AtomicBoolean();
    private volatile Call<?> probe;
    private volatile boolean closed;

    StoreBreaker(SqlErrors errors, long timeoutMillis, String table) {
        this.errors = errors;
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        this.table = table;
    }

    /** The statement the probe runs while the breaker is open (a read). */
    void probeWith(Call<?> probe) {
        this.probe = probe;
    }

    /** False from the first outage until a probe has reached the database again. Never blocks. */
    boolean available() {
        return !open.get();
    }

    /** Runs the call within the bound; fails at once while the breaker is open. */
    <T> T call(Call<T> call) throws StoreException {
        if (open.get()) throw new StoreException(true, "the cache table " + table + " is unreachable", null);
        return bounded(call, true);
    }

    private <T> T bounded(Call<T> call, boolean trips) throws StoreException {
        long deadline = System.nanoTime() + timeoutNanos;
        for (int attempt = 0; ; attempt++) {
            FutureTask<T> task = new FutureTask<>(call::run);
            Thread.ofVirtual().name("once-cache-store").start(task);
            try {
                return task.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                task.cancel(true);
                throw outage("no answer within " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms", e, trips);
            } catch (InterruptedException e) {
                task.cancel(true);
                Thread.currentThread().interrupt();
                throw new StoreException(false, "interrupted while waiting for the cache table", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                switch (errors.classify(cause)) {
                    case UNREACHABLE -> throw outage(cause.getMessage(), cause, trips);
                    case TRANSIENT -> {
                        long backoff = TimeUnit.MILLISECONDS.toNanos(
                                ThreadLocalRandom.current().nextLong(1, 5L << Math.min(attempt, 5)));
                        if (System.nanoTime() + backoff >= deadline) {
                            throw new StoreException(
                                    false, "the cache table " + table + " stayed busy: " + cause.getMessage(), cause);
                        }
                        sleepNanos(backoff);
                    }
                    case OTHER ->
                        throw new StoreException(
                                false,
                                "a statement on the cache table " + table + " failed: " + cause.getMessage(),
                                cause);
                }
            }
        }
    }

    private StoreException outage(String why, Throwable cause, boolean trips) {
        if (trips && open.compareAndSet(false, true)) {
            log.warn(
                    "once-cache: the cache table {} is unreachable ({}); probing every {} ms",
                    table,
                    why,
                    PROBE_MILLIS);
            Thread.ofVirtual().name("once-cache-probe").start(this::probeUntilBack);
        }
        return new StoreException(true, "the cache table " + table + " is unreachable: " + why, cause);
    }

    private void probeUntilBack() {
        while (!closed) {
            try {
                Thread.sleep(PROBE_MILLIS);
                bounded(probe, false);
                open.set(false);
                log.warn("once-cache: the cache table {} is reachable again; caching resumed", table);
                return;
            } catch (StoreException e) {
                if (!e.outage()) { // reachable: the probe's own statement failed, as a caller's would
                    open.set(false);
                    return;
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static void sleepNanos(long nanos) throws StoreException {
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException(false, "interrupted while retrying a statement on the cache table", e);
        }
    }

    @Override
    public void close() {
        closed = true;
    }
}
