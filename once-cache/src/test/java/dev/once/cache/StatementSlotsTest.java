package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Slots shared by the caches on one pool: they add up to the pool's size at most, and shrink as caches close. */
class StatementSlotsTest {
    @Test
    void shared_cachesOnOnePool_addUpToThePoolsSizeAndShrinkAsTheyLeave() {
        Object pool = new Object();
        StatementSlots first = StatementSlots.shared(pool, 1_000, 32, 8);
        assertThat(first.available()).isEqualTo(8);
        StatementSlots[] more = new StatementSlots[4];
        for (int i = 0; i < more.length; i++) more[i] = StatementSlots.shared(pool, 1_000, 32, 8);
        assertThat(more).allSatisfy(s -> assertThat(s).isSameAs(first));
        assertThat(first.available()).as("five caches of 8 on a pool of 32").isEqualTo(32);
        first.leave(null, 8);
        assertThat(first.available()).as("four left").isEqualTo(32);
        first.leave(null, 8);
        assertThat(first.available()).as("three left").isEqualTo(24);
        assertThat(StatementSlots.shared(new Object(), 1_000, 32, 8))
                .as("another pool's slots")
                .isNotSameAs(first);
        assertThat(StatementSlots.shared(pool, 300, 32, 8))
                .as("a cache with another store timeout: its wait for a slot must not be another's statements")
                .isNotSameAs(first);
    }

    @Test
    void shared_slotHeldWhileACacheLeaves_givenBackWhenItsStatementEnds() {
        Object pool = new Object();
        StatementSlots slots = StatementSlots.shared(pool, 1_000, 4, 2);
        StatementSlots.shared(pool, 1_000, 4, 2);
        assertThat(slots.available()).isEqualTo(4);
        for (int i = 0; i < 4; i++) assertThat(slots.tryAcquire()).isTrue();
        slots.leave(null, 2); // two slots fewer, all four in use
        slots.release();
        slots.release();
        assertThat(slots.available()).isZero();
        slots.release();
        slots.release();
        assertThat(slots.available()).isEqualTo(2);
    }

    @Test
    void release_aReadQueuedInAnotherCache_isHandedTheSlot() {
        StatementSlots slots = StatementSlots.shared(new Object(), 1_000, 1, 1);
        AtomicInteger taken = new AtomicInteger();
        StoreBreaker.SlotTaker idle = reads(new AtomicInteger(), 0);
        StoreBreaker.SlotTaker queued = new StoreBreaker.SlotTaker() {
            @Override
            public boolean take() {
                return taken.incrementAndGet() == 1;
            }

            @Override
            public boolean waiting() {
                return taken.get() == 0;
            }
        };
        slots.takenBy(idle);
        slots.takenBy(queued);
        assertThat(slots.tryAcquire()).isTrue();
        slots.release();
        assertThat(taken.get()).as("the other cache's queued read got the slot").isEqualTo(1);
        assertThat(slots.available()).as("held by that read now").isZero();
    }

    /** Two caches whose reads always queue: freed slots go to each in turn, not always to the first. */
    @Test
    void release_readsQueuedInTwoCaches_takeTurns() {
        StatementSlots slots = StatementSlots.shared(new Object(), 1_000, 1, 1);
        AtomicInteger[] taken = {new AtomicInteger(), new AtomicInteger()};
        for (AtomicInteger count : taken) slots.takenBy(reads(count, Integer.MAX_VALUE));
        assertThat(slots.tryAcquire()).isTrue();
        for (int i = 0; i < 10; i++) slots.release(); // each release hands the slot on to a queued read
        assertThat(taken[0].get()).isEqualTo(5);
        assertThat(taken[1].get()).isEqualTo(5);
    }

    /** A read queued in a cache as it closes still gets the next slot; the cache is dropped once it has none. */
    @Test
    void leave_aReadQueuedAsItsCacheCloses_stillGetsTheSlot() {
        StatementSlots slots = StatementSlots.shared(new Object(), 1_000, 1, 1);
        AtomicInteger taken = new AtomicInteger();
        StoreBreaker.SlotTaker closingCache = reads(taken, 1);
        slots.takenBy(closingCache);
        assertThat(slots.tryAcquire()).isTrue();
        slots.leave(closingCache, 0);
        slots.release();
        assertThat(taken.get())
                .as("the closing cache's queued read got the slot")
                .isEqualTo(1);
        slots.release(); // that read's statement ends, and nobody waits
        assertThat(slots.available()).isEqualTo(1);
    }

    /**
     * A statement waiter interrupted as the slot is freed for it: the slot must reach the read queued
     * meanwhile. Before, the freer saw a statement waiting and left the slot to the semaphore, the waiter
     * left without it, and the read waited for a later statement's end (forever on an idle cache). A race:
     * run many times; without the fix it lost the slot in some of them.
     */
    @Test
    void release_statementWaiterInterruptedAsTheSlotIsFreed_theQueuedReadStillGetsIt() throws Exception {
        int lost = 0;
        for (int round = 0; round < 2_000; round++) {
            StatementSlots slots = StatementSlots.own(1);
            AtomicInteger taken = new AtomicInteger();
            slots.takenBy(reads(taken, 1));
            assertThat(slots.tryAcquire()).isTrue();
            java.util.concurrent.atomic.AtomicBoolean gotIt = new java.util.concurrent.atomic.AtomicBoolean();
            Thread waiter = Thread.ofPlatform().start(() -> {
                try {
                    slots.acquire();
                    gotIt.set(true);
                } catch (InterruptedException e) {
                    // left without a slot
                }
            });
            while (!slots.waitingStatements()) Thread.onSpinWait();
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            Thread interrupter = Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                waiter.interrupt();
            });
            go.countDown();
            slots.release();
            interrupter.join();
            waiter.join();
            if (gotIt.get()) slots.release(); // the waiter's statement ends: the read's turn
            if (taken.get() == 0) lost++;
        }
        assertThat(lost)
                .as("rounds in which the queued read never got the freed slot")
                .isZero();
    }

    /** A queued read that says it waits until it has taken {@code slots} slots; counts what it took. */
    private static StoreBreaker.SlotTaker reads(AtomicInteger taken, int slots) {
        return new StoreBreaker.SlotTaker() {
            @Override
            public boolean take() {
                return taken.getAndUpdate(n -> n < slots ? n + 1 : n) < slots;
            }

            @Override
            public boolean waiting() {
                return taken.get() < slots;
            }
        };
    }

    @Test
    void shared_aCacheJoinsWhileReadsQueue_theSlotsItAddsGoToThoseReadsAtOnce() {
        Object pool = new Object();
        StatementSlots slots = StatementSlots.shared(pool, 1_000, 4, 1);
        AtomicInteger taken = new AtomicInteger();
        slots.takenBy(reads(taken, 10));
        assertThat(slots.tryAcquire()).isTrue(); // the one slot busy: reads queue

        StatementSlots.shared(pool, 1_000, 4, 2); // two more slots

        assertThat(taken.get()).as("reads handed the new slots").isEqualTo(2);
        assertThat(slots.available()).isZero();
    }

    @Test
    void release_whileTheSlotsShrink_theSemaphoreIsPaidBeforeQueuedReads() {
        Object pool = new Object();
        StatementSlots slots = StatementSlots.shared(pool, 1_000, 4, 2);
        StatementSlots.shared(pool, 1_000, 4, 2);
        for (int i = 0; i < 4; i++) assertThat(slots.tryAcquire()).isTrue();
        AtomicInteger taken = new AtomicInteger();
        slots.takenBy(reads(taken, 100)); // reads keep queueing
        slots.leave(null, 2); // 2 slots now, 4 in use

        for (int i = 0; i < 4; i++) slots.release();

        assertThat(taken.get())
                .as("slots handed to reads: 2 of the 4 freed, the others owed")
                .isEqualTo(2);
        assertThat(slots.available()).isZero();
    }

    /**
     * Slots freed, or added by a cache joining, while one statement waits all went to the semaphore (each
     * freer saw the statement waiting); it took one and the others sat free while reads queued (helper-45:
     * 1,762 and 1,974 of 2,000 runs). The statement now hands on what is left free once it has its slot.
     */
    @Test
    void acquire_moreSlotsFreedThanStatementsWaiting_theRestGoToQueuedReads() throws Exception {
        int strays = 0;
        for (int round = 0; round < 1_000; round++) {
            boolean joining = round % 2 == 1;
            Object pool = new Object();
            StatementSlots slots = joining ? StatementSlots.shared(pool, 1_000, 8, 1) : StatementSlots.own(2);
            AtomicInteger taken = new AtomicInteger();
            slots.takenBy(reads(taken, 10));
            while (slots.tryAcquire()) {} // every slot busy
            Thread statement = Thread.ofPlatform().start(() -> {
                try {
                    slots.acquire();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            while (!slots.waitingStatements()) Thread.onSpinWait();
            if (joining) {
                StatementSlots.shared(pool, 1_000, 8, 3); // three more slots at once
            } else {
                Thread other = Thread.ofPlatform().start(slots::release);
                slots.release();
                other.join();
            }
            statement.join();
            int expected = joining ? 2 : 1; // the slots beyond the statement's one
            if (taken.get() != expected || slots.available() != 0) strays++;
        }
        assertThat(strays).as("rounds that left a slot free while reads queued").isZero();
    }

    /**
     * A read that queues after its cache closed, once the cache's empty queue was dropped from the slots
     * (helper-45): no freed slot comes to it any more, and it waited forever. It now fails at once, as a
     * closed cache's calls do.
     */
    @Test
    void read_queuedAfterItsCacheClosed_failsInsteadOfWaitingForever() throws Exception {
        StoreBreaker breaker;
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite::memory:")) {
            breaker = new StoreBreaker(dev.once.jdbc.SqlErrors.of(c), 5_000, "t", 1);
        }
        SharedReads reads = new SharedReads(breaker, key -> null, keys -> java.util.Map.of());
        assertThat(breaker.tryAcquire()).as("a statement holds the only slot").isTrue();
        breaker.close(); // nothing queued: the cache's queue is dropped from the slots

        java.util.concurrent.CompletableFuture<Object> read = new java.util.concurrent.CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                read.complete(reads.read("k"));
            } catch (Throwable t) {
                read.completeExceptionally(t);
            }
        });

        assertThat(read)
                .failsWithin(java.time.Duration.ofSeconds(5))
                .withThrowableThat()
                .havingCause()
                .isInstanceOf(StoreException.class)
                .withMessageContaining("closed");
        breaker.release();
    }
}
