package dev.once.cli;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.SqlErrors;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Properties;
import picocli.CommandLine.Model.CommandSpec;

/**
 * A database the command works on: one given by JDBC URL, or an embedded PostgreSQL started for the
 * run and stopped after it.
 */
final class Database implements AutoCloseable {
    static final String SUPPORTED =
            "jdbc:postgresql://HOST[:PORT]/DB, jdbc:mariadb://HOST[:PORT]/DB or jdbc:sqlite:FILE";

    final String url;
    final String user;
    final String password;
    final String description;
    private final EmbeddedPostgres embedded;

    private Database(String url, String user, String password, String description, EmbeddedPostgres embedded) {
        this.url = url;
        this.user = user;
        this.password = password;
        this.description = description;
        this.embedded = embedded;
    }

    /** The database at this URL, checked: the driver accepts the URL and a connection opens. */
    static Database connect(String url, String user, String password) {
        Database db = accepted(url, user, password);
        db.check();
        return db;
    }

    /**
     * The database at this URL, whose driver accepts the URL, and why it cannot be reached now (null when
     * a connection opened). A server that answers and refuses (a login refused, no such database) is an
     * error, as for {@link #connect}: waiting would not mend it.
     */
    static Database connectUnlessDown(String url, String user, String password) {
        Database db = accepted(url, user, password);
        try {
            db.check();
        } catch (UserError e) {
            if (SqlErrors.connecting(e.getCause()) != SqlErrors.Kind.UNREACHABLE) throw e;
            db.down = e.getMessage();
        }
        return db;
    }

    /** Why the database could not be reached when it was checked, or null when it could. */
    String down;

    private static Database accepted(String url, String user, String password) {
        if (url == null || !url.startsWith("jdbc:")) {
            throw new UserError("--db '" + redact(url) + "' is not a JDBC URL; use " + SUPPORTED);
        }
        if (url.matches("(?s)jdbc:[a-z0-9]+://[^/?#]*@.*")) {
            // pgjdbc takes app:PASSWORD@host for a host name: the replica ran uncached for good, printing the
            // password in four places (helper-76)
            throw new UserError("--db '" + redact(url) + "' has a user and password before the host, which JDBC"
                    + " does not read there; give them with --user and --password (or ONCE_DB_USER and"
                    + " ONCE_DB_PASSWORD), e.g. jdbc:postgresql://host:5432/db");
        }
        try {
            Driver driver = DriverManager.getDriver(url);
            if (driver == null) throw new SQLException("no driver");
        } catch (SQLException e) {
            throw new UserError("no JDBC driver accepts '" + redact(url) + "'; use " + SUPPORTED);
        }
        return new Database(url, user, password, redact(url), null);
    }

    /**
     * Refuses {@code --db} given empty on the command line, as {@code --db=$DB_URL} is with the variable
     * unset: the command ran on its default store instead of the database meant. An empty {@code
     * ONCE_DB_URL} still counts as none.
     *
     * @param otherwise what the command uses without {@code --db}, for the message
     */
    static void refuseEmpty(CommandSpec spec, String url, String otherwise) {
        picocli.CommandLine.ParseResult given = spec.commandLine().getParseResult();
        if ((url == null || url.isBlank()) && given != null && given.hasMatchedOption("--db"))
            throw new UserError("--db is empty; give a JDBC URL, or leave --db out to use " + otherwise);
    }

    /**
     * The database at {@code url}, or, when none is given, an embedded PostgreSQL started for the run
     * (saying so on {@code out}, since it takes a few seconds). An empty {@code --db} is refused.
     */
    static Database givenOrEmbedded(CommandSpec spec, String url, Credentials credentials, java.io.PrintWriter out) {
        refuseEmpty(spec, url, "an embedded PostgreSQL");
        if (url != null && !url.isBlank()) return connect(url, credentials.user, credentials.password);
        out.println("starting an embedded PostgreSQL (no --db given) ...");
        out.flush();
        return embeddedPostgres();
    }

    /**
     * An embedded PostgreSQL in a temporary directory, removed on close. Its binaries come from
     * {@link PostgresBinaries}: fetched for this platform on first use, not carried in once.jar.
     */
    static Database embeddedPostgres() {
        try {
            EmbeddedPostgres pg = EmbeddedPostgres.builder()
                    .setPgBinaryResolver(PostgresBinaries.forUser())
                    .start();
            String url = "jdbc:postgresql://localhost:" + pg.getPort() + "/postgres";
            Database db = new Database(url, "postgres", null, "embedded PostgreSQL", pg);
            db.check();
            return db;
        } catch (IOException | RuntimeException e) {
            if (e instanceof UserError user) throw user;
            throw new UserError("could not start the embedded PostgreSQL: " + Errors.describe(e), e);
        }
    }

    /**
     * Seconds a connection attempt may take, login included, unless the URL sets its own: a server that
     * accepts the TCP connection and never answers would otherwise keep the command waiting forever.
     */
    static final int LOGIN_TIMEOUT_SECONDS = 10;

    private void check() {
        DriverManager.setLoginTimeout(LOGIN_TIMEOUT_SECONDS);
        try (Connection c = DriverManager.getConnection(url, properties())) {
            c.isValid(5);
        } catch (SQLException e) {
            String hint = timedOut(e)
                    ? " (no answer within " + LOGIN_TIMEOUT_SECONDS + " s; check that the host and port are this"
                            + " database's and that the server is up and not overloaded)"
                    : "";
            throw new UserError("cannot connect to " + description + ": " + Errors.describe(e) + hint, e);
        }
    }

    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.net.SocketTimeoutException || t instanceof java.sql.SQLTimeoutException) return true;
            if (t.getMessage() != null
                    && t.getMessage().toLowerCase(Locale.ROOT).contains("timed out")) return true;
        }
        return false;
    }

    Properties properties() {
        Properties p = new Properties();
        if (user != null) p.setProperty("user", user);
        if (password != null) p.setProperty("password", password);
        // pgjdbc ignores DriverManager's login timeout; a loginTimeout in the URL wins over this one
        if (url.startsWith("jdbc:postgresql:") && !url.toLowerCase(Locale.ROOT).contains("logintimeout=")) {
            p.setProperty("loginTimeout", String.valueOf(LOGIN_TIMEOUT_SECONDS));
            // and a read timeout: pgjdbc's login timeout gives up on a silent server but leaves its thread
            // reading the socket for good, one more each time the pool tries (helper-50: once serve started
            // while its database was silent grew without bound). once-cache bounds its own statements
            if (!url.toLowerCase(Locale.ROOT).contains("sockettimeout=")) p.setProperty("socketTimeout", "30");
        }
        if (isSqlite()) {
            p.setProperty("busy_timeout", "30000");
            p.setProperty("journal_mode", "WAL");
        }
        return p;
    }

    /** Whether this is the embedded PostgreSQL started for the run (gone with it), not a database given. */
    boolean embedded() {
        return embedded != null;
    }

    Connection open() throws SQLException {
        return DriverManager.getConnection(url, properties());
    }

    HikariDataSource pool(int size) {
        HikariConfig config = new HikariConfig();
        // the URL and the credentials stay readable on the pool (once-cache opens its LISTEN connection
        // with them); connections come from Reconnecting
        config.setJdbcUrl(url);
        if (user != null) config.setUsername(user);
        if (password != null) config.setPassword(password);
        Reconnecting source = new Reconnecting(url, properties());
        config.setDataSource(source);
        config.setMaximumPoolSize(size);
        // a few connections kept open: the first burst after start (or after a quiet spell) would otherwise
        // open one per concurrent key, each a PostgreSQL backend start-up (proxy-waiters: p99 of the first burst)
        config.setMinimumIdle(Math.min(size, 8));
        config.setPoolName("once");
        // the database was checked before; one down now (once serve starts without it) opens later
        config.setInitializationFailTimeout(-1);
        return new BoundedPool(config, source);
    }

    /** How often a connection is tried again while the database cannot be reached ({@link Reconnecting}). */
    static final long RECONNECT_MILLIS = 200;

    /**
     * The pool's connections, opened again every {@link #RECONNECT_MILLIS} while the database cannot be
     * reached, so that the pool has one as soon as the database is back. HikariCP waits between failed
     * attempts, doubling the wait up to 5 s: after a database refusing connections for 6 to 12 s, once
     * serve's cache found it again 3.5 to 4.1 s after it was back, and replicas came back up to 4 s
     * apart (one served an answer another had invalidated during the outage, until the other purged
     * it). A refusal (a login refused, no such database: {@link SqlErrors#connecting}) and a server out
     * of connection slots fail at once, as before, and so do an interrupt and the pool's close
     * (HikariCP's shutdown does not interrupt its connection adder: without the close, a closed pool's
     * adder would try on for good).
     */
    static final class Reconnecting implements javax.sql.DataSource {
        private final String url;
        private final Properties properties;
        private volatile int loginTimeout;
        private volatile boolean closed;
        /** Whether the last attempt found the database out of reach (told once until one succeeds). */
        private volatile boolean down;
        /** The last refusal told (told once until another, or a connection, comes). */
        private volatile String refused;
        /** Whether a connection ever opened: a refusal before that is the start's own error, told by the caller. */
        private volatile boolean opened;

        private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Database.class);

        Reconnecting(String url, Properties properties) {
            this.url = url;
            this.properties = properties;
        }

        @Override
        public Connection getConnection() throws SQLException {
            return open(properties);
        }

        @Override
        public Connection getConnection(String username, String password) throws SQLException {
            Properties p = new Properties();
            p.putAll(properties);
            if (username != null) p.setProperty("user", username);
            if (password != null) p.setProperty("password", password);
            return open(p);
        }

        private Connection open(Properties p) throws SQLException {
            while (true) {
                try {
                    Connection c = DriverManager.getConnection(url, p);
                    opened = true;
                    if (down || refused != null) {
                        down = false;
                        refused = null;
                        LOG.warn("the database answers again: connections open");
                    }
                    return c;
                } catch (SQLException e) {
                    if (closed) throw e;
                    if (SqlErrors.connecting(e) != SqlErrors.Kind.UNREACHABLE || full(e)) {
                        // the pool's timeout, which the caller sees, says only that no connection came in
                        // time: after an outage a database that came back refusing (a role made NOLOGIN, the
                        // database dropped) looked like one still down (helper-57)
                        String reason = Errors.describe(e);
                        if (opened && !reason.equals(refused)) {
                            refused = reason;
                            LOG.warn("the database refuses connections ({}); the pool asks again with backoff", reason);
                        }
                        throw e;
                    }
                    // said once an outage: a pool's timeout no longer carries the driver's reason (the
                    // attempt under way has not failed yet), so it is told here
                    if (!down) {
                        down = true;
                        LOG.warn(
                                "cannot open a connection to the database ({}); trying again every {} ms",
                                Errors.describe(e),
                                RECONNECT_MILLIS);
                    }
                    try {
                        Thread.sleep(RECONNECT_MILLIS);
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                        throw e;
                    }
                }
            }
        }

        /**
         * Whether the server answered that it takes no more connections (SQLState class 53: too many
         * connections, for the server or the role). Waiting may mend it, but not at 5 attempts a second:
         * helper-57 saw a role's connection limit draw a refusal every 200 ms for as long as once serve
         * ran, into a database already short of connections. HikariCP's own backoff takes it.
         */
        private static boolean full(SQLException e) {
            for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause())
                if (t instanceof SQLException sql
                        && sql.getSQLState() != null
                        && sql.getSQLState().startsWith("53")) return true;
            return false;
        }

        /** Ends the attempts under way, with their last failure. */
        void close() {
            closed = true;
        }

        @Override
        public java.io.PrintWriter getLogWriter() {
            return null;
        }

        @Override
        public void setLogWriter(java.io.PrintWriter out) {}

        @Override
        public void setLoginTimeout(int seconds) {
            loginTimeout = seconds; // each attempt's own is the URL's or LOGIN_TIMEOUT_SECONDS
        }

        @Override
        public int getLoginTimeout() {
            return loginTimeout;
        }

        @Override
        public java.util.logging.Logger getParentLogger() throws java.sql.SQLFeatureNotSupportedException {
            throw new java.sql.SQLFeatureNotSupportedException();
        }

        @Override
        public <T> T unwrap(Class<T> type) throws SQLException {
            if (type.isInstance(this)) return type.cast(this);
            throw new SQLException("not a wrapper of " + type.getName());
        }

        @Override
        public boolean isWrapperFor(Class<?> type) {
            return type.isInstance(this);
        }
    }

    /** How long closing a pool may wait for HikariCP to finish (see {@link BoundedPool}). */
    static final java.time.Duration POOL_CLOSE_WAIT = java.time.Duration.ofSeconds(2);

    /**
     * A pool whose {@link #close} returns within {@link #POOL_CLOSE_WAIT}: HikariCP's shutdown waits for a
     * connection attempt under way, up to the login timeout, and against a database that accepts and
     * never answers once serve exited up to 10 s after its --drain on SIGTERM (9.8 s with --drain 1s).
     * Past the wait, the shutdown goes on in a daemon thread, which the JVM's exit ends.
     */
    private static final class BoundedPool extends HikariDataSource {
        private final Reconnecting source;

        BoundedPool(HikariConfig config, Reconnecting source) {
            super(config);
            this.source = source;
        }

        @Override
        public void close() {
            source.close();
            Thread closing =
                    Thread.ofPlatform().daemon().name("once-pool-close").start(super::close);
            try {
                if (!closing.join(POOL_CLOSE_WAIT))
                    org.slf4j.LoggerFactory.getLogger(Database.class)
                            .warn(
                                    "the database's pool did not close within {} s (a connection attempt to a"
                                            + " database that does not answer, or HikariCP's wait before its next"
                                            + " attempt after a refusal); not waiting for it",
                                    POOL_CLOSE_WAIT.toSeconds());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    boolean isSqlite() {
        return url.startsWith("jdbc:sqlite:");
    }

    /** An auto-generated primary key column in this database's DDL. */
    String idColumn() throws SQLException {
        try (Connection c = open()) {
            String product = c.getMetaData().getDatabaseProductName().toLowerCase(Locale.ROOT);
            if (product.contains("postgres")) return "id BIGSERIAL PRIMARY KEY";
            if (product.contains("sqlite")) return "id INTEGER PRIMARY KEY AUTOINCREMENT";
            return "id BIGINT AUTO_INCREMENT PRIMARY KEY";
        }
    }

    /** The URL without password parameters, for output. */
    static String redact(String url) {
        // and a URL's user-info (postgres://app:PASSWORD@host, or with jdbc: before it, which pgjdbc takes
        // for a host name): printed whole in four places before (helper-76)
        return url == null
                ? null
                : url.replaceAll("(?i)(password=)[^&;]*", "$1***").replaceAll("//[^/?#@]*@", "//***@");
    }

    @Override
    public void close() {
        if (embedded != null) {
            try {
                embedded.close();
            } catch (IOException ignored) {
                // best effort: the directory is temporary
            }
        }
    }
}
