package dev.once.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.net.ServerSocket;
import java.sql.DriverManager;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;

/**
 * {@link SqlErrors#connecting}: a database out of reach (worth waiting for) told from one that answers and
 * refuses (never mended by waiting), from real drivers' and HikariCP's own failures where they can be
 * had, and from the server states a test cannot bring about on cue.
 */
class SqlErrorsTest {
    private static Throwable failureOf(String url) {
        try (var c = DriverManager.getConnection(url)) {
            throw new AssertionError("connected to " + url);
        } catch (SQLException e) {
            return e;
        }
    }

    /** The same URL through a HikariCP pool, whose timeout wraps the driver's own failure. */
    private static Throwable pooledFailureOf(String url) {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(url);
        c.setConnectionTimeout(500);
        c.setInitializationFailTimeout(-1);
        try (HikariDataSource pool = new HikariDataSource(c);
                var connection = pool.getConnection()) {
            throw new AssertionError("connected to " + url);
        } catch (SQLException e) {
            return e;
        }
    }

    private static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void connecting_nothingListens_unreachable_directAndPooled() throws Exception {
        String pg = "jdbc:postgresql://127.0.0.1:" + closedPort() + "/postgres?user=postgres";
        String maria = "jdbc:mariadb://127.0.0.1:" + closedPort() + "/test?user=root";
        for (String url : new String[] {pg, maria}) {
            assertThat(SqlErrors.connecting(failureOf(url))).as(url).isEqualTo(SqlErrors.Kind.UNREACHABLE);
            assertThat(SqlErrors.connecting(pooledFailureOf(url))).as(url).isEqualTo(SqlErrors.Kind.UNREACHABLE);
        }
    }

    @Test
    void connecting_noSuchDatabase_refused_directAndPooled() {
        String pg = TestDatabases.url(Db.POSTGRES).replaceFirst("/postgres(\\?|$)", "/no_such_database$1");
        String maria = TestDatabases.url(Db.MARIADB).replaceFirst("/test(\\?|$)", "/no_such_database$1");
        for (String url : new String[] {pg, maria}) {
            assertThat(url).contains("/no_such_database");
            assertThat(SqlErrors.connecting(failureOf(url))).as(url).isEqualTo(SqlErrors.Kind.OTHER);
            assertThat(SqlErrors.connecting(pooledFailureOf(url))).as(url).isEqualTo(SqlErrors.Kind.OTHER);
        }
    }

    /** SSL required of a server that has none (the embedded PostgreSQL): rejected, 08004; waiting never mends it. */
    @Test
    void connecting_sslRequiredWhereTheServerHasNone_refused() {
        String url = TestDatabases.url(Db.POSTGRES) + "&sslmode=require";
        assertThat(SqlErrors.connecting(failureOf(url))).as(url).isEqualTo(SqlErrors.Kind.OTHER);
        assertThat(SqlErrors.connecting(pooledFailureOf(url))).as(url).isEqualTo(SqlErrors.Kind.OTHER);
    }

    /**
     * MariaDB's driver told to use TLS by a server without it: 08000 with the server's connection id, taken
     * for an outage before (once serve passed every request through, waiting for a database that would
     * answer the same until reconfigured). A server of the tests with a self-signed certificate (the
     * embedded MariaDB 11) refuses the password plugin over it instead (42000), refused too.
     */
    @Test
    void connecting_mariaDbSslRequiredWhereTheServerHasNone_refused() {
        String url = TestDatabases.url(Db.MARIADB)
                + (TestDatabases.url(Db.MARIADB).contains("?") ? "&" : "?") + "sslMode=verify-full";
        Throwable direct = failureOf(url);
        assertThat(SqlErrors.connecting(direct))
                .as("%s: %s", url, chain(direct))
                .isEqualTo(SqlErrors.Kind.OTHER);
        Throwable pooled = pooledFailureOf(url);
        assertThat(SqlErrors.connecting(pooled))
                .as("%s: %s", url, chain(pooled))
                .isEqualTo(SqlErrors.Kind.OTHER);
    }

    private static String chain(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause())
            b.append(" <- ").append(c.getClass().getName()).append(": ").append(c.getMessage());
        return b.toString();
    }

    @Test
    void connecting_serverNotReadyYet_unreachable_aStatementsOwnError_other() {
        // PostgreSQL starting up or in recovery, and out of connection slots (every replica reconnecting
        // after an outage): states a test cannot bring about on cue, as pgjdbc reports them
        for (String state : new String[] {"57P03", "57P01", "53300"})
            assertThat(SqlErrors.connecting(new SQLException("FATAL", state)))
                    .as(state)
                    .isEqualTo(SqlErrors.Kind.UNREACHABLE);
        assertThat(SqlErrors.connecting(new SQLException("permission denied for schema public", "42501")))
                .isEqualTo(SqlErrors.Kind.OTHER);
        assertThat(SqlErrors.connecting(new SQLException("FATAL: password authentication failed", "28P01")))
                .isEqualTo(SqlErrors.Kind.OTHER);
    }
}
