package dev.once.cache;

import dev.once.jdbc.SqlErrors;
import java.sql.SQLException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the cache's statements within a time bound of its own, and remembers an outage so that later
 * calls do not wait for it again (a circuit breaker).
 *
 * <p>Why a bound of its own: the application's pool may wait 30 s for a connection (HikariCP's
 * default); a socket to a database behind a dead route blocks for as long as the kernel keeps
 * retrying. So each call runs in the caller's thread (no hand-off on the hit path) under an alarm that
 * interrupts it at {@code storeTimeout}: that ends a pool's wait, and a socket read on a virtual thread
 * (the JDK closes its socket; it reads without a timeout of its own); on a platform thread the
 * statement's connection carries a network timeout as long. A platform thread's call is handed to a
 * virtual thread, which it waits for at most the bound, unless the data source is HikariCP: a data
 * source without a pool opens its connection in the calling thread before any network timeout is set
 * on it, and some data sources ignore interrupts ({@link #onVirtualThread}). A call that overruns counts
 * as an outage. Not bounded by it: HikariCP's own validation of an idle connection on a platform thread
 * ({@code validationTimeout}, 5 s), so a first detection may take that long.
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

    /**
     * Statements running at once ({@link OnceCacheBuilder#maxConnections}, or a HikariCP pool's slots shared
     * with its other caches: {@link StatementSlots}); the others queue here rather than in the pool. Waiting for a slot is local contention, not the database's slowness: it does not
     * count toward the store timeout, and a caller that gets its slot after the breaker opened fails at
     * once instead of trying the database again.
     */
    private final StatementSlots slots;
    /** What this cache added to shared slots ({@link StatementSlots#shared}), given back on close. */
    private final int share;

    /** Whether a platform thread's calls run on a virtual thread ({@link #onVirtualThread}). */
    private final boolean handOff;

    StoreBreaker(SqlErrors errors, long timeoutMillis, String table, int maxConnections) {
        this(errors, timeoutMillis, table, StatementSlots.own(maxConnections), 0, true);
    }

    /**
     * @param handOff run a platform thread's calls on a virtual thread; false where the data source is
     *     known to open no connection in the calling thread and to heed interrupts (HikariCP), so that a
     *     platform thread's statement stays out of the virtual threads' scheduler
     */
    StoreBreaker(SqlErrors errors, long timeoutMillis, String table, StatementSlots slots, int share, boolean handOff) {
        this.handOff = handOff;
        this.slots = slots;
        this.share = share;
        this.errors = errors;
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        this.table = table;
    }

    /** The statement the probe runs while the breaker is open (a read). */
    void probeWith(Call<?> probe) {
        this.probe = probe;
    }

    /** Makes the cache table again when it is gone: true when a failed statement is worth one more try. */
    interface Restorer {
        boolean madeAgain(SQLException failure);
    }

    private volatile Restorer restorer;

    /**
     * Given when the cache creates its table: a statement that fails as an error (not an outage) asks it
     * whether the table is gone and made again, and if so runs once more (a careless DROP, or a database
     * restored without the table, failed every call until the process restarted: helper-57).
     */
    void restoreWith(Restorer restorer) {
        this.restorer = restorer;
    }

    /** False from the first outage until a probe has reached the database again. Never blocks. */
    boolean available() {
        return !open.get();
    }

    /**
     * Runs the call within the bound; fails at once while the breaker is open. A virtual thread runs it
     * itself (the alarm's interrupt ends its blocked read); a platform thread hands it to a virtual
     * thread and waits for it at most the bound ({@link #onVirtualThread}).
     */
    <T> T call(Call<T> call) throws StoreException {
        failIfOpen();
        acquire();
        return callHolding(call);
    }

    void failIfOpen() throws StoreException {
        if (open.get()) throw unreachable();
    }

    /** A slot now if one is free; whoever gets it passes it to {@link #callHolding} or {@link #release}. */
    boolean tryAcquire() {
        return slots.tryAcquire();
    }

    /** {@link #call} on a slot the caller holds already (acquired, or handed to it); frees the slot. */
    <T> T callHolding(Call<T> call) throws StoreException {
        if (handsOff()) return onVirtualThread(call);
        return holdingSlot(call);
    }

    /** Whether the calling thread's statements run on a virtual thread it waits for ({@link #onVirtualThread}). */
    boolean handsOff() {
        return handOff && !Thread.currentThread().isVirtual();
    }

    /**
     * Callers waiting for a slot outside the semaphore ({@link SharedReads}): a freed slot is offered to
     * them when no statement waits in the semaphore itself.
     */
    interface SlotTaker {
        /** Takes the slot for a waiting caller; false when none waits (the slot is then not taken). */
        boolean take();

        boolean waiting();
    }

    private volatile SlotTaker taker;

    void slotsTakenBy(SlotTaker taker) {
        this.taker = taker;
        slots.takenBy(taker);
    }

    /** Frees a slot the caller holds ({@link StatementSlots#release}). */
    void release() {
        slots.release();
    }

    /** The call, by the thread that acquired its slot or the one it handed the slot to; frees the slot. */
    private <T> T holdingSlot(Call<T> call) throws StoreException {
        try {
            if (open.get()) throw unreachable(); // opened while this caller queued
            return bounded(call, true);
        } finally {
            release();
        }
    }

    /** How long past the bound a platform thread waits for its statement's own outage (the alarm's tick and more). */
    private static final long HAND_OFF_GRACE_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

    /**
     * A platform thread's call, run on a virtual thread while the caller waits at most the bound. A
     * platform thread blocked in a socket read cannot be interrupted, and a data source without a pool
     * opens its connection in the calling thread before any network timeout can be set on it: with the
     * database accepting connections and never answering, such callers waited 40 s each (helper-26). Nor
     * does every data source heed an interrupt while it waits for a connection. The caller gets the outage
     * at the bound whatever the statement does; an abandoned statement frees its slot when it ends. Not
     * for HikariCP (which opens connections on its own threads and heeds interrupts): there a platform
     * thread runs its statements itself, under a network timeout, and virtual threads kept busy elsewhere
     * in the application cannot delay them (FreshnessTest's readers, looping on near-cache hits, starved a
     * handed-off statement until the breaker opened).
     */
    private <T> T onVirtualThread(Call<T> call) throws StoreException {
        java.util.concurrent.CompletableFuture<T> done = new java.util.concurrent.CompletableFuture<>();
        try {
            Thread.ofVirtual().name("once-cache-statement").start(() -> {
                try {
                    done.complete(holdingSlot(call));
                } catch (Throwable t) {
                    done.completeExceptionally(t);
                }
            });
        } catch (RuntimeException | Error e) { // no thread (out of memory): nothing runs, so nothing frees the slot
            release();
            throw e;
        }
        try {
            return done.get(timeoutNanos + HAND_OFF_GRACE_NANOS, TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw outage("no answer within " + timeoutMillis() + " ms", e, true);
        } catch (java.util.concurrent.ExecutionException e) {
            throw thrownElsewhere(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException(false, "interrupted while waiting for the cache table " + table, e);
        }
    }

    /**
     * What a statement that another thread ran for this caller threw, for this caller to throw (a new
     * StoreException, the same outage or not: one failure may reach several waiting callers).
     */
    StoreException thrownElsewhere(java.util.concurrent.ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof StoreException s) return new StoreException(s.outage(), s.getMessage(), s);
        if (cause instanceof RuntimeException r) throw r;
        if (cause instanceof Error err) throw err;
        return new StoreException(false, "a statement on the cache table " + table + " failed: " + cause, cause);
    }

    /** A caller interrupted while it waited for a slot: its interrupt kept, its wait ended. */
    StoreException interruptedWaiting(InterruptedException e) {
        Thread.currentThread().interrupt();
        return new StoreException(false, "interrupted while waiting to use the cache table " + table, e);
    }

    private StoreException unreachable() {
        return new StoreException(true, "the cache table " + table + " is unreachable", null);
    }

    private void acquire() throws StoreException {
        try {
            slots.acquire();
        } catch (InterruptedException e) {
            throw interruptedWaiting(e);
        }
    }

    long timeoutMillis() {
        return TimeUnit.NANOSECONDS.toMillis(timeoutNanos);
    }

    private <T> T bounded(Call<T> call, boolean trips) throws StoreException {
        long deadline = System.nanoTime() + timeoutNanos;
        boolean restored = false;
        for (int attempt = 0; ; attempt++) {
            Alarm alarm = new Alarm(Thread.currentThread(), deadline);
            T result;
            try {
                result = call.run();
            } catch (SQLException | RuntimeException e) {
                if (alarm.disarm()) {
                    // one statement held (a row locked by another session, say) while the database answers
                    // others: this call fails open, the breaker stays closed. One locked row put every key
                    // of a replica into fail-open for as long as its requests came (helper-47)
                    if (trips && answersOthers())
                        throw outage(
                                "no answer within " + timeoutMillis() + " ms, while the database answers other"
                                        + " statements (a lock held elsewhere?)",
                                e,
                                false);
                    throw outage("no answer within " + timeoutMillis() + " ms", e, trips);
                }
                // interrupted by its caller's own code (a cancelled request, say), not by the alarm: the
                // socket the interrupt closed says nothing of the database, so it opens no breaker
                if (Thread.currentThread().isInterrupted())
                    throw new StoreException(false, "interrupted during a statement on the cache table " + table, e);
                switch (errors.classify(e)) {
                    case UNREACHABLE -> throw outage(e.getMessage(), e, trips);
                    case TRANSIENT -> {
                        long backoff = TimeUnit.MILLISECONDS.toNanos(
                                ThreadLocalRandom.current().nextLong(1, 5L << Math.min(attempt, 5)));
                        if (System.nanoTime() + backoff >= deadline) {
                            throw new StoreException(
                                    false, "the cache table " + table + " stayed busy: " + e.getMessage(), e);
                        }
                        sleepNanos(backoff);
                        continue;
                    }
                    default -> {
                        Restorer r = restorer;
                        if (!restored && e instanceof SQLException sql && r != null && r.madeAgain(sql)) {
                            restored = true;
                            continue;
                        }
                        throw new StoreException(
                                false, "a statement on the cache table " + table + " failed: " + e.getMessage(), e);
                    }
                }
            } catch (Error e) { // out of memory, say: its alarm must not ring later in whatever the thread does next
                alarm.disarm();
                throw e;
            }
            alarm.disarm(); // an answer that came in as the alarm rang is still the answer
            return result;
        }
    }

    /**
     * Interrupts the calling thread at the deadline: that ends a wait for a pool's connection on any
     * thread, and a blocked socket read on a virtual thread (the socket is closed); reads on a platform
     * thread are bounded by the connection's network timeout instead. Disarming clears an interrupt that
     * the alarm made, so it never leaks to the caller. Arming and disarming only add to and remove from a
     * set; one thread looks at it when the earliest alarm it holds is due, and is woken early only by an
     * alarm due before that (a cache with a shorter timeout, or the first alarm after a pause). Scheduling
     * a timer per statement woke a thread twice per cache hit and cost more than the hit's own work; a
     * look every 20 ms while statements ran (the design before this one) was 4% of a busy {@code once
     * serve} replica's CPU, each look a sleep and a wake-up (async-profiler, the proxy-waiters bench). Now
     * a process whose statements run all the time looks about once per store timeout, and an alarm rings
     * at its deadline, not up to 20 ms after it.
     */
    static final class Alarm {
        private static final int ARMED = 0, DISARMED = 1, RINGING = 2, RANG = 3;
        /** The thread an alarm interrupts; null for one that runs {@link #action} instead. */
        private final Thread caller;

        private final Runnable action;
        private final long deadlineNanos;
        private final AtomicInteger state = new AtomicInteger(ARMED);

        Alarm(Thread caller, long deadlineNanos) {
            this(caller, null, deadlineNanos);
        }

        private Alarm(Thread caller, Runnable action, long deadlineNanos) {
            this.caller = caller;
            this.action = action;
            this.deadlineNanos = deadlineNanos;
            ALARMS.add(this);
            // the set is written before the ticker's next look is read, and the ticker writes its next look
            // before it checks the set once more: one of the two sees the other, so an alarm due before
            // that look is never left with the ticker parked
            if (deadlineNanos - nextLook < 0) java.util.concurrent.locks.LockSupport.unpark(TICKER);
        }

        /**
         * An alarm that runs {@code action} (quick, never blocking) on the alarms' thread at the deadline,
         * unless disarmed first: a timed wait without a timer of its own. A timed wait on a virtual thread
         * schedules a JDK timer and cancels it, each waking the JDK's delay-scheduler thread (2% of a busy
         * proxy replica's CPU); this one only adds to and removes from the set.
         */
        static Alarm running(Runnable action, long deadlineNanos) {
            return new Alarm(null, java.util.Objects.requireNonNull(action), deadlineNanos);
        }

        boolean armed() {
            return state.get() == ARMED;
        }

        void ringIfDue(long now) {
            if (now - deadlineNanos >= 0 && state.compareAndSet(ARMED, RINGING)) {
                try {
                    if (caller != null) caller.interrupt();
                    else action.run();
                } finally {
                    state.set(RANG);
                }
            }
        }

        /** True when the alarm rang (an interrupt it made is then cleared). */
        boolean disarm() {
            ALARMS.remove(this);
            if (state.compareAndSet(ARMED, DISARMED)) return false;
            while (state.get() != RANG) Thread.onSpinWait();
            if (caller != null) Thread.interrupted();
            return true;
        }
    }

    private static final Set<Alarm> ALARMS = ConcurrentHashMap.newKeySet();
    /** The longest the ticker parks: a missed wake-up (it should have none) costs at most this much. */
    private static final long LONGEST_PARK_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** When the ticker looks next ({@link System#nanoTime()}): an alarm due before it wakes the ticker. */
    private static volatile long nextLook = System.nanoTime();
    /** The ticker's looks so far (for tests: how often it wakes). */
    private static final java.util.concurrent.atomic.AtomicLong LOOKS = new java.util.concurrent.atomic.AtomicLong();

    private static final Thread TICKER =
            Thread.ofPlatform().daemon().name("once-cache-store-alarms").start(StoreBreaker::tick);

    static long alarmLooks() {
        return LOOKS.get();
    }

    private static void tick() {
        while (true) {
            try {
                LOOKS.incrementAndGet();
                long now = System.nanoTime();
                long next = now + LONGEST_PARK_NANOS;
                for (Alarm a : ALARMS) {
                    a.ringIfDue(now);
                    if (a.armed() && a.deadlineNanos - next < 0) next = a.deadlineNanos;
                }
                nextLook = next;
                if (!dueBefore(next)) java.util.concurrent.locks.LockSupport.parkNanos(next - System.nanoTime());
                Thread.interrupted(); // nothing stops this thread: an interrupt would make park return at once
            } catch (Throwable t) {
                // nothing may end it (an OutOfMemoryError in a scan, say): a virtual thread's blocked read has
                // no other bound than this alarm
            }
        }
    }

    /** True when an armed alarm is due before {@code when}: one armed while the ticker looked. */
    private static boolean dueBefore(long when) {
        for (Alarm a : ALARMS) if (a.armed() && a.deadlineNanos - when < 0) return true;
        return false;
    }

    /** How long {@link #answersOthers} waits for the probe's read. */
    private static final long QUICK_PROBE_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

    /**
     * Whether the probe's read (a key no caller uses) answers within {@link #QUICK_PROBE_NANOS}, or the
     * store timeout if shorter, read on a virtual thread, whose read the alarm ends. A platform thread's
     * read would be bounded only by its connection's network timeout, the whole store timeout, so a
     * platform caller waits for a virtual thread's read instead (it asked nothing before, and one locked
     * row opened the breaker for every key of a servlet container's process). A database that is down,
     * hung or overloaded does not answer; one where only some rows are held does.
     */
    private boolean answersOthers() {
        Call<?> p = probe;
        if (p == null) return false;
        if (!Thread.currentThread().isVirtual()) {
            java.util.concurrent.CompletableFuture<Boolean> answered = new java.util.concurrent.CompletableFuture<>();
            try {
                Thread.ofVirtual().name("once-cache-quick-probe").start(() -> {
                    try {
                        answered.complete(answersOthers());
                    } catch (Throwable t) {
                        answered.complete(false);
                    }
                });
                return answered.get(
                        Math.min(QUICK_PROBE_NANOS, timeoutNanos) + HAND_OFF_GRACE_NANOS, TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.TimeoutException
                    | java.util.concurrent.ExecutionException
                    | RuntimeException e) {
                quickProbeState = "no answer from its virtual thread: " + e;
                return false; // not answered in time (a starved virtual thread counts as no answer)
            } catch (InterruptedException e) {
                quickProbeState = "its platform caller was interrupted";
                Thread.currentThread().interrupt();
                return false;
            }
        }
        long started = System.nanoTime();
        Alarm alarm = new Alarm(Thread.currentThread(), started + Math.min(QUICK_PROBE_NANOS, timeoutNanos));
        try {
            p.run();
            boolean answered = !alarm.disarm();
            quickProbeState = (answered ? "answered in " : "answered too late, in ") + sinceMillis(started) + " ms";
            return answered;
        } catch (SQLException | RuntimeException e) {
            alarm.disarm();
            quickProbeState = "failed after " + sinceMillis(started) + " ms: " + e;
            return false;
        } catch (Error e) {
            alarm.disarm();
            throw e;
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
        probeState = "started";
        while (!closed) {
            try {
                Thread.sleep(PROBE_MILLIS);
                probeState = "waiting for a statement slot";
                slots.acquire();
                try {
                    probeState = "reading";
                    bounded(probe, false);
                } finally {
                    release();
                }
                probeState = "answered";
                open.set(false);
                log.warn("once-cache: the cache table {} is reachable again; caching resumed", table);
                return;
            } catch (StoreException e) {
                probeState = "failed: " + e.getMessage();
                if (!e.outage()) { // reachable: the probe's own statement failed, as a caller's would
                    open.set(false);
                    return;
                }
            } catch (InterruptedException e) {
                probeState = "interrupted";
                return;
            } catch (RuntimeException | Error e) {
                probeState = "ended by " + e;
                throw e;
            }
        }
    }

    /** What the probe did last ({@link #describe}). */
    private volatile String probeState = "not started";

    /** What the last quick probe ({@link #answersOthers}, on a virtual thread) did ({@link #describe}). */
    private volatile String quickProbeState = "not run";

    private static long sinceMillis(long started) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    }

    /** The breaker's state, its probes' and its slots', for a test's failure message. */
    String describe() {
        return (open.get() ? "open" : "closed") + "; probe: " + probeState + "; quick probe: " + quickProbeState
                + "; slots free: " + slots.available()
                + (slots.waitingStatements() ? ", statements waiting" : "");
    }

    private static void sleepNanos(long nanos) throws StoreException {
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException(false, "interrupted while retrying a statement on the cache table", e);
        }
    }

    boolean closed() {
        return closed;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        slots.leave(taker, share);
    }
}
