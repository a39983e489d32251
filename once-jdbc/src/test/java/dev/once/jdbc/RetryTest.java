package dev.once.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Transient failures are classified by SQLState and vendor code, and retried a bounded number of times. */
class RetryTest {
    private static final java.util.concurrent.Executor THREADS =
            r -> Thread.ofPlatform().start(r);

    @Test
    void getOrCreate_serializationFailureEveryTime_triesMaxAttemptsThenRethrows() throws SQLException {
        Db db = Db.POSTGRES;
        String t = TestDatabases.newTable("flaky");
        // Every insert fails with 40001; a sequence (not rolled back) counts the attempts.
        TestDatabases.execute(
                db,
                "CREATE TABLE " + t + " (id BIGSERIAL PRIMARY KEY, k TEXT UNIQUE)",
                "CREATE SEQUENCE " + t + "_attempts",
                "CREATE FUNCTION " + t + "_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('" + t
                        + "_attempts'); RAISE EXCEPTION 'simulated conflict' USING ERRCODE = '40001'; END $$",
                "CREATE TRIGGER " + t + "_fail BEFORE INSERT ON " + t + " FOR EACH ROW EXECUTE FUNCTION " + t
                        + "_fail()");
        Once once = Once.builder(GetOrCreateTest.pool(db))
                .maxAttempts(3)
                .backoff(Duration.ofMillis(1), Duration.ofMillis(5))
                .build();

        assertThatThrownBy(() -> once.getOrCreate(t, Map.of("k", "a"), Map.of()))
                .isInstanceOfSatisfying(
                        SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("40001"));

        assertThat(TestDatabases.count(db, "SELECT last_value FROM " + t + "_attempts"))
                .isEqualTo(3);
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"POSTGRES", "MARIADB"})
    void classify_realDeadlock_isDeadlockAndTransient(Db db) throws Exception {
        String t = TestDatabases.newTable("dl");
        TestDatabases.execute(
                db,
                "CREATE TABLE " + t + " (id INT PRIMARY KEY, v INT)",
                "INSERT INTO " + t + " VALUES (1, 0), (2, 0)");
        SQLException deadlock = provokeDeadlock(db, t);
        try (Connection c = TestDatabases.connect(db)) {
            assertThat(Dialect.of(c).classifyChain(deadlock)).isEqualTo(Dialect.Failure.DEADLOCK);
        }
        assertThat(Once.using(GetOrCreateTest.pool(db)).isTransient(deadlock)).isTrue();
    }

    @Test
    void classify_realSerializationFailure_isSerialization() throws Exception {
        Db db = Db.POSTGRES;
        String t = TestDatabases.newTable("ser");
        TestDatabases.execute(
                db, "CREATE TABLE " + t + " (id INT PRIMARY KEY, v INT)", "INSERT INTO " + t + " VALUES (1, 0)");
        try (Connection a = TestDatabases.connect(db);
                Connection b = TestDatabases.connect(db)) {
            a.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            a.setAutoCommit(false);
            GetOrCreateTest.countIn(a, "SELECT COUNT(*) FROM " + t); // snapshot
            b.createStatement().executeUpdate("UPDATE " + t + " SET v = 1 WHERE id = 1");
            SQLException e = org.junit.jupiter.api.Assertions.assertThrows(
                    SQLException.class,
                    () -> a.createStatement().executeUpdate("UPDATE " + t + " SET v = 2 WHERE id = 1"));
            a.rollback();
            assertThat(Dialect.of(a).classifyChain(e)).isEqualTo(Dialect.Failure.SERIALIZATION);
        }
    }

    @Test
    void classify_sqliteConstraints_uniqueIsNotNotNull() throws Exception {
        Db db = Db.SQLITE;
        String t = TestDatabases.newTable("cons");
        TestDatabases.execute(
                db, "CREATE TABLE " + t + " (k TEXT UNIQUE, v INT NOT NULL)", "INSERT INTO " + t + " VALUES ('a', 1)");
        try (Connection c = TestDatabases.connect(db);
                Statement s = c.createStatement()) {
            Dialect d = Dialect.of(c);
            SQLException unique = org.junit.jupiter.api.Assertions.assertThrows(
                    SQLException.class, () -> s.executeUpdate("INSERT INTO " + t + " VALUES ('a', 2)"));
            SQLException notNull = org.junit.jupiter.api.Assertions.assertThrows(
                    SQLException.class, () -> s.executeUpdate("INSERT INTO " + t + " VALUES ('b', NULL)"));
            assertThat(d.classify(unique)).isEqualTo(Dialect.Failure.UNIQUE_VIOLATION);
            assertThat(d.classify(notNull)).isEqualTo(Dialect.Failure.OTHER);
        }
    }

    /** Two transactions lock rows 1 and 2 in opposite orders; the database kills one. */
    private static SQLException provokeDeadlock(Db db, String t) throws Exception {
        CountDownLatch bothLocked = new CountDownLatch(2);
        CompletableFuture<SQLException> first =
                CompletableFuture.supplyAsync(() -> lockBoth(db, t, 1, 2, bothLocked), THREADS);
        CompletableFuture<SQLException> second =
                CompletableFuture.supplyAsync(() -> lockBoth(db, t, 2, 1, bothLocked), THREADS);
        SQLException a = first.get(60, TimeUnit.SECONDS);
        SQLException b = second.get(60, TimeUnit.SECONDS);
        assertThat(a == null ^ b == null)
                .as("exactly one transaction is the deadlock victim")
                .isTrue();
        return a != null ? a : b;
    }

    private static SQLException lockBoth(Db db, String t, int firstId, int secondId, CountDownLatch bothLocked) {
        try (Connection c = TestDatabases.connect(db)) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.executeUpdate("UPDATE " + t + " SET v = v + 1 WHERE id = " + firstId);
                bothLocked.countDown();
                bothLocked.await(30, TimeUnit.SECONDS);
                s.executeUpdate("UPDATE " + t + " SET v = v + 1 WHERE id = " + secondId);
                c.commit();
                return null;
            } catch (SQLException e) {
                c.rollback();
                return e;
            }
        } catch (SQLException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
