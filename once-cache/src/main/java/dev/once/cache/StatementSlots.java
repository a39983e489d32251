package dev.once.cache;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;

/**
 * The statements that may run at once, for one cache or for every cache on one connection pool. Callers
 * beyond it queue here, not inside the pool: HikariCP 7.1.0 hands a returned connection to a caller
 * waiting inside the pool by spinning until one takes it, and under a burst on virtual threads those
 * spins held every carrier thread for 100 s at a time (BurstTest). Caches on one HikariCP pool with the
 * same store timeout and the default limit (a proxy builds one per route) share one set of slots, as many as the pool has
 * connections or as the caches' {@link OnceCacheBuilder#maxConnections} add up to, whichever is fewer:
 * each cache's own limit alone let five routes put 40 statements on a pool of 32. Caches with another
 * store timeout keep slots of their own: a wait for a slot does not count toward the caller's timeout,
 * and a cache that fails open at 300 ms must not queue behind statements that may run for 20 s.
 *
 * <p>A freed slot goes to a statement waiting on the semaphore first, else to a cache's queued reads
 * ({@link StoreBreaker.SlotTaker}, {@link SharedReads}), whichever cache they belong to: a read queued in
 * one cache is woken by a statement of another ending, since the slots are the same.
 */
final class StatementSlots {
    private static final Object LOCK = new Object();
    /** Shared slots by pool (HikariCP's data sources compare by identity), then by store timeout. */
    private static final Map<Object, Map<Long, StatementSlots>> SHARED = new IdentityHashMap<>();

    private static final class Permits extends Semaphore {
        Permits(int n) {
            super(n);
        }

        void reduce(int n) {
            reducePermits(n);
        }
    }

    private final Permits permits;
    /** The caches' queued reads; replaced whole when a cache joins or leaves. */
    private volatile StoreBreaker.SlotTaker[] takers = new StoreBreaker.SlotTaker[0];
    /**
     * Takers of caches that closed, dropped once their queues are empty: a read queued as its cache closed
     * still gets a slot (dropped at once, it waited forever).
     */
    private volatile StoreBreaker.SlotTaker[] closing = new StoreBreaker.SlotTaker[0];
    /** Where the next freed slot starts looking among the takers: the caches take turns. */
    private final java.util.concurrent.atomic.AtomicInteger turn = new java.util.concurrent.atomic.AtomicInteger();
    /** Guarded by LOCK, for shared slots: the pool's size, and what the caches on it asked for together. */
    private final int ceiling;

    private int asked;
    private int given;
    private final Object pool;
    private final long timeout;

    private StatementSlots(int n, int ceiling, Object pool, long timeout) {
        this.permits = new Permits(n);
        this.ceiling = ceiling;
        this.asked = n;
        this.given = n;
        this.pool = pool;
        this.timeout = timeout;
    }

    /** Slots of one cache alone. */
    static StatementSlots own(int n) {
        return new StatementSlots(n, Integer.MAX_VALUE, null, 0);
    }

    /**
     * Joins the slots of every cache on {@code pool} with the store timeout {@code timeout}: they grow by
     * {@code share}, up to the pool's {@code size}. Leave with {@link #leave}.
     */
    static StatementSlots shared(Object pool, long timeout, int size, int share) {
        StatementSlots s;
        int more;
        synchronized (LOCK) {
            Map<Long, StatementSlots> byTimeout = SHARED.computeIfAbsent(pool, p -> new java.util.HashMap<>());
            s = byTimeout.get(timeout);
            if (s == null) {
                s = new StatementSlots(Math.min(share, size), size, pool, timeout);
                s.asked = share;
                byTimeout.put(timeout, s);
                return s;
            }
            s.asked += share;
            more = Math.min(s.asked, s.ceiling) - s.given;
            if (more > 0) {
                s.given += more;
                s.permits.release(more);
            }
        }
        s.handOn(more); // reads queued before this cache joined: they never look at the semaphore
        return s;
    }

    /** Hands up to {@code n} slots free in the semaphore to queued reads, when no statement waits for them. */
    private void handOn(int n) {
        for (int i = 0; i < n && readsWaiting() && !permits.hasQueuedThreads() && permits.tryAcquire(); i++) release();
    }

    /** A cache that joined with {@code share} closes: the slots shrink back to what the others asked for. */
    void leave(StoreBreaker.SlotTaker taker, int share) {
        if (taker != null) {
            synchronized (this) {
                List<StoreBreaker.SlotTaker> all = new ArrayList<>(List.of(closing));
                all.add(taker);
                closing = all.toArray(new StoreBreaker.SlotTaker[0]);
            }
            dropDrained();
        }
        if (pool == null) return;
        synchronized (LOCK) {
            asked -= share;
            if (asked <= 0) {
                Map<Long, StatementSlots> byTimeout = SHARED.get(pool);
                if (byTimeout != null && byTimeout.remove(timeout, this) && byTimeout.isEmpty()) SHARED.remove(pool);
                return;
            }
            int fewer = given - Math.min(asked, ceiling);
            if (fewer > 0) {
                given -= fewer;
                permits.reduce(fewer); // slots held now are given back as their statements end
            }
        }
    }

    /** Drops the closed caches' takers whose queues are empty. */
    private synchronized void dropDrained() {
        List<StoreBreaker.SlotTaker> all = new ArrayList<>(List.of(takers));
        List<StoreBreaker.SlotTaker> still = new ArrayList<>();
        for (StoreBreaker.SlotTaker t : closing) {
            if (t.waiting()) still.add(t);
            else all.remove(t);
        }
        takers = all.toArray(new StoreBreaker.SlotTaker[0]);
        closing = still.toArray(new StoreBreaker.SlotTaker[0]);
    }

    synchronized void takenBy(StoreBreaker.SlotTaker taker) {
        List<StoreBreaker.SlotTaker> all = new ArrayList<>(List.of(takers));
        all.add(taker);
        takers = all.toArray(new StoreBreaker.SlotTaker[0]);
    }

    boolean tryAcquire() {
        return permits.tryAcquire();
    }

    /**
     * Waits for a slot. Slots are left free in the semaphore, where a cache's queued read never looks,
     * whenever they were freed or added while a statement waited (each freer saw it waiting and let the
     * semaphore have its slot: two freers, or a cache joining with several slots, for one waiter), and
     * when a waiter is interrupted just as a slot was freed for it. So whoever leaves the semaphore's
     * queue, with a slot or interrupted, hands on what is left free. Its wait has ended by then, so either
     * a freer, looking again after freeing, sees no statement waiting and takes the slot for the reads, or
     * it looked before and this sees the slot free.
     */
    void acquire() throws InterruptedException {
        try {
            permits.acquire();
        } catch (InterruptedException e) {
            handOn(permits.availablePermits());
            throw e;
        }
        if (permits.availablePermits() > 0) handOn(permits.availablePermits());
    }

    /**
     * Frees a slot: to a statement waiting on the semaphore first, else to a queued read of any cache on
     * these slots, the caches taking turns (a cache whose reads always queue must not starve another's).
     * A read that queues just as the slot is freed tries for a slot after queueing, and this looks at the
     * queues again after freeing it: one of the two sees the other. While the slots are shrinking (a cache
     * left, {@link #leave}) a freed slot goes back to the semaphore, which owes it: handed from read to read,
     * the slots stayed above what the remaining caches asked for as long as reads queued.
     */
    void release() {
        while (true) {
            if (!permits.hasQueuedThreads() && permits.availablePermits() >= 0) {
                StoreBreaker.SlotTaker[] ts = takers;
                int n = ts.length;
                int start = n < 2 ? 0 : Math.floorMod(turn.getAndIncrement(), n);
                for (int i = 0; i < n; i++) if (ts[(start + i) % n].take()) return;
            }
            permits.release();
            if (!readsWaiting() || permits.hasQueuedThreads() || !permits.tryAcquire()) {
                if (closing.length > 0) dropDrained();
                return;
            }
        }
    }

    private boolean readsWaiting() {
        for (StoreBreaker.SlotTaker t : takers) if (t.waiting()) return true;
        return false;
    }

    /** Whether a statement waits for a slot (for tests). */
    boolean waitingStatements() {
        return permits.hasQueuedThreads();
    }

    /** Slots free now (for tests). */
    int available() {
        return permits.availablePermits();
    }
}
