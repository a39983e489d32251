package dev.once.cache;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Locale;

/** The few places where the cache's SQL differs between databases. Times are epoch milliseconds. */
enum StoreDialect {
    POSTGRES("(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT", "postgresql"),
    // UTC_TIMESTAMP against the epoch as plain datetimes: no session time zone takes part (UNIX_TIMESTAMP(NOW())
    // read the wall clock back in the session's zone, an hour off in a daylight-saving change's repeated hour)
    MARIADB("CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(3)) DIV 1000 AS SIGNED)", "mariadb"),
    SQLITE("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)", "sqlite");

    /** The database clock, in epoch milliseconds: leases and TTLs never use the replicas' clocks. */
    final String now;
    /** The name of the shipped DDL file, {@code schema-NAME.sql}. */
    final String schemaName;

    StoreDialect(String now, String schemaName) {
        this.now = now;
        this.schemaName = schemaName;
    }

    /**
     * Whether the failure says that a table the statement names does not exist, as the connection
     * resolves it (PostgreSQL's search path): PostgreSQL's 42P01, MariaDB's 1146 (42S02). SQLite tells it
     * only in its message (every statement error there is SQLITE_ERROR, code 1).
     */
    boolean missingTable(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (!(t instanceof SQLException sql)) continue;
            for (SQLException n = sql; n != null; n = n.getNextException()) {
                boolean missing = switch (this) {
                    case POSTGRES -> "42P01".equals(n.getSQLState());
                    case MARIADB -> n.getErrorCode() == 1146 || "42S02".equals(n.getSQLState());
                    case SQLITE -> n.getMessage() != null && n.getMessage().contains("no such table");
                };
                if (missing) return true;
            }
        }
        return false;
    }

    static StoreDialect of(Connection c) throws SQLException {
        String product = c.getMetaData().getDatabaseProductName().toLowerCase(Locale.ROOT);
        String version = c.getMetaData().getDatabaseProductVersion().toLowerCase(Locale.ROOT);
        if (product.contains("postgres")) return POSTGRES;
        if (product.contains("sqlite")) return SQLITE;
        if (product.contains("mariadb") || version.contains("mariadb")) return MARIADB;
        throw new SQLException("once-cache does not support " + c.getMetaData().getDatabaseProductName()
                + " yet; supported: PostgreSQL, MariaDB, SQLite");
    }

    /**
     * Claims the key for {@code owner} when nobody may serve or is producing it: no row, or a row whose
     * value has expired (or was never written) and whose lease is free or lapsed. Returns the lease
     * owner after the statement: the caller is the leader when it is its own token. A claim clears the
     * previous leader's error: an error on a row is always its last leader's.
     */
    String claim(String table, boolean returnOwner) {
        String claimable = "(" + table + ".lease_until IS NULL OR " + table + ".lease_until <= " + now + ") AND ("
                + table + ".state = 0 OR " + table + ".expires_at <= " + now + ")";
        String columns = "INSERT INTO " + table + " (namespace, key_hash, key_text, state, lease_owner, lease_until,"
                + " updated_at) ";
        String values = "?, ?, ?, 0, ?, " + now + " + ?, " + now;
        String insert =
                this == POSTGRES ? columns + "SELECT " + values + asyncCommit() : columns + "VALUES (" + values + ")";
        // the conflict's update runs only where claimable: the owner comes back only to a claim that won
        String onlyIfWon = insert + " ON CONFLICT (namespace, key_hash) DO UPDATE SET"
                + " lease_owner = excluded.lease_owner, lease_until = excluded.lease_until,"
                + " updated_at = excluded.updated_at, error = NULL WHERE " + claimable
                + " RETURNING lease_owner";
        return switch (this) {
            // with returnOwner, a claim that loses still returns the owner (every SET reads the row as it
            // was): a waiter learns the token of the load it waits for, which opens the value sent with its
            // NOTIFY (SealedValue); such a lost claim writes a row version, as MariaDB's always did
            case POSTGRES -> {
                if (!returnOwner) yield onlyIfWon;
                // each CASE would read clock_timestamp() again: a lease or value expiring between two of
                // them left the owner (NULL) beside a future lease_until, a row no claim could take until
                // that lease ran out (helper-64, by reading). The incoming row's updated_at is one instant.
                claimable = claimable.replace(now, "excluded.updated_at");
                String keep = " ELSE " + table + ".";
                yield insert + " ON CONFLICT (namespace, key_hash) DO UPDATE SET"
                        + " lease_owner = CASE WHEN " + claimable + " THEN excluded.lease_owner" + keep
                        + "lease_owner END, lease_until = CASE WHEN " + claimable + " THEN excluded.lease_until"
                        + keep + "lease_until END, updated_at = CASE WHEN " + claimable
                        + " THEN excluded.updated_at" + keep + "updated_at END, error = CASE WHEN " + claimable
                        + " THEN NULL" + keep + "error END RETURNING lease_owner";
            }
            case SQLITE -> onlyIfWon;
            // MariaDB assigns ON DUPLICATE KEY UPDATE columns in order: the first assignment
            // evaluates the condition on the old row and keeps it in a session variable.
            case MARIADB ->
                insert + " ON DUPLICATE KEY UPDATE"
                        + " lease_owner = IF(@once_claim := (" + claimable.replace(table + ".", "") + "),"
                        + " VALUES(lease_owner), lease_owner),"
                        + " lease_until = IF(@once_claim, VALUES(lease_until), lease_until),"
                        + " updated_at = IF(@once_claim, VALUES(updated_at), updated_at),"
                        + " error = IF(@once_claim, NULL, error) RETURNING lease_owner";
        };
    }

    /**
     * Writes a value whatever the row holds: READY, fresh for {@code ttl} ms, no error, no lease. Freeing
     * the lease is what fences a load in flight off ({@code complete} and {@code release} match on the
     * leader's token). Parameters: namespace, key hash, key text, value, ttl.
     *
     * <p>Committed as the connection commits, never asynchronously ({@link #asyncCommit()}): a put is the
     * application's word that the value changed, and losing it in a crash would bring the previous value
     * back as a fresh hit, a wrong answer, not a reload.
     */
    String put(String table) {
        String columns =
                "INSERT INTO " + table + " (namespace, key_hash, key_text, state, value, expires_at, updated_at) ";
        String values = "?, ?, ?, " + Entry.READY + ", ?, " + now + " + ?, " + now;
        String freed = "error = NULL, lease_owner = NULL, lease_until = NULL";
        return switch (this) {
            case POSTGRES, SQLITE ->
                columns + "VALUES (" + values + ") ON CONFLICT (namespace, key_hash) DO UPDATE SET"
                        + " key_text = excluded.key_text, state = excluded.state, value = excluded.value,"
                        + " expires_at = excluded.expires_at, updated_at = excluded.updated_at, " + freed;
            case MARIADB ->
                columns + "VALUES (" + values + ") ON DUPLICATE KEY UPDATE key_text = VALUES(key_text),"
                        + " state = VALUES(state), value = VALUES(value), expires_at = VALUES(expires_at),"
                        + " updated_at = VALUES(updated_at), " + freed;
        };
    }

    /**
     * PostgreSQL: a FROM item that turns off the wait for the WAL flush for this statement's own
     * transaction ({@code set_config(..., true)} lasts until its commit). Only for the writes the cache
     * can always redo, claims, loaded values and releases: a database crash can lose the last moments of
     * them, which costs a reload (a lost claim fences its leader's write off; a lost value is loaded
     * again). Never for a put, whose loss would serve the value it replaced ({@link #put}). The
     * application's own transactions are untouched. Empty elsewhere.
     */
    String asyncCommit() {
        return this == POSTGRES ? " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS once_async" : "";
    }

    /**
     * Deletes up to {@code limit} unleased rows of a namespace that expired more than {@code grace} ms
     * ago, or that hold no value and were last released that long ago (a failed load's release).
     * Parameters: namespace, grace, grace (MariaDB: then limit); PostgreSQL and SQLite repeat the three
     * before the limit. The predicate stands outside the {@code IN (SELECT ... LIMIT ?)} as well: at READ
     * COMMITTED PostgreSQL re-checks only the outer predicate of a row that changed while the DELETE
     * waited for its lock, so a row claimed meanwhile would otherwise be deleted under its new leader.
     */
    String deleteExpired(String table) {
        // PostgreSQL: the statement's start, not clock_timestamp(): a volatile bound cannot be an index
        // condition, so the janitor could never use its indexes and scanned the table for its batch
        String now = this == POSTGRES ? "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000)::BIGINT" : this.now;
        String expired = "namespace = ? AND (lease_until IS NULL OR lease_until < " + now + ") AND (expires_at < " + now
                + " - ? OR (expires_at IS NULL AND updated_at < " + now + " - ?))";
        return switch (this) {
            case MARIADB -> "DELETE FROM " + table + " WHERE " + expired + " LIMIT ?";
            case POSTGRES, SQLITE ->
                "DELETE FROM " + table + " WHERE " + expired + " AND (namespace, key_hash) IN (SELECT namespace,"
                        + " key_hash FROM " + table + " WHERE " + expired + " LIMIT ?)";
        };
    }
}
