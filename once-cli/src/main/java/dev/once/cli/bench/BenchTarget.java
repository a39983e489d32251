package dev.once.cli.bench;

import javax.sql.DataSource;

/**
 * The database a bench run measures: a pool for in-process work, and the URL and credentials that
 * worker processes use to connect themselves. {@code given}: the user's database (not the embedded one
 * started for the run), whose scratch tables a run stopped by a signal drops on the way out.
 */
public record BenchTarget(
        String url, String user, String password, String description, DataSource pool, boolean given) {

    /**
     * {@code table} was just created: dropped on the way out if a signal ends the run before it is. By a
     * connection of its own: the pool may be closed by then.
     */
    void created(String table) {
        if (given)
            dev.once.cli.ScratchTables.dropOnSignal(
                    table, () -> java.sql.DriverManager.getConnection(url, user, password));
    }

    /** {@code table} was dropped. */
    void dropped(String table) {
        dev.once.cli.ScratchTables.dropped(table);
    }

    /** The database product's name, lower case ("postgresql", "mariadb", "sqlite"). */
    String product() throws java.sql.SQLException {
        try (java.sql.Connection c = pool.getConnection()) {
            return c.getMetaData().getDatabaseProductName().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The statement that inserts (k, v) into a table and ignores a duplicate k, in this database's words. */
    String insertIgnoringDuplicate(String table) throws java.sql.SQLException {
        String p = product();
        return p.contains("maria") || p.contains("mysql")
                ? "INSERT INTO " + table + " (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE k = k"
                : "INSERT INTO " + table + " (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING";
    }
}
