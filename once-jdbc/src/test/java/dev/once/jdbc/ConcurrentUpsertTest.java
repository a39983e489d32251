package dev.once.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Threads race upserts on the same keys inside their own transactions at READ COMMITTED, where MariaDB
 * takes no gap locks: every key is reported INSERTED exactly once, and onlyIfIncoming keeps the greatest.
 */
class ConcurrentUpsertTest {
    private static final int THREADS = 8;
    private static final int KEYS = 100;

    /**
     * Security test 35 F1: at READ COMMITTED 8 callers reported 633 INSERTED for 200 rows, and 100 keys kept a
     * value lower than the greatest committed (the locking read found no row, then ON DUPLICATE KEY UPDATE
     * overwrote a concurrent caller's row and called it inserted).
     */
    @Test
    void upsert_callerTransactionsReadCommitted_oneInsertPerKeyGreatestKept() throws Exception {
        Tally tally = race(Upsert.on("item").doUpdate().onlyIfIncoming("v", Upsert.Comparison.GREATER));

        assertThat(tally.errors).isEmpty();
        assertThat(tally.inserted.get()).isEqualTo(KEYS);
        assertThat(tally.rows).isEqualTo(KEYS);
        assertThat(tally.notGreatest).isZero();
    }

    /** Security test 35 F1, doNothing: 573 INSERTED for 200 rows. */
    @Test
    void upsert_doNothingCallerTransactionsReadCommitted_oneInsertPerKey() throws Exception {
        Tally tally = race(Upsert.on("item").doNothing());

        assertThat(tally.errors).isEmpty();
        assertThat(tally.inserted.get()).isEqualTo(KEYS);
        assertThat(tally.rows).isEqualTo(KEYS);
    }

    private static final class Tally {
        final AtomicInteger inserted = new AtomicInteger();
        final ConcurrentHashMap<String, Integer> greatest = new ConcurrentHashMap<>();
        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        long rows;
        long notGreatest;
    }

    private static Tally race(Upsert spec) throws Exception {
        Db db = Db.MARIADB;
        String t = TestDatabases.newTable("race");
        TestDatabases.execute(db, "CREATE TABLE " + t + " (item VARCHAR(20) NOT NULL UNIQUE, v INT)");
        Once once = Once.using(TestDatabases.shared(db));
        Tally tally = new Tally();
        CyclicBarrier barrier = new CyclicBarrier(THREADS);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < THREADS; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                Random random = new Random();
                try (Connection c = TestDatabases.connect(db)) {
                    c.setAutoCommit(false);
                    c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
                    for (int k = 0; k < KEYS; k++) {
                        String item = "k" + k;
                        int v = random.nextInt(1_000_000);
                        barrier.await();
                        for (int attempt = 1; ; attempt++) {
                            try {
                                UpsertOutcome o = once.upsert(c, t, Map.of("item", item, "v", v), spec);
                                c.commit();
                                if (o == UpsertOutcome.INSERTED) tally.inserted.incrementAndGet();
                                tally.greatest.merge(item, v, Math::max);
                                break;
                            } catch (SQLException e) {
                                c.rollback();
                                if (!once.isTransient(e) || attempt >= 20) throw e;
                            }
                        }
                    }
                } catch (Throwable e) {
                    tally.errors.add(e);
                    barrier.reset();
                }
            }));
        }
        for (Thread th : threads) th.join();
        tally.rows = TestDatabases.count(db, "SELECT COUNT(*) FROM " + t);
        try (Connection c = TestDatabases.connect(db);
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT item, v FROM " + t)) {
            while (rs.next()) {
                if (rs.getInt(2) != tally.greatest.get(rs.getString(1))) tally.notGreatest++;
            }
        }
        return tally;
    }
}
