package dev.once.cache;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * Row reads that wait for a statement slot are read together: the first of them to get a slot reads
 * every key queued by then in one statement. A read that finds a slot free runs at once, alone, as
 * before; only reads that would have queued share, so sharing never delays a read. In a burst of new
 * keys (every waiting process reading its key's row at the same NOTIFY), 40% of a proxy replica's
 * statements waited for a slot on a busy machine: each of those reads cost the database a statement.
 *
 * <p>How a queued read gets its slot: a caller whose read is queued waits for its own answer, not for
 * the semaphore, so a read answered by another's statement returns at once. Whoever frees a slot while
 * reads are queued and no other statement waits for one hands the slot to the oldest queued read
 * ({@link StoreBreaker.SlotTaker}); that caller then reads everything queued. Statements other than
 * reads (claims, writes) keep their place: a slot goes to them first when they wait for it, so reads,
 * however many, never starve a leader's write.
 *
 * <p>Every read is still a read that began after its caller asked: a queued read's statement starts
 * after it was queued, so a waiter that took its wake-up signal before reading still sees any write
 * that signal announced.
 */
final class SharedReads implements StoreBreaker.SlotTaker {
    /** Keys read by one statement at most. */
    static final int MAX_KEYS = 64;

    /**
     * What the rows one shared statement reads may weigh, by the values read lately: a statement holds its
     * whole result in memory, and 64 rows of 4 MiB (the largest value by default) in each of 8 slots ran a
     * 300 MB heap out of memory where reads one by one did not (helper-32).
     */
    static final long SHARED_BYTES = 1 << 20;

    /** The largest value read lately: the largest since, less 1/32 of it per read. */
    private final java.util.concurrent.atomic.AtomicLong recentLargest = new java.util.concurrent.atomic.AtomicLong();

    /** Keys the next shared statement may read, by the values read lately. */
    private int maxKeys() {
        long largest = recentLargest.get();
        return (int) Math.max(1, Math.min(MAX_KEYS, SHARED_BYTES / Math.max(1, largest)));
    }

    private void weigh(Entry e) {
        weigh(e == null || e.value() == null ? 0 : e.value().length);
    }

    /** A value read or written (by its size as stored), for what later shared statements may read. */
    void weigh(long size) {
        recentLargest.getAndUpdate(largest -> Math.max(size, largest - (largest >> 5)));
    }

    interface ReadOne {
        Entry read(String keyHash) throws SQLException;
    }

    interface ReadMany {
        /** Rows by key hash; keys without a row are absent. */
        Map<String, Entry> read(List<String> keyHashes) throws SQLException;
    }

    private static final Object RUN = new Object(); // a queued read was handed a slot
    private static final Object NO_ROW = new Object();

    private static final class Pending {
        final String keyHash;
        /** Set by whoever takes this read: a statement that reads it, a slot handed to it, or its caller giving up. */
        final AtomicBoolean taken = new AtomicBoolean();

        /** Its answer, or RUN; after a RUN its own caller, the only one left to complete it, renews it. */
        volatile CompletableFuture<Object> done = new CompletableFuture<>();

        Pending(String keyHash) {
            this.keyHash = keyHash;
        }
    }

    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    private final StoreBreaker breaker;
    private final ReadOne one;
    private final ReadMany many;
    private final LongAdder shared = new LongAdder();

    SharedReads(StoreBreaker breaker, ReadOne one, ReadMany many) {
        this.breaker = breaker;
        this.one = one;
        this.many = many;
        breaker.slotsTakenBy(this);
    }

    /** Reads that another read's statement answered, for {@code once.cache.reads.shared}. */
    long shared() {
        return shared.sum();
    }

    Entry read(String keyHash) throws StoreException {
        // a platform thread's statement runs on a virtual thread it waits for at most the store timeout
        // (StoreBreaker.onVirtualThread); waiting for another's statement would not be so bounded
        if (breaker.handsOff()) return breaker.call(() -> one.read(keyHash));
        breaker.failIfOpen();
        Pending mine = new Pending(keyHash);
        if (breaker.tryAcquire()) { // a slot is free: read now (with any read still queued)
            mine.taken.set(true);
            runHolding(mine, mine);
        } else {
            queue.add(mine);
            // a slot may have come free between the try and the queueing, with nobody left to hand it on
            if (breaker.tryAcquire()) runHolding(null, mine);
            // the cache closed meanwhile: its queue may have been seen empty and dropped from the slots,
            // so no freed slot would come here (close marks the breaker closed before it drops the queue)
            else if (breaker.closed() && mine.taken.compareAndSet(false, true)) {
                queue.remove(mine);
                throw new StoreException(false, "the cache is closed", null);
            }
        }
        while (true) {
            Object answer = await(mine);
            if (answer == RUN) {
                mine.done = new CompletableFuture<>();
                runHolding(mine, mine);
                continue;
            }
            return answer == NO_ROW ? null : (Entry) answer;
        }
    }

    @Override
    public boolean take() {
        for (Pending p; (p = queue.poll()) != null; ) {
            if (p.taken.compareAndSet(false, true)) {
                p.done.complete(RUN);
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean waiting() {
        return !queue.isEmpty();
    }

    /**
     * With a slot held: {@code first} (the caller's own read, or the one handed the slot) and what else is
     * queued, in one statement. {@code mine} is the caller's own read, in the batch or not. A caller
     * interrupted during the statement gets the interrupt; the others' reads go back to the queue, to be
     * read by one of them, rather than fail for an interrupt that was not theirs.
     */
    private void runHolding(Pending first, Pending mine) {
        List<Pending> batch = new ArrayList<>();
        if (first != null) batch.add(first);
        int maxKeys = maxKeys();
        for (Pending p; batch.size() < maxKeys && (p = queue.poll()) != null; ) {
            if (p.taken.compareAndSet(false, true)) batch.add(p);
        }
        if (batch.isEmpty()) {
            breaker.release();
            return;
        }
        try {
            if (batch.size() == 1) {
                Pending p = batch.get(0);
                Entry e = breaker.callHolding(() -> one.read(p.keyHash));
                weigh(e);
                p.done.complete(e == null ? NO_ROW : e);
                return;
            }
            List<String> keys = new ArrayList<>(batch.size());
            for (Pending p : batch) keys.add(p.keyHash);
            Map<String, Entry> rows = breaker.callHolding(() -> many.read(keys));
            shared.add(batch.size() - 1);
            for (Pending p : batch) {
                Entry e = rows.get(p.keyHash);
                weigh(e);
                p.done.complete(e == null ? NO_ROW : e);
            }
        } catch (StoreException | RuntimeException | Error e) {
            if (!Thread.currentThread().isInterrupted()) {
                for (Pending p : batch) p.done.completeExceptionally(e);
                return;
            }
            boolean requeued = false;
            for (Pending p : batch) {
                if (p == mine) {
                    p.done.completeExceptionally(e);
                } else {
                    p.taken.set(false);
                    queue.add(p);
                    requeued = true;
                }
            }
            // the slot this statement held is free again; hand one to the requeued reads if none is busy
            if (requeued && breaker.tryAcquire()) breaker.release();
        }
    }

    private Object await(Pending mine) throws StoreException {
        try {
            return mine.done.get();
        } catch (InterruptedException e) {
            if (mine.taken.compareAndSet(false, true)) { // still queued: nobody will read it now
                queue.remove(mine);
                throw breaker.interruptedWaiting(e);
            }
            // taken: a statement reads it (bounded by the store timeout), or a slot was handed to it, which
            // must be passed on
            Object answer;
            try {
                answer = mine.done.join();
            } catch (java.util.concurrent.CompletionException failed) {
                answer = null;
            }
            if (answer == RUN) breaker.release();
            throw breaker.interruptedWaiting(e);
        } catch (ExecutionException e) {
            throw breaker.thrownElsewhere(e);
        }
    }
}
