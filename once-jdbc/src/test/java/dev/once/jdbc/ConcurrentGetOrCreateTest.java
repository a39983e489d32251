package dev.once.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Many threads race getOrCreate on the same keys; every database, every isolation level. */
class ConcurrentGetOrCreateTest {
    private static final int THREADS = 8;
    private static final int KEYS = 150;

    static Stream<Arguments> levels() {
        List<Arguments> out = new ArrayList<>();
        for (Db db : List.of(Db.POSTGRES, Db.MARIADB)) {
            for (int level : List.of(
                    Connection.TRANSACTION_READ_COMMITTED,
                    Connection.TRANSACTION_REPEATABLE_READ,
                    Connection.TRANSACTION_SERIALIZABLE)) {
                out.add(Arguments.of(db, level));
            }
        }
        out.add(Arguments.of(Db.SQLITE, Connection.TRANSACTION_SERIALIZABLE)); // SQLite's only level
        return out.stream();
    }

    record Tally(AtomicInteger created, AtomicInteger snapshotConflicts, ConcurrentLinkedQueue<Throwable> errors) {
        Tally() {
            this(new AtomicInteger(), new AtomicInteger(), new ConcurrentLinkedQueue<>());
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("levels")
    void getOrCreate_onceOwnsTransaction_oneRowPerKeyNoErrors(Db db, int isolation) throws Exception {
        String t = table(db);
        Tally tally = new Tally();
        try (HikariDataSource pool = TestDatabases.pool(db, THREADS, db == Db.SQLITE ? -1 : isolation)) {
            Once once = Once.using(pool);
            race(
                    i -> {
                        for (int k : shuffledKeys(i)) {
                            // half the threads give defaults as values (PostgreSQL: one statement),
                            // half as a supplier (read first): both paths race for the same keys
                            Map<String, Object> lookup = Map.of("k", "key-" + k);
                            GetOrCreateResult r = i % 2 == 0
                                    ? once.getOrCreate(t, lookup, Map.of("v", k))
                                    : once.getOrCreate(t, lookup, () -> Map.of("v", k));
                            if (r.created()) tally.created.incrementAndGet();
                        }
                    },
                    tally);
        }
        assertThat(tally.errors).isEmpty();
        assertThat(tally.created).hasValue(KEYS);
        assertCounts(db, t);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("levels")
    void getOrCreate_callerTransactions_onlyRetryableErrorsAndOneRowPerKey(Db db, int isolation) throws Exception {
        String t = table(db);
        Tally tally = new Tally();
        try (HikariDataSource pool = TestDatabases.pool(db, THREADS, db == Db.SQLITE ? -1 : isolation)) {
            Once once = Once.using(pool);
            race(
                    i -> {
                        try (Connection c = pool.getConnection()) {
                            c.setAutoCommit(false);
                            for (int k : shuffledKeys(i)) {
                                while (true) {
                                    try {
                                        boolean created = once.getOrCreate(
                                                        c, t, Map.of("k", "key-" + k), () -> Map.of("v", k))
                                                .created();
                                        c.commit();
                                        if (created) tally.created.incrementAndGet();
                                        break;
                                    } catch (SQLException e) {
                                        // what a caller's own transaction retries: Once's snapshot conflicts
                                        // and what the database aborts (serialization, deadlock, busy lock)
                                        if (!once.isTransient(e)) throw e;
                                        c.rollback();
                                        tally.snapshotConflicts.incrementAndGet();
                                    }
                                }
                            }
                        }
                    },
                    tally);
        }
        assertThat(tally.errors).isEmpty();
        assertThat(tally.created).hasValue(KEYS);
        assertCounts(db, t);
    }

    private static String table(Db db) throws SQLException {
        String t = TestDatabases.newTable("race");
        TestDatabases.execute(
                db, "CREATE TABLE " + t + " (" + db.idColumn() + ", k VARCHAR(40) NOT NULL UNIQUE, v INT)");
        return t;
    }

    private static void assertCounts(Db db, String t) throws SQLException {
        assertThat(TestDatabases.count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(KEYS);
        assertThat(TestDatabases.count(db, "SELECT COUNT(DISTINCT k) FROM " + t))
                .isEqualTo(KEYS);
    }

    private static List<Integer> shuffledKeys(int seed) {
        List<Integer> keys = new ArrayList<>();
        for (int k = 0; k < KEYS; k++) keys.add(k);
        Collections.shuffle(keys, new java.util.Random(seed));
        return keys;
    }

    interface Body {
        void run(int thread) throws Exception;
    }

    static void race(Body body, Tally tally) throws InterruptedException {
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < THREADS; i++) {
            int n = i;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    body.run(n % 2); // two key orders, so threads meet on the same keys at once
                } catch (Throwable e) {
                    tally.errors.add(e);
                }
            }));
        }
        start.countDown();
        for (Thread th : threads) th.join();
    }
}
