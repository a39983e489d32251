package dev.once.cli;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Names for the tables racecheck and bench create and drop: a fixed name ({@code once_racecheck_once})
 * made them drop a user's table of that name, rows and all (helper-34). Each run's tables end in a
 * random suffix no one else has, so dropping one drops nothing but this run's own.
 *
 * <p>A run stopped by a signal (Ctrl-C, SIGTERM) never reaches the code that drops its tables: on a
 * database the user gave, each table not dropped yet is dropped on the way out ({@link #dropOnSignal}),
 * so an interrupted {@code once racecheck --db ...} leaves nothing in it, unless a table cannot be dropped
 * within 5 s then (it is named, for dropping by hand); {@code kill -9} leaves it.
 */
public final class ScratchTables {
    private static final SecureRandom RANDOM = new SecureRandom();

    private ScratchTables() {}

    /** How the way out reaches a table's database. */
    @FunctionalInterface
    public interface Opener {
        Connection open() throws SQLException;
    }

    /** This run's tables not dropped yet, with how to reach their database. */
    private static final Map<String, Opener> LEFT = new ConcurrentHashMap<>();

    private static Thread hook;

    /**
     * {@code table}, just created on a database that outlives the run, is dropped on the way out if it is
     * still there then: a run that ends normally drops it itself and says so with {@link #dropped}.
     */
    public static synchronized void dropOnSignal(String table, Opener database) {
        LEFT.put(table, database);
        if (hook == null) {
            hook = new Thread(ScratchTables::dropLeft, "once-scratch-tables");
            Runtime.getRuntime().addShutdownHook(hook);
        }
    }

    /** {@code table} was dropped: nothing is left to do for it on the way out. */
    public static void dropped(String table) {
        LEFT.remove(table);
    }

    /** Drops the tables still left, each bounded by 5 s (a lock held by a worker that is dying, say). */
    static void dropLeft() {
        for (Map.Entry<String, Opener> left : LEFT.entrySet()) {
            String table = left.getKey();
            try (Connection c = left.getValue().open();
                    Statement s = c.createStatement()) {
                s.setQueryTimeout(5);
                s.execute("DROP TABLE IF EXISTS " + table);
                LEFT.remove(table);
                System.err.println("once: stopped early; dropped its table " + table);
            } catch (SQLException | RuntimeException e) {
                System.err.println("once: stopped early; could not drop its table " + table + " (" + e.getMessage()
                        + "): drop it by hand");
            }
        }
    }

    /** {@code base} and a random suffix, e.g. once_bench_plain_k3x9q2: lower case, letters and digits. */
    public static String named(String base) {
        StringBuilder b = new StringBuilder(base).append('_');
        String digits = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (int i = 0; i < 8; i++) b.append(digits.charAt(RANDOM.nextInt(digits.length())));
        return b.toString();
    }
}
