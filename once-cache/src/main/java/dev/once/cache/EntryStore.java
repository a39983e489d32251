package dev.once.cache;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;

/**
 * The cache table's statements. Each runs in auto-commit at READ COMMITTED whatever the pool's
 * default: the claim's conditional upsert must judge the latest committed row. Hits only read.
 */
final class EntryStore {
    private final DataSource dataSource;
    private final StoreDialect dialect;
    private final String table;
    private final String namespace;
    private final String read;
    private final String claim;
    private final String renew;
    private final String complete;
    private final String release;
    private final String purge;
    private final String purgeAll;
    private final String deleteExpired;

    EntryStore(DataSource dataSource, StoreDialect dialect, String table, String namespace) {
        this.dataSource = dataSource;
        this.dialect = dialect;
        this.table = table;
        this.namespace = namespace;
        String now = dialect.now;
        String pk = " WHERE namespace = ? AND key_hash = ?";
        this.read = "SELECT state, value, error, expires_at, lease_owner, lease_until, " + now + " AS db_now FROM "
                + table + pk;
        this.claim = dialect.claim(table);
        this.renew = "UPDATE " + table + " SET lease_until = " + now + " + ?" + pk + " AND lease_owner = ?";
        this.complete = "UPDATE " + table + " SET state = ?, value = ?, error = ?, expires_at = " + now
                + " + ?, lease_owner = NULL, lease_until = NULL, updated_at = " + now + pk + " AND lease_owner = ?";
        this.release = "UPDATE " + table + " SET lease_owner = NULL, lease_until = NULL, error = ?, updated_at = " + now
                + pk + " AND lease_owner = ?";
        this.purge = "DELETE FROM " + table + pk;
        this.purgeAll = "DELETE FROM " + table + " WHERE namespace = ?";
        this.deleteExpired = dialect.deleteExpired(table);
    }

    StoreDialect dialect() {
        return dialect;
    }

    String table() {
        return table;
    }

    /** The row for a key, or null. */
    Entry read(String keyHash) throws SQLException {
        try (Connection c = connection();
                PreparedStatement ps = c.prepareStatement(read)) {
            ps.setString(1, namespace);
            ps.setString(2, keyHash);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return null;
                return new Entry(
                        rs.getInt(1),
                        rs.getBytes(2),
                        rs.getString(3),
                        rs.getLong(4),
                        rs.getString(5),
                        rs.getLong(6),
                        rs.getLong(7));
            }
        }
    }

    /** Tries to become the key's leader; true when {@code owner} now holds the lease. */
    boolean claim(String keyHash, String keyText, String owner, long leaseMillis) throws SQLException {
        try (Connection c = connection();
                PreparedStatement ps = c.prepareStatement(claim)) {
            ps.setString(1, namespace);
            ps.setString(2, keyHash);
            ps.setString(3, keyText);
            ps.setString(4, owner);
            ps.setLong(5, leaseMillis);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && owner.equals(rs.getString(1));
            }
        }
    }

    /** Extends the lease; false when it was lost (taken over after lapsing, or purged). */
    boolean renew(String keyHash, String owner, long leaseMillis) throws SQLException {
        return update(renew, leaseMillis, namespace, keyHash, owner) == 1;
    }

    /**
     * Stores the value (or a cached failure) and frees the lease, only if {@code owner} still holds it:
     * a leader whose lease was taken over cannot overwrite the newer leader's value (fencing).
     */
    boolean complete(String keyHash, String owner, int state, byte[] value, String error, long ttlMillis)
            throws SQLException {
        return update(complete, state, value, error, ttlMillis, namespace, keyHash, owner) == 1;
    }

    /** Frees the lease without a value, recording why, so a waiter can claim and retry. */
    boolean release(String keyHash, String owner, String error) throws SQLException {
        return update(release, error, namespace, keyHash, owner) == 1;
    }

    void purge(String keyHash) throws SQLException {
        update(purge, namespace, keyHash);
    }

    void purgeAll() throws SQLException {
        update(purgeAll, namespace);
    }

    /** Deletes at most {@code limit} rows that expired more than {@code graceMillis} ago; returns how many. */
    int deleteExpired(long graceMillis, int limit) throws SQLException {
        return update(deleteExpired, namespace, graceMillis, limit);
    }

    private int update(String sql, Object... params) throws SQLException {
        try (Connection c = connection();
                PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
            return ps.executeUpdate();
        }
    }

    /** Runs a statement (e.g. NOTIFY) on a pooled connection. */
    void execute(String sql, String... params) throws SQLException {
        try (Connection c = connection();
                PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) ps.setString(i + 1, params[i]);
            ps.execute();
        }
    }

    private Connection connection() throws SQLException {
        Connection c = dataSource.getConnection();
        try {
            if (!c.getAutoCommit()) c.setAutoCommit(true);
            if (dialect != StoreDialect.SQLITE
                    && c.getTransactionIsolation() != Connection.TRANSACTION_READ_COMMITTED) {
                c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
            }
            return c;
        } catch (SQLException e) {
            c.close();
            throw e;
        }
    }

    /** Creates the table from the shipped DDL unless it exists; safe when several replicas start at once. */
    void createTableIfAbsent() throws SQLException {
        String ddl = Schema.ddl(dialect, table);
        try (Connection c = connection();
                Statement s = c.createStatement()) {
            for (String statement : ddl.split(";")) {
                if (statement.isBlank()) continue;
                try {
                    s.execute(statement);
                } catch (SQLException e) {
                    // Two replicas racing on CREATE ... IF NOT EXISTS can still collide in the catalog:
                    // fine as long as the table is there afterwards.
                    if (!Schema.exists(c, table)) throw e;
                }
            }
        }
    }
}
