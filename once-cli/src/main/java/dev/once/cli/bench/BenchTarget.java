package dev.once.cli.bench;

import javax.sql.DataSource;

/**
 * The database a bench run measures: a pool for in-process work, and the URL and credentials that
 * worker processes use to connect themselves.
 */
public record BenchTarget(String url, String user, String password, String description, DataSource pool) {

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
