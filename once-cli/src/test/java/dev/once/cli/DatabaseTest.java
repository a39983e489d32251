package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.FaultProxy;
import dev.once.jdbc.testing.SilentServer;
import dev.once.jdbc.testing.TestDatabases;
import dev.once.jdbc.testing.Warnings;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class DatabaseTest {
    /**
     * SIGTERM while the database accepts connections and never answers: HikariCP's close waited for its
     * connection attempt under way, up to the 10 s login timeout, so once serve exited up to 10 s after
     * its --drain (9.8 s with --drain 1s, measured; this test's close took 7.1 s before). The pool's close
     * is now bounded.
     */
    @Test
    void pool_databaseNeverAnswers_closeReturnsWithinItsBound() throws Exception {
        try (SilentServer silent = new SilentServer()) {
            Database db =
                    Database.connectUnlessDown("jdbc:postgresql://127.0.0.1:" + silent.port() + "/app", "app", null);
            assertThat(db.down)
                    .as("the check waits for an answer and gets none")
                    .isNotNull();
            HikariDataSource pool = db.pool(4);
            long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            while (!adderWaiting() && System.nanoTime() < deadline) Thread.sleep(50);
            assertThat(adderWaiting())
                    .as("the pool's connection attempt is under way")
                    .isTrue();
            long started = System.nanoTime();
            pool.close();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(4));
            assertThat(pool.isClosed()).isTrue();
        }
    }

    /**
     * A database that refused connections for 12 s and is back: HikariCP alone waits between failed
     * attempts, doubling the wait up to 5 s, and its next attempt came about 3 s after the database was
     * back (once serve's cache found it again 3.5 to 4.1 s late). The pool's own attempts now come every
     * {@link Database#RECONNECT_MILLIS}.
     */
    @Test
    void pool_databaseRefusedForSecondsThenBack_aConnectionWithinAFewAttempts() throws Exception {
        String url = TestDatabases.url(Db.POSTGRES);
        try (FaultProxy proxy = FaultProxy.to(url);
                HikariDataSource pool =
                        Database.connect(proxy.url(url), null, null).pool(4)) {
            pool.getHikariConfigMXBean().setConnectionTimeout(250);
            try (Connection c = pool.getConnection()) {
                assertThat(c.isValid(1)).isTrue();
            }
            proxy.refuse();
            Thread.sleep(12_000); // the pool keeps trying to open its idle connections meanwhile
            proxy.pass();
            long back = System.nanoTime();
            boolean connected = false;
            while (!connected
                    && System.nanoTime() - back < Duration.ofSeconds(20).toNanos()) {
                try (Connection c = pool.getConnection()) {
                    connected = c.isValid(1);
                } catch (SQLException stillDown) {
                    // the pool has none yet
                }
            }
            assertThat(connected).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - back))
                    .as("the first connection after the database came back")
                    .isLessThan(Duration.ofMillis(1_500));
        }
    }

    /**
     * A server out of connections for the role answers with SQLState 53300: the pool's data source gives
     * that back at once, for HikariCP to back off, instead of asking again every 200 ms for as long as
     * the limit holds (helper-57: a refusal in PostgreSQL's log every 205 ms).
     */
    @Test
    void reconnecting_serverOutOfConnectionsForTheRole_failsAtOnce() throws Exception {
        String role = TestDatabases.newTable("full");
        TestDatabases.execute(Db.POSTGRES, "CREATE ROLE " + role + " LOGIN CONNECTION LIMIT 0");
        java.util.Properties p = new java.util.Properties();
        p.setProperty("user", role);
        Database.Reconnecting source =
                new Database.Reconnecting(TestDatabases.url(Db.POSTGRES).replaceAll("[?&]user=[^&]*", ""), p);
        SQLException refused = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
                Duration.ofSeconds(10),
                () -> org.junit.jupiter.api.Assertions.assertThrows(
                        SQLException.class, () -> source.getConnection(role, null)));
        assertThat(refused.getSQLState()).startsWith("53");
    }

    /**
     * A database that comes back refusing (helper-57 made the role NOLOGIN after an outage): the pool's
     * timeout, all a caller sees, says only that no connection came in time, so once serve's log told of
     * an outage, never of the refusal. The pool's data source now tells the refusal once, with its reason.
     */
    @Test
    void reconnecting_refusedAfterAConnection_theRefusalLoggedOnceWithItsReason() throws Exception {
        String role = TestDatabases.newTable("nologin");
        TestDatabases.execute(Db.POSTGRES, "CREATE ROLE " + role + " LOGIN");
        java.util.Properties p = new java.util.Properties();
        p.setProperty("user", role);
        Database.Reconnecting source =
                new Database.Reconnecting(TestDatabases.url(Db.POSTGRES).replaceAll("[?&]user=[^&]*", ""), p);
        java.util.List<String> warned = Warnings.loggedBy(Database.class, () -> {
            source.getConnection().close();
            TestDatabases.execute(Db.POSTGRES, "ALTER ROLE " + role + " NOLOGIN");
            for (int i = 0; i < 3; i++)
                org.junit.jupiter.api.Assertions.assertThrows(SQLException.class, source::getConnection);
        });
        assertThat(warned)
                .as("warnings of the pool's data source")
                .singleElement()
                .asString()
                .contains("refuses connections")
                .contains("not permitted to log in");
    }

    /** HikariCP's connection adder waits for a login (pgjdbc runs it on a thread of its own). */
    private static boolean adderWaiting() {
        return Thread.getAllStackTraces().entrySet().stream()
                .anyMatch(e -> e.getKey().getName().equals("once:connection-adder")
                        && java.util.Arrays.stream(e.getValue())
                                .anyMatch(f -> f.getMethodName().equals("awaitDone")));
    }
}
