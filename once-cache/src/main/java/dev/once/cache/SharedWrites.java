package dev.once.cache;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Leaders' writes that arrive while this cache's earlier writes run go together, in one statement and
 * one commit (PostgreSQL with NOTIFY): group commit. In a burst of new keys the upstream answers them
 * all at once, and each leader's write was a commit that sent its NOTIFY; PostgreSQL serializes
 * notifying commits, and every one of them woke each listening process. At most {@value #RUNNING}
 * statements of writes run at once per cache; a write that finds them running queues, and the next of
 * them to end takes the queue whole (up to {@value #MAX_KEYS} writes, {@value #MAX_BYTES} bytes of
 * values). A write that finds room runs at once, with whatever is queued: sharing never delays a write
 * by more than the statements already running.
 *
 * <p>Every write keeps its fence: a row is written only where the write's own claim token still holds
 * the lease, and each caller learns whether its own was written (the statement returns the tokens it
 * matched; tokens are unique). A statement's failure is every write's in it, as it would have been for
 * each alone (an outage). A caller interrupted during a statement that carries others' writes gets the
 * interrupt; the others' writes go back to the queue and are run by one of their own callers.
 */
final class SharedWrites {
    /** Statements of writes one cache runs at once. */
    static final int RUNNING = 2;
    /** Writes one statement carries at most. */
    static final int MAX_KEYS = 32;
    /** What the values one statement carries may weigh (a statement holds them all in memory). */
    static final long MAX_BYTES = 1 << 20;

    /** One leader's write of its key's row. */
    record Write(String keyHash, String owner, int state, byte[] value, String error, long ttlMillis) {}

    interface WriteMany {
        /** Runs these writes in one statement; returns the claim tokens whose rows were written. */
        Set<String> write(List<Write> writes) throws StoreException;
    }

    /** Run it again, with the queue: its statement was cut short by another's interrupt, or it was woken to. */
    private static final Object AGAIN = new Object();

    private static final class Pending {
        final Write write;
        /** Set by the statement that carries it, or by its caller giving up while it is still queued. */
        final AtomicBoolean taken = new AtomicBoolean();

        volatile CompletableFuture<Object> done = new CompletableFuture<>();

        Pending(Write write) {
            this.write = write;
        }

        long bytes() {
            return write.value() == null ? 0 : write.value().length;
        }
    }

    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    /** Statements of writes running now. */
    private final AtomicInteger running = new AtomicInteger();

    private final StoreBreaker breaker;
    private final WriteMany many;
    private final LongAdder shared = new LongAdder();

    SharedWrites(StoreBreaker breaker, WriteMany many) {
        this.breaker = breaker;
        this.many = many;
    }

    /** Writes that another caller's statement carried, for {@code once.cache.writes.shared}. */
    long shared() {
        return shared.sum();
    }

    /** True when the caller's own row was written (its token still held the lease). */
    boolean write(Write write) throws StoreException {
        Pending mine = new Pending(write);
        while (true) {
            queue.add(mine);
            drain(mine);
            Object answer = await(mine);
            if (answer != AGAIN) return (Boolean) answer;
            mine.done = new CompletableFuture<>();
            mine.taken.set(false);
        }
    }

    /**
     * Runs what is queued while fewer than {@link #RUNNING} statements run, until the caller's own write
     * is done. Whoever ends a statement looks at the queue again after leaving the count, and whoever
     * queues looks at the count after queueing: one of the two sees the other. A caller that leaves with
     * writes still queued (its own done, or interrupted) wakes the oldest of them to run the queue itself,
     * so no write is left queued with nobody to run it, and no caller runs others' writes for long.
     */
    private void drain(Pending mine) {
        while (!queue.isEmpty()) {
            if (mine.done.isDone() || Thread.currentThread().isInterrupted()) {
                handOn();
                return;
            }
            int r = running.get();
            if (r >= RUNNING) return;
            if (!running.compareAndSet(r, r + 1)) continue;
            try {
                List<Pending> batch = new ArrayList<>();
                long bytes = 0;
                for (Pending p; batch.size() < MAX_KEYS && (p = queue.peek()) != null; ) {
                    if (!batch.isEmpty() && bytes + p.bytes() > MAX_BYTES) break;
                    if (queue.remove(p) && p.taken.compareAndSet(false, true)) {
                        batch.add(p);
                        bytes += p.bytes();
                    }
                }
                if (!batch.isEmpty()) run(batch, mine);
            } finally {
                running.decrementAndGet();
            }
        }
    }

    /** Wakes the oldest queued write's caller to run the queue ({@link #AGAIN}). */
    private void handOn() {
        for (Pending p; (p = queue.poll()) != null; ) {
            if (p.taken.compareAndSet(false, true)) {
                p.done.complete(AGAIN);
                return;
            }
        }
    }

    private void run(List<Pending> batch, Pending mine) {
        List<Write> writes = new ArrayList<>(batch.size());
        for (Pending p : batch) writes.add(p.write);
        try {
            Set<String> written = many.write(writes);
            if (batch.size() > 1) shared.add(batch.size() - 1);
            for (Pending p : batch) p.done.complete(written.contains(p.write.owner()));
        } catch (StoreException | RuntimeException | Error e) {
            boolean interrupted = Thread.currentThread().isInterrupted();
            for (Pending p : batch) {
                // another's interrupt is not theirs: their writes run again, by one of their own callers
                if (interrupted && p != mine) p.done.complete(AGAIN);
                else p.done.completeExceptionally(e);
            }
        }
    }

    private Object await(Pending mine) throws StoreException {
        try {
            return mine.done.get();
        } catch (InterruptedException e) {
            if (mine.taken.compareAndSet(false, true)) { // still queued: nobody will write it now
                queue.remove(mine);
                throw breaker.interruptedWaiting(e);
            }
            // a statement carries it (bounded by the store timeout): its outcome stands, the interrupt is kept
            try {
                Object answer = mine.done.get();
                Thread.currentThread().interrupt();
                if (answer == AGAIN) { // not written, and woken to run the queue: another must
                    handOn();
                    throw breaker.interruptedWaiting(e);
                }
                return answer;
            } catch (InterruptedException again) {
                throw breaker.interruptedWaiting(again);
            } catch (ExecutionException failed) {
                Thread.currentThread().interrupt();
                throw breaker.thrownElsewhere(failed);
            }
        } catch (ExecutionException e) {
            throw breaker.thrownElsewhere(e);
        }
    }
}
