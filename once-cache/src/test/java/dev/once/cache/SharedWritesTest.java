package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Leaders' writes that queue share a statement and its commit ({@link SharedWrites}, PostgreSQL with
 * NOTIFY). What must hold: each key's row holds its own leader's value, never another's; a write whose
 * token lost the lease writes nothing, whatever else its statement carries; waiting processes are woken
 * for every row written; a leader interrupted during a statement that carries others' writes takes only
 * its own write down; no write is left queued with nobody to run it.
 */
class SharedWritesTest {

    private static double shared(SimpleMeterRegistry registry) {
        return registry.get("once.cache.writes.shared").functionCounter().count();
    }

    /** 200 keys whose loads end together, led by one cache and waited for by another (another process). */
    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void get_manyLoadsEndTogether_eachRowItsOwnValue_waitersElsewhereWoken() throws Exception {
        String ns = TestDatabases.newTable("writes");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        int keys = 200;
        try (OnceCache<String> leader = OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                        .namespace(ns)
                        .codec(Codec.string())
                        .nearCache(0)
                        .meterRegistry(registry)
                        .build();
                OnceCache<String> elsewhere = OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                        .namespace(ns)
                        .codec(Codec.string())
                        .nearCache(0)
                        .build();
                ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            CountDownLatch answer = new CountDownLatch(1);
            CountDownLatch allLoading = new CountDownLatch(keys);
            AtomicInteger calls = new AtomicInteger();
            List<Future<CacheResult<String>>> led = new ArrayList<>();
            for (int i = 0; i < keys; i++) {
                String key = "key " + i;
                led.add(threads.submit(() -> leader.lookup(key, () -> {
                    calls.incrementAndGet();
                    allLoading.countDown();
                    answer.await();
                    return "value of " + key;
                })));
            }
            assertThat(allLoading.await(60, TimeUnit.SECONDS)).isTrue();
            List<Future<CacheResult<String>>> waited = new ArrayList<>();
            for (int i = 0; i < keys; i++) {
                String key = "key " + i;
                waited.add(threads.submit(() -> elsewhere.lookup(key, () -> {
                    calls.incrementAndGet();
                    return "loaded elsewhere";
                })));
            }
            Thread.sleep(300); // the other process's callers find the leases and wait
            answer.countDown(); // every load ends at once: 200 writes
            for (int i = 0; i < keys; i++) {
                assertThat(led.get(i).get(60, TimeUnit.SECONDS))
                        .isEqualTo(new CacheResult<>("value of key " + i, CacheResult.Source.MISS));
                assertThat(waited.get(i).get(60, TimeUnit.SECONDS).value())
                        .as("woken by its own row's NOTIFY, with its own value")
                        .isEqualTo("value of key " + i);
            }
            assertThat(calls).as("one load per key").hasValue(keys);
            for (int i = 0; i < keys; i++) {
                assertThat(elsewhere.peek("key " + i).map(CacheResult::value)).hasValue("value of key " + i);
            }
            assertThat(shared(registry)).as("some writes went together").isGreaterThan(0);
        }
    }

    /** One statement, one of whose writes lost its lease to a newer leader: only that one writes nothing. */
    @Test
    void completeMany_oneTokenLostItsLease_onlyItsRowIsUntouched() throws Exception {
        String ns = TestDatabases.newTable("writes");
        try (OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                .namespace(ns)
                .codec(Codec.string())
                .build()) { // creates the table
            EntryStore store = store(ns);
            List<SharedWrites.Write> writes = claimed(store, ns, 5);
            String lapsed = KeyHash.of(ns, "lapsed");
            assertThat(store.claim(lapsed, "lapsed", "old token", 1)).isTrue();
            Thread.sleep(20);
            assertThat(store.claim(lapsed, "lapsed", "new token", 60_000))
                    .as("taken over")
                    .isTrue();
            writes.add(2, new SharedWrites.Write(lapsed, "old token", Entry.READY, "stale".getBytes(), null, 60_000));

            Set<String> written = store.completeManyNow(writes);

            assertThat(written).containsExactlyInAnyOrder("token 0", "token 1", "token 2", "token 3", "token 4");
            Entry row = store.read(lapsed);
            assertThat(row.leaseOwner()).as("the newer leader still holds it").isEqualTo("new token");
            assertThat(row.value()).isNull();
            for (int i = 0; i < 5; i++) {
                Entry e = store.read(KeyHash.of(ns, "k" + i));
                assertThat(new String(e.value())).isEqualTo("v" + i);
                assertThat(e.leaseOwner()).isNull();
                assertThat(e.fresh()).isTrue();
            }
        }
    }

    /** The writes of one statement commit together: one that fails takes the others back (one transaction). */
    @Test
    void completeMany_oneWriteFails_noneIsWritten() throws Exception {
        String ns = TestDatabases.newTable("writes");
        try (OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                .namespace(ns)
                .codec(Codec.string())
                .build()) { // creates the table
            EntryStore store = store(ns);
            List<SharedWrites.Write> writes = claimed(store, ns, 3);
            SharedWrites.Write last = writes.get(2);
            writes.set(2, new SharedWrites.Write(last.keyHash(), last.owner(), 70_000, last.value(), null, 60_000));
            assertThatThrownBy(() -> store.completeManyNow(writes))
                    .as("state 70000 is out of SMALLINT's range")
                    .isInstanceOf(StoreException.class);
            for (int i = 0; i < 3; i++) {
                Entry e = store.read(KeyHash.of(ns, "k" + i));
                assertThat(e.value()).as("key %d", i).isNull();
                assertThat(e.leaseOwner()).as("key %d", i).isEqualTo("token " + i);
            }
        }
    }

    /** Keys {@code k0...} claimed by {@code token 0...}, and their leaders' writes of {@code v0...}. */
    private static List<SharedWrites.Write> claimed(EntryStore store, String ns, int n) throws StoreException {
        List<SharedWrites.Write> writes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String hash = KeyHash.of(ns, "k" + i);
            assertThat(store.claim(hash, "k" + i, "token " + i, 60_000)).isTrue();
            writes.add(new SharedWrites.Write(hash, "token " + i, Entry.READY, ("v" + i).getBytes(), null, 60_000));
        }
        return writes;
    }

    private static EntryStore store(String ns) throws Exception {
        try (Connection c = TestDatabases.shared(Db.POSTGRES).getConnection()) {
            return new EntryStore(
                    TestDatabases.shared(Db.POSTGRES),
                    StoreDialect.POSTGRES,
                    "once_entry",
                    ns,
                    "once_entry",
                    false,
                    new StoreBreaker(dev.once.jdbc.SqlErrors.of(c), 5_000, "once_entry", 8));
        }
    }

    /** Statements that block until each is released, recording what each carried. */
    private static final class Gate implements SharedWrites.WriteMany {
        record Statement(List<SharedWrites.Write> writes, CountDownLatch go) {
            Set<String> owners() {
                return writes.stream().map(SharedWrites.Write::owner).collect(Collectors.toSet());
            }
        }

        final BlockingQueue<Statement> started = new LinkedBlockingQueue<>();

        @Override
        public Set<String> write(List<SharedWrites.Write> writes) throws StoreException {
            Statement s = new Statement(writes, new CountDownLatch(1));
            started.add(s);
            try {
                s.go().await();
            } catch (InterruptedException e) { // as a statement ends when its caller is interrupted
                Thread.currentThread().interrupt();
                throw new StoreException(false, "interrupted during a statement", e);
            }
            return s.owners();
        }

        Statement next() throws InterruptedException {
            Statement s = started.poll(10, TimeUnit.SECONDS);
            assertThat(s).as("a statement started").isNotNull();
            return s;
        }
    }

    private static SharedWrites.Write write(String name) {
        return new SharedWrites.Write(name, name, Entry.READY, name.getBytes(), null, 1_000);
    }

    private static SharedWrites writes(Gate gate) throws Exception {
        try (Connection c = TestDatabases.shared(Db.POSTGRES).getConnection()) {
            return new SharedWrites(new StoreBreaker(dev.once.jdbc.SqlErrors.of(c), 5_000, "t", 8), gate);
        }
    }

    /** A caller of {@link SharedWrites#write} on its own virtual thread. */
    private static final class Caller {
        final Thread thread;
        volatile Boolean written;
        volatile StoreException failure;

        Caller(SharedWrites writes, String name) {
            thread = Thread.ofVirtual().start(() -> {
                try {
                    written = writes.write(write(name));
                } catch (StoreException e) {
                    failure = e;
                }
            });
        }

        Caller done() throws InterruptedException {
            thread.join(10_000);
            assertThat(thread.isAlive()).as("returned").isFalse();
            return this;
        }
    }

    /**
     * Two statements run (the most at once); three writes queue; the first statement to end hands the
     * queue on, and one statement carries all three. Its runner is then interrupted: its own write fails
     * with the interrupt, and the other two run again, by their own callers, and are written.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void write_runnerInterrupted_othersWritesRunAgain_nothingLeftQueued() throws Exception {
        Gate gate = new Gate();
        SharedWrites writes = writes(gate);
        Caller a = new Caller(writes, "a");
        Gate.Statement first = gate.next();
        Caller b = new Caller(writes, "b");
        Gate.Statement second = gate.next();
        assertThat(first.owners()).containsExactly("a");
        assertThat(second.owners()).containsExactly("b");
        Caller c = new Caller(writes, "c");
        Thread.sleep(100); // queued first: handed the queue
        Caller d = new Caller(writes, "d");
        Caller e = new Caller(writes, "e");
        Thread.sleep(200);
        assertThat(gate.started).as("no third statement while two run").isEmpty();

        first.go().countDown(); // a's statement ends: a is done, and hands the queue to c
        assertThat(a.done().written).isTrue();
        Gate.Statement together = gate.next();
        assertThat(together.owners()).as("one statement for the queue").containsExactlyInAnyOrder("c", "d", "e");

        c.thread.interrupt(); // its runner: interrupted, its statement ends
        assertThat(c.done().failure)
                .as("c's own write fails with the interrupt")
                .isNotNull();
        assertThat(c.written).isNull();

        java.util.Set<String> again = new java.util.HashSet<>();
        while (!again.containsAll(List.of("d", "e"))) { // run again, by one or both of their callers
            Gate.Statement s = gate.next();
            again.addAll(s.owners());
            s.go().countDown();
        }
        assertThat(again).doesNotContain("c");
        assertThat(d.done().written).isTrue();
        assertThat(e.done().written).isTrue();
        second.go().countDown();
        assertThat(b.done().written).isTrue();
        assertThat(gate.started).isEmpty();
    }

    /** A caller interrupted while its write is still queued takes it out; the queue still runs. */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void write_callerInterruptedWhileQueued_itsWriteNeverRuns_theOthersDo() throws Exception {
        Gate gate = new Gate();
        SharedWrites writes = writes(gate);
        Caller a = new Caller(writes, "a");
        Gate.Statement first = gate.next();
        Caller b = new Caller(writes, "b");
        Gate.Statement second = gate.next();
        Caller c = new Caller(writes, "c");
        Caller d = new Caller(writes, "d");
        Thread.sleep(200);
        c.thread.interrupt();
        assertThat(c.done().failure).hasMessageContaining("interrupted");
        first.go().countDown(); // a ends and hands the queue on to d
        Gate.Statement third = gate.next();
        assertThat(third.owners()).as("c never runs").containsExactly("d");
        third.go().countDown();
        second.go().countDown();
        assertThat(a.done().written).isTrue();
        assertThat(b.done().written).isTrue();
        assertThat(d.done().written).isTrue();
        assertThat(gate.started).isEmpty();
    }
}
