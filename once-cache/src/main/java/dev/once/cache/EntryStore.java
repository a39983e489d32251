package dev.once.cache;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import javax.sql.DataSource;

/**
 * The cache table's statements. Each runs in auto-commit at READ COMMITTED whatever the pool's
 * default: the claim's conditional upsert must judge the latest committed row. Hits only read. On
 * PostgreSQL the claims, loaded values and releases do not wait for the WAL flush ({@link
 * StoreDialect#asyncCommit()}); puts and purges commit as the connection does.
 */
final class EntryStore {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(EntryStore.class);
    private final DataSource dataSource;
    private final StoreDialect dialect;
    private final String table;
    private final String namespace;
    private final String read;
    /** Reads of 2, 4, ... {@link SharedReads#MAX_KEYS} keys at index 1, 2, ...: few statement texts to prepare. */
    private final String[] readMany;
    /** PostgreSQL's read of several keys: one primary-key lookup per key ({@link #readManyNow}). */
    private final String readEach;

    private final SharedReads reads;
    private final String claim;
    private final String renew;
    private final String complete;
    private final String release;
    private final String put;
    private final String purge;
    private final String purgeAll;
    private final String deleteExpired;
    private final String notifyChannel;
    private final boolean sealValues;
    /** The table's seal secret ({@link SealedValue}), once read; null while values are not sent. */
    private volatile byte[] sealSecret;
    /** The builder's {@code sealKey}, from outside the database, or null. */
    private final byte[] sealKey;

    private final StoreBreaker breaker;
    private final int networkTimeoutMillis;
    private volatile Boolean changeIsolation;

    /**
     * @param notifyChannel PostgreSQL channel to NOTIFY when a key is written or released, in the same
     *     statement; null for none
     * @param sealValues send a stored value with its NOTIFY, sealed ({@link SealedValue}), so that
     *     waiters need not read it, once {@link #enableSealing} has read the table's seal secret
     * @param sealKey a secret from outside the database that values are sealed under too, or null
     */
    EntryStore(
            DataSource dataSource,
            StoreDialect dialect,
            String table,
            String namespace,
            String notifyChannel,
            boolean sealValues,
            byte[] sealKey,
            StoreBreaker breaker) {
        this.sealValues = sealValues && notifyChannel != null;
        this.sealKey = sealKey;
        this.dataSource = dataSource;
        this.breaker = breaker;
        this.networkTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, breaker.timeoutMillis());
        this.dialect = dialect;
        this.table = table;
        this.namespace = namespace;
        String now = dialect.now;
        String pk = " WHERE namespace = ? AND key_hash = ?";
        String columns = "SELECT state, value, error, expires_at, lease_owner, lease_until, " + now + " AS db_now";
        this.read = columns + " FROM " + table + pk;
        this.readMany = new String[Integer.numberOfTrailingZeros(SharedReads.MAX_KEYS) + 1];
        for (int i = 1; i < readMany.length; i++) {
            readMany[i] = columns + ", key_hash FROM " + table + " WHERE namespace = ? AND key_hash IN ("
                    + String.join(", ", java.util.Collections.nCopies(1 << i, "?")) + ")";
        }
        this.readEach = columns + ", key_hash FROM unnest(?::varchar[]) AS k(h) CROSS JOIN LATERAL (SELECT state,"
                + " value, error, expires_at, lease_owner, lease_until, key_hash FROM " + table
                + " WHERE namespace = ? AND key_hash = k.h OFFSET 0) AS e";
        this.claim = dialect.claim(table, this.sealValues);
        this.renew = "UPDATE " + table + " SET lease_until = " + now + " + ?" + pk + " AND lease_owner = ?";
        String async = dialect.asyncCommit();
        this.complete = "UPDATE " + table + " SET state = ?, value = ?, error = ?, expires_at = " + now
                + " + ?, lease_owner = NULL, lease_until = NULL, updated_at = " + now + async + pk
                + " AND lease_owner = ?";
        this.release = "UPDATE " + table + " SET lease_owner = NULL, lease_until = NULL, error = ?, updated_at = " + now
                + async + pk + " AND lease_owner = ?";
        this.put = dialect.put(table);
        this.purge = "DELETE FROM " + table + pk;
        this.purgeAll = "DELETE FROM " + table + " WHERE namespace = ?";
        this.deleteExpired = dialect.deleteExpired(table);
        this.notifyChannel = notifyChannel;
        breaker.probeWith(() -> readNow(PROBE_KEY));
        this.reads = new SharedReads(breaker, this::readNow, this::readManyNow);
    }

    /** The key the breaker's probe reads: no key hashes to it (hashes are 64 hex digits). */
    private static final String PROBE_KEY = "probe";

    StoreDialect dialect() {
        return dialect;
    }

    String table() {
        return table;
    }

    /** The row for a key, or null. */
    Entry read(String keyHash) throws StoreException {
        return reads.read(keyHash);
    }

    /** Reads answered by a statement that another caller's read ran ({@link SharedReads}). */
    long sharedReads() {
        return reads.shared();
    }

    private Entry readNow(String keyHash) throws SQLException {
        return prepared(read, ps -> {
            ps.setString(1, namespace);
            ps.setString(2, keyHash);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? entry(rs) : null;
            }
        });
    }

    /**
     * The rows of several keys, by key hash. On PostgreSQL one primary-key lookup per key, whatever the
     * planner knows of the table: with {@code key_hash IN (...)} on a table never analyzed (autovacuum off,
     * or not yet run), it found the keys by their namespace alone and filtered the rest, reading the whole
     * namespace for each shared read (4,000 rows and 259 buffers for 16 keys, against 33; 3 to 6 ms per
     * statement in {@code once bench} on PostgreSQL 15, in the burst's critical moments). The lateral
     * lookup's inner query is the single read's, equality on both columns of the primary key, which the
     * planner answers through that key with or without statistics ({@code OFFSET 0} keeps it from being
     * flattened into a join it could plan otherwise). Elsewhere {@code key_hash IN (...)}, the list padded
     * with its last key to the next size prepared.
     */
    private java.util.Map<String, Entry> readManyNow(List<String> keyHashes) throws SQLException {
        if (dialect == StoreDialect.POSTGRES) {
            return prepared(readEach, ps -> {
                ps.setArray(1, ps.getConnection().createArrayOf("varchar", keyHashes.toArray()));
                ps.setString(2, namespace);
                return rows(ps);
            });
        }
        int size = Integer.numberOfTrailingZeros(Integer.highestOneBit(keyHashes.size() - 1) << 1);
        return prepared(readMany[size], ps -> {
            ps.setString(1, namespace);
            for (int i = 0; i < 1 << size; i++) ps.setString(i + 2, keyHashes.get(Math.min(i, keyHashes.size() - 1)));
            return rows(ps);
        });
    }

    private static java.util.Map<String, Entry> rows(PreparedStatement ps) throws SQLException {
        java.util.Map<String, Entry> rows = new java.util.HashMap<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) rows.put(rs.getString(8), entry(rs));
        }
        return rows;
    }

    private static Entry entry(ResultSet rs) throws SQLException {
        return new Entry(
                rs.getInt(1),
                rs.getBytes(2),
                rs.getString(3),
                rs.getLong(4),
                rs.getString(5),
                rs.getLong(6),
                rs.getLong(7));
    }

    /** Tries to become the key's leader; true when {@code owner} now holds the lease. */
    boolean claim(String keyHash, String keyText, String owner, long leaseMillis) throws StoreException {
        return owner.equals(claimOwner(keyHash, keyText, owner, leaseMillis));
    }

    /**
     * Tries to become the key's leader; returns who holds the lease after the statement: {@code owner}
     * when this claim won, else the winner's token where the database tells it (PostgreSQL, MariaDB), or
     * null (no lease, or SQLite).
     */
    String claimOwner(String keyHash, String keyText, String owner, long leaseMillis) throws StoreException {
        return breaker.call(() -> {
            return prepared(claim, ps -> {
                ps.setString(1, namespace);
                ps.setString(2, keyHash);
                ps.setString(3, KeyHash.shown(keyText));
                ps.setString(4, owner);
                ps.setLong(5, leaseMillis);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? rs.getString(1) : null;
                }
            });
        });
    }

    /** Extends the lease; false when it was lost (taken over after lapsing, or purged). */
    boolean renew(String keyHash, String owner, long leaseMillis) throws StoreException {
        return update(renew, leaseMillis, namespace, keyHash, owner) == 1;
    }

    private static final int RENEWALS_PER_STATEMENT = 500;

    /**
     * Extends these leases, up to {@value #RENEWALS_PER_STATEMENT} in one statement. A claim token is
     * unique to its key, so "the key is one of these and its owner is one of these" matches exactly the
     * rows still held, by primary key. Returns how many were extended; the others were lost.
     */
    int renew(List<LeaseKeeper.Held> leases, long leaseMillis) throws StoreException {
        int renewed = 0;
        for (int from = 0; from < leases.size(); from += RENEWALS_PER_STATEMENT) {
            List<LeaseKeeper.Held> batch = leases.subList(from, Math.min(leases.size(), from + RENEWALS_PER_STATEMENT));
            String marks = String.join(", ", java.util.Collections.nCopies(batch.size(), "?"));
            Object[] params = new Object[2 + 2 * batch.size()];
            params[0] = leaseMillis;
            params[1] = namespace;
            for (int i = 0; i < batch.size(); i++) {
                params[2 + i] = batch.get(i).keyHash;
                params[2 + batch.size() + i] = batch.get(i).token;
            }
            renewed += replanned(
                    "UPDATE " + table + " SET lease_until = " + dialect.now
                            + " + ? WHERE namespace = ? AND key_hash IN (" + marks + ") AND lease_owner IN (" + marks
                            + ")",
                    params);
        }
        return renewed;
    }

    /**
     * Stores the value (or a cached failure) and frees the lease, only if {@code owner} still holds it:
     * a leader whose lease was taken over cannot overwrite the newer leader's value (fencing).
     */
    boolean complete(String keyHash, String owner, int state, byte[] value, String error, long ttlMillis)
            throws StoreException {
        if (value != null) reads.weigh(value.length); // what the reads of such keys will weigh

        byte[] secret = sealSecret;
        String sealed = secret != null && state == Entry.READY && value != null
                ? SealedValue.seal(secret, owner, namespace, keyHash, ttlMillis, value)
                : null;
        if (sealed != null)
            return notifying(complete, sealed, false, state, value, error, ttlMillis, namespace, keyHash, owner);
        if (dialect != StoreDialect.MARIADB || value == null)
            return write(complete, keyHash, state, value, error, ttlMillis, namespace, keyHash, owner);
        try {
            return valueWrite(value.length, complete, state, value, error, ttlMillis, namespace, keyHash, owner) == 1;
        } catch (StoreException e) {
            if (!(e.getCause() instanceof OverPacket)) throw e;
            // the key's waiters must not wait out the lease, nor fail: they load it themselves, as for an
            // answer passed through (a row that passes, fresh for no time)
            update(complete, Entry.PASS, null, e.getCause().getMessage(), 0L, namespace, keyHash, owner);
            throw e;
        }
    }

    /** Frees the lease without a value, recording why, so a waiter can claim and retry. */
    boolean release(String keyHash, String owner, String error) throws StoreException {
        return write(release, keyHash, error, namespace, keyHash, owner);
    }

    /**
     * Stores a value for the key whatever its row holds, and frees its lease: a load in flight then
     * writes nothing (its write is fenced on its lease). With NOTIFY, the statement sends the purge
     * notice, which wakes the key's waiters and drops it from other processes' near caches.
     */
    void put(String keyHash, String keyText, byte[] value, long ttlMillis) throws StoreException {
        reads.weigh(value.length);
        if (dialect == StoreDialect.MARIADB)
            valueWrite(value.length, put, namespace, keyHash, KeyHash.shown(keyText), value, ttlMillis);
        else purging(put, keyHash, namespace, keyHash, KeyHash.shown(keyText), value, ttlMillis);
    }

    /** Deletes the key; with NOTIFY, the purge notice commits with the delete, in the same statement. */
    void purge(String keyHash) throws StoreException {
        purging(purge, keyHash, namespace, keyHash);
    }

    /** A write after which no cached copy of the key stands: with NOTIFY, the purge notice commits with it. */
    private void purging(String sql, String keyHash, Object... params) throws StoreException {
        if (notifyChannel == null) update(sql, params);
        else notifying(sql, "p/" + namespace + "/" + keyHash, true, params);
    }

    void purgeAll() throws StoreException {
        if (notifyChannel == null) update(purgeAll, namespace);
        else notifying(purgeAll, "P/" + namespace + "/*", true, namespace);
    }

    /** Deletes at most {@code limit} rows expired (or released empty) more than {@code graceMillis} ago; returns how many. */
    int deleteExpired(long graceMillis, int limit) throws StoreException {
        return dialect == StoreDialect.MARIADB
                ? update(deleteExpired, namespace, graceMillis, graceMillis, limit)
                : replanned(
                        deleteExpired, namespace, graceMillis, graceMillis, namespace, graceMillis, graceMillis, limit);
    }

    /** An UPDATE of one row; on PostgreSQL with NOTIFY, the notification goes in the same statement. */
    private boolean write(String sql, String keyHash, Object... params) throws StoreException {
        if (notifyChannel == null) return update(sql, params) == 1;
        return notifying(sql, "k/" + namespace + "/" + keyHash, false, params);
    }

    /**
     * The statement and a NOTIFY of {@code payload} as one statement, so neither commits without the
     * other: only when it changed a row, or {@code always}. True when it changed a row (or always).
     */
    private boolean notifying(String sql, String payload, boolean always, Object... params) throws StoreException {
        String notify = always ? "SELECT pg_notify(?, ?), (SELECT COUNT(*) FROM u)" : "SELECT pg_notify(?, ?) FROM u";
        String statement = "WITH u AS (" + sql + " RETURNING 1) " + notify;
        return breaker.call(() -> {
            return prepared(statement, ps -> {
                for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
                ps.setString(params.length + 1, notifyChannel);
                ps.setString(params.length + 2, payload);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next();
                }
            });
        });
    }

    /**
     * An UPDATE or DELETE of many rows, planned anew for each run on PostgreSQL: never prepared on the
     * server, so never given a generic plan. Made while the table was empty (or had no statistics),
     * such a plan found the rows by namespace alone and filtered the rest (the renewal's {@code key_hash
     * IN (...)}, the janitor's expiry conditions): each run read the whole namespace (on 200,000 rows:
     * the renewal 120 ms, the janitor 92 ms against 0.1 ms planned with its values). These statements run
     * a few times a second at most.
     */
    private int replanned(String sql, Object... params) throws StoreException {
        return update(dialect == StoreDialect.POSTGRES, sql, params);
    }

    /**
     * Asks pgjdbc not to prepare this statement on the server. A data source whose statements do not
     * unwrap to pgjdbc's (a tracing wrapper, say) keeps the driver's default: the statement still runs.
     */
    private static void neverServerPrepared(PreparedStatement ps) {
        try {
            if (ps.isWrapperFor(org.postgresql.PGStatement.class))
                ps.unwrap(org.postgresql.PGStatement.class).setPrepareThreshold(0);
        } catch (SQLException | RuntimeException e) {
            log.debug("a statement that does not unwrap to pgjdbc's is prepared as the driver decides", e);
        }
    }

    private int update(String sql, Object... params) throws StoreException {
        return update(false, sql, params);
    }

    /**
     * MariaDB: an UPDATE (or upsert) that carries a value of {@code valueBytes}. The server refuses a
     * statement over its {@code max_allowed_packet} by closing the connection, which looks like an outage;
     * the packet is read once at build ({@link #bound}), but an operator may lower it later (new
     * connections take the new value). So when such a write fails, the packet is read again: if the value
     * is over what it now lets a statement carry, the bound is lowered and the write fails as this value's
     * own ({@link OverPacket}), the breaker closed. Before, every such value opened the breaker for every
     * key, each time it was loaded.
     */
    private int valueWrite(int valueBytes, String sql, Object... params) throws StoreException {
        return breaker.call(() -> {
            try {
                return updateNow(false, sql, params);
            } catch (SQLException e) {
                if (Thread.currentThread().isInterrupted()) throw e; // the alarm, or the caller's own interrupt
                int storable = largestStorableValue(); // on another connection: the failed one is closed
                if (valueBytes <= storable) throw e;
                int before = valueBound.getAndAccumulate(storable, Math::min);
                if (before > storable)
                    log.warn(
                            "once-cache: {} now stores values of at most {} bytes, down from {}: the server's"
                                    + " max_allowed_packet was lowered (raise it, and restart, to store larger ones)",
                            table,
                            storable,
                            before);
                OverPacket over = new OverPacket(valueBytes, storable);
                over.addSuppressed(e); // not its cause: a closed connection there would count as an outage
                throw over;
            }
        });
    }

    /** A value the server's {@code max_allowed_packet} does not let a statement carry (MariaDB). */
    static final class OverPacket extends SQLException {
        OverPacket(int valueBytes, int storable) {
            super(
                    "the value, " + valueBytes + " bytes, is over what the server's max_allowed_packet lets a"
                            + " statement carry (" + storable + " bytes): not stored (maxValueBytes)",
                    "22001");
        }
    }

    /**
     * The largest value this store takes: {@code configured} (maxValueBytes), lowered to what the server
     * lets a statement carry ({@link #largestStorableValue}). Returns the bound.
     */
    int bound(int configured) {
        int bound = Math.min(configured, largestStorableValue());
        valueBound.set(bound);
        return bound;
    }

    /** The largest value this store takes now ({@link #bound}; lowered when the server's packet was). */
    int valueBound() {
        return valueBound.get();
    }

    private final java.util.concurrent.atomic.AtomicInteger valueBound =
            new java.util.concurrent.atomic.AtomicInteger(Integer.MAX_VALUE);

    private int update(boolean neverServerPrepared, String sql, Object... params) throws StoreException {
        return breaker.call(() -> updateNow(neverServerPrepared, sql, params));
    }

    /** The statement of {@link #update}, run now on a pooled connection: the breaker's call around it is the caller's. */
    private int updateNow(boolean neverServerPrepared, String sql, Object... params) throws SQLException {
        return prepared(sql, ps -> {
            if (neverServerPrepared) neverServerPrepared(ps);
            for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
            return ps.executeUpdate();
        });
    }

    interface Work<T> {
        T run(PreparedStatement ps) throws SQLException;
    }

    /**
     * Prepares and runs a statement on a pooled connection. On a platform thread (with HikariCP; other
     * data sources' calls are handed to a virtual thread, {@link StoreBreaker#call}) its socket reads are
     * bounded by the store's timeout ({@link Connection#setNetworkTimeout}: an interrupt cannot free a
     * platform thread from a blocked read), the connection's own timeout restored before it returns to
     * the pool. A virtual thread's read is ended by the breaker's alarm (the interrupt closes the
     * socket), so it reads without a timeout: a timed read parks the virtual thread with a timer, which
     * the JDK schedules and cancels on every statement (4% of a proxy replica's CPU samples in a
     * coalesced burst). SQLite has no network.
     */
    private <T> T prepared(String sql, Work<T> work) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            int before =
                    dialect == StoreDialect.SQLITE || Thread.currentThread().isVirtual() ? -1 : c.getNetworkTimeout();
            if (before >= 0) c.setNetworkTimeout(Runnable::run, networkTimeoutMillis);
            try {
                // after the timeout: setting the isolation is a round trip on MariaDB, and a platform
                // thread's read there hung past 60 s on a database that stopped answering (an attack)
                readCommitted(c);
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    return work.run(ps);
                }
            } finally {
                if (before >= 0) restore(c, before);
            }
        }
    }

    private static void restore(Connection c, int networkTimeout) {
        try {
            if (!c.isClosed()) c.setNetworkTimeout(Runnable::run, networkTimeout);
        } catch (SQLException e) {
            // the connection broke: the pool discards it
        }
    }

    /**
     * A pooled connection in auto-commit at READ COMMITTED. Whether the pool's connections need their
     * isolation changed is learnt from the first one (asking every time costs a round trip on some
     * drivers); the pool restores what was changed when the connection returns.
     */
    private Connection connection() throws SQLException {
        Connection c = dataSource.getConnection();
        try {
            readCommitted(c);
            return c;
        } catch (SQLException e) {
            c.close();
            throw e;
        }
    }

    private void readCommitted(Connection c) throws SQLException {
        if (!c.getAutoCommit()) c.setAutoCommit(true);
        Boolean change = changeIsolation;
        if (change == null) {
            change = dialect != StoreDialect.SQLITE
                    && c.getTransactionIsolation() != Connection.TRANSACTION_READ_COMMITTED;
            changeIsolation = change;
        }
        if (change) c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
    }

    /** The store timeout in whole seconds, at least 1: JDBC's query timeout, for the statements run outside the breaker. */
    private int timeoutSeconds() {
        return (int) Math.max(1, (breaker.timeoutMillis() + 999) / 1000);
    }

    /** The table's seal secret, or null when values are not sent with NOTIFY. */
    byte[] sealSecret() {
        return sealSecret;
    }

    /**
     * Reads the table's seal secret from {@code <table>_seal} (PostgreSQL; the shipped DDL creates that
     * table), writing one first if there is none (the first process to get there wins; the others read
     * its secret). Values are then sent with their NOTIFY. Only when the table is private: owned
     * by this role and granted to no other, since whoever reads the secret (and the cache table's lease
     * tokens) could seal a value for a load in progress; a table another role made first, or one that
     * default privileges opened to a reader, is refused with a warning. Any failure (no table and no
     * right to create it, a lock held on it past the store timeout) leaves values unsent, said once in
     * the log: waiters read rows as before. Each statement is bounded by the store timeout.
     */
    void enableSealing() {
        if (!sealValues) return;
        String seal = table + "_seal";
        int seconds = timeoutSeconds();
        try (Connection c = connection();
                Statement s = c.createStatement()) {
            s.setQueryTimeout(seconds);
            // with a key from outside the database, reading the seal table is not enough to forge: no check
            String notPrivate = sealKey != null ? null : notPrivate(c, seal, table, seconds);
            if (notPrivate != null) {
                log.warn(
                        "once-cache: values are not sent with NOTIFY on {}: {}; whoever can read it could forge"
                                + " them (docs/once-cache.md, \"Values sent with NOTIFY\")",
                        table,
                        notPrivate);
                return;
            }
            byte[] secret = readSecret(s, seal);
            if (secret == null) {
                // Made by the server, never a statement's parameter: made here and bound to the INSERT, it was
                // written to the server's log wherever statements are logged (log_statement = 'mod' or 'all'),
                // and whoever reads that log and may connect could seal values for loads in progress (helper-80).
                // Two version-4 UUIDs from the server's strong random source (244 random bits), hashed to 32
                // bytes; gen_random_uuid() is in PostgreSQL 13 and later (older: no values are sent).
                try (Statement insert = c.createStatement()) {
                    insert.setQueryTimeout(seconds);
                    // pg_catalog named: on a server without the function (12 and older) a role that may create
                    // in public could have put one of its own there, returning a secret it knows (helper-81)
                    insert.executeUpdate("INSERT INTO " + seal + " (id, secret, created_at) SELECT 1,"
                            + " pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.gen_random_uuid()::text ||"
                            + " pg_catalog.gen_random_uuid()::text, 'UTF8')), " + dialect.now
                            + " ON CONFLICT (id) DO NOTHING");
                }
                secret = readSecret(s, seal); // this one's, or the process's that won the race
            }
            if (secret == null || secret.length < 16) throw new SQLException(seal + " holds no usable secret");
            sealSecret = sealKey == null ? secret : SealedValue.combine(sealKey, secret);
        } catch (SealCheckFailed e) {
            log.warn(
                    "once-cache: values are not sent with NOTIFY on {}: {}; waiters read them from the table",
                    table,
                    e.getMessage());
        } catch (SQLException e) {
            log.info(
                    "once-cache: values are not sent with NOTIFY on {} ({}); waiters read them from the table",
                    table,
                    e.getMessage());
        }
    }

    /**
     * Why the seal table (as this connection's search path resolves it) is not private to this role, or
     * null when it is: owned by this role, no privilege on it granted to another role or to PUBLIC, and no
     * role that may log in and cannot write the cache table able to learn or choose its secret (one that
     * can write the table can change its answers anyway, so it is not counted). The last catches what the
     * seal table's own grants do not show, each of which let a role forge answers that a waiting process
     * served: {@code pg_read_all_data} and a grant on the secret column alone (helper-80); a column grant of
     * UPDATE or INSERT, to set a secret of one's own, and the right to read the server's files, where the
     * table's heap holds the secret (helper-81). Also counted: REPLICATION roles (a base backup or logical
     * decoding reads every table) and members of {@code pg_read_server_files} and {@code
     * pg_execute_server_program}. Membership counts both ways, inherited or not (a role it may only SET
     * ROLE to): a NOINHERIT login that may become the cache's role writes the table. Each set of roles is
     * worked out once, so the check stays linear in the roles (a correlated form took 9 s for 3,300).
     */
    private static String notPrivate(Connection c, String seal, String table, int seconds) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("WITH s AS (SELECT to_regclass(?) AS seal, to_regclass(?) AS"
                + " cache), readers AS MATERIALIZED (SELECT g.oid FROM pg_catalog.pg_roles g, s WHERE"
                + " has_column_privilege(g.oid, s.seal, 'secret', 'SELECT, INSERT, UPDATE') OR g.rolname IN"
                + " ('pg_read_server_files', 'pg_execute_server_program') OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc"
                + " p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname IN ('pg_read_file',"
                + " 'pg_read_binary_file') AND has_function_privilege(g.oid, p.oid, 'EXECUTE'))), writers AS"
                + " MATERIALIZED (SELECT w.oid FROM pg_catalog.pg_roles w, s WHERE has_table_privilege(w.oid,"
                + " s.cache, 'UPDATE')) SELECT pg_get_userbyid(t.relowner), t.relowner = (SELECT oid FROM"
                + " pg_catalog.pg_roles WHERE rolname = current_user), (SELECT string_agg(DISTINCT CASE WHEN"
                + " a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, ', ') FROM aclexplode(t.relacl)"
                + " a WHERE a.grantee <> t.relowner), (SELECT string_agg(r.rolname, ', ' ORDER BY r.rolname) FROM"
                + " pg_catalog.pg_roles r WHERE r.rolcanlogin AND r.rolname <> current_user AND (r.rolreplication OR"
                + " EXISTS (SELECT 1 FROM readers g WHERE pg_has_role(r.oid, g.oid, 'MEMBER'))) AND NOT EXISTS"
                + " (SELECT 1 FROM writers w WHERE pg_has_role(r.oid, w.oid, 'MEMBER'))) FROM pg_catalog.pg_class t, s"
                + " WHERE t.oid = s.seal")) {
            ps.setQueryTimeout(seconds);
            ps.setString(1, seal);
            ps.setString(2, table);
            ResultSet checked;
            try {
                checked = ps.executeQuery();
            } catch (SQLException e) {
                // said at WARN with what was being done: at INFO, a check cut off by the store timeout (many
                // roles, a slow catalog) turned values off with a line most applications do not show
                throw new SealCheckFailed(
                        "could not check who can read " + seal + " within " + seconds + " s (" + e.getMessage() + ")",
                        e);
            }
            try (ResultSet rs = checked) {
                if (!rs.next()) throw new SQLException(seal + " does not exist");
                if (!rs.getBoolean(2)) return seal + " is owned by " + rs.getString(1) + ", not by this role";
                String others = rs.getString(3);
                if (others != null) return seal + " is granted to " + others + " (REVOKE ALL ON " + seal + " FROM ...)";
                String readers = rs.getString(4);
                return readers == null
                        ? null
                        : seal + "'s secret can be read or set by " + readers + ", who may not write " + table
                                + " (pg_read_all_data, a grant on its column, REPLICATION, reading the server's files,"
                                + " or a role they belong to)";
            }
        }
    }

    /** The seal table's privacy could not be checked: values are not sent, said at WARN. */
    private static final class SealCheckFailed extends SQLException {
        SealCheckFailed(String message, SQLException cause) {
            super(message, cause.getSQLState(), cause);
        }
    }

    private static byte[] readSecret(Statement s, String seal) throws SQLException {
        try (ResultSet rs = s.executeQuery("SELECT secret FROM " + seal + " WHERE id = 1")) {
            return rs.next() ? rs.getBytes(1) : null;
        }
    }

    /**
     * MariaDB: refuses a table whose {@code namespace} column compares case- or accent-insensitively (the
     * database's default collation, where a table is made without the shipped DDL's {@code COLLATE
     * utf8mb4_bin}): namespaces "Quotes" and "quotes" would share rows, each cache answering with the
     * other's values. Binary ({@code _bin}) and accent- and case-sensitive ({@code _as_cs}) collations are
     * kept; their padding of trailing spaces is harmless, as namespaces cannot end with one.
     */
    void refuseNamespaceIgnoringCase() throws SQLException {
        if (dialect != StoreDialect.MARIADB) return;
        try (Connection c = connection();
                PreparedStatement ps = c.prepareStatement("SELECT COLLATION_NAME FROM information_schema.COLUMNS"
                        + " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'namespace'")) {
            ps.setQueryTimeout(timeoutSeconds());
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                String collation = rs.next() ? rs.getString(1) : null;
                if (collation == null) return; // not found as named here; nothing to judge
                String name = collation.toLowerCase(java.util.Locale.ROOT);
                if (name.endsWith("_bin") || name.contains("_as_cs")) return;
                throw new SQLException("once-cache: the namespace column of " + table + " has collation " + collation
                        + ", which compares namespaces ignoring case or accents: caches of namespaces such as"
                        + " 'Quotes' and 'quotes' would answer with each other's values. Fix it with: ALTER TABLE "
                        + table + " MODIFY namespace VARCHAR(200) COLLATE utf8mb4_bin NOT NULL");
            }
        }
    }

    /**
     * MariaDB and MySQL: the largest value one statement can carry within the server's {@code
     * max_allowed_packet}, or {@link Integer#MAX_VALUE} where there is no such limit or it cannot be read.
     * A larger statement is refused by the server closing the connection, which looks like an outage: it
     * opened the breaker for every key. Half the packet, less room for the rest of the statement: the
     * driver sends a value escaped in the statement's text, where a quote or a backslash takes two bytes
     * (a JSON answer has many).
     */
    int largestStorableValue() {
        if (dialect != StoreDialect.MARIADB) return Integer.MAX_VALUE;
        try (Connection c = connection();
                Statement s = c.createStatement()) {
            s.setQueryTimeout(timeoutSeconds());
            // the smaller of the server's (new connections) and this connection's own: a lowered packet applies
            // to connections made after it, and the pool holds both kinds
            try (ResultSet rs =
                    s.executeQuery("SELECT LEAST(@@global.max_allowed_packet, @@session.max_allowed_packet)")) {
                if (!rs.next()) return Integer.MAX_VALUE;
                long packet = rs.getLong(1);
                return (int) Math.max(1, Math.min(Integer.MAX_VALUE, (packet - STATEMENT_ROOM) / 2));
            }
        } catch (SQLException e) {
            log.debug("could not read max_allowed_packet", e);
            return Integer.MAX_VALUE;
        }
    }

    /** Room in a statement for all but its value: the namespace, the key's text, the error, the SQL. */
    private static final int STATEMENT_ROOM = 64 * 1024;

    /**
     * Warns of indexes on the table (PostgreSQL) led by {@code namespace}, other than the primary key and
     * the shipped partial ones, such as the {@code (namespace, expires_at)} index of earlier snapshots'
     * DDL. With statistics missing or stale, the planner may cost such an index like the primary key for
     * a lookup by key (an INCLUDE column, a predicate the lookup implies, another collation all leave it
     * looking usable), and a generic plan that chose it reads the whole namespace for every statement,
     * for as long as the connection lives. Says nothing when the check itself fails.
     */
    void warnOfNamespaceLedIndexes() {
        if (dialect != StoreDialect.POSTGRES) return;
        int seconds = timeoutSeconds();
        try (Connection c = connection();
                PreparedStatement ps = c.prepareStatement("SELECT string_agg(i.relname, ', ' ORDER BY i.relname)"
                        + " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
                        + " JOIN pg_attribute a0 ON a0.attrelid = x.indrelid AND a0.attnum = x.indkey[0]"
                        + " WHERE x.indrelid = to_regclass(?) AND a0.attname = 'namespace' AND NOT x.indisprimary"
                        + " AND i.relname NOT IN (?, ?)")) {
            ps.setQueryTimeout(seconds);
            ps.setString(1, table);
            ps.setString(2, (table + "_expiry").toLowerCase(java.util.Locale.ROOT));
            ps.setString(3, (table + "_released").toLowerCase(java.util.Locale.ROOT));
            try (ResultSet rs = ps.executeQuery()) {
                String names = rs.next() ? rs.getString(1) : null;
                if (names != null)
                    log.warn(
                            "once-cache: {} has an index led by namespace other than the primary key and the shipped"
                                    + " ones: {}. With statistics missing or stale, PostgreSQL may find keys through it"
                                    + " and read the whole namespace for every lookup; drop it unless you need it (the"
                                    + " shipped ones are partial: docs/once-cache.md, \"Failure modes\")",
                            table,
                            names);
            }
        } catch (SQLException e) {
            log.debug("could not check the indexes of {}", table, e);
        }
    }

    /**
     * PostgreSQL, where autovacuum will not analyze the table (off on the server or for the table):
     * analyzes it once it changed by more than autovacuum's own threshold (50 rows and 10%) since its
     * last analysis. Generic plans made while the table was small (a seq scan is then cheapest) are kept
     * by the connections until an ANALYZE invalidates them: grown a thousandfold, every lookup read the
     * whole table. Run by the janitor; says nothing when not allowed (not the table's owner).
     */
    void analyzeIfStale() {
        if (dialect != StoreDialect.POSTGRES) return;
        int seconds = timeoutSeconds();
        try (Connection c = connection();
                PreparedStatement ps =
                        c.prepareStatement("SELECT s.n_mod_since_analyze > 50 + 0.1 * greatest(t.reltuples,"
                                + " 0) AND (current_setting('autovacuum') = 'off' OR coalesce(array_to_string(t.reloptions,"
                                + " ',') ~* 'autovacuum_enabled=(false|off|no|0)', false)) FROM pg_class t JOIN"
                                + " pg_stat_user_tables s ON s.relid = t.oid WHERE t.oid = to_regclass(?)")) {
            ps.setQueryTimeout(seconds);
            ps.setString(1, table);
            boolean stale;
            try (ResultSet rs = ps.executeQuery()) {
                stale = rs.next() && rs.getBoolean(1);
            }
            if (!stale) return;
            try (Statement s = c.createStatement()) {
                s.setQueryTimeout(Math.max(seconds, 30));
                s.execute("ANALYZE " + table);
            }
            log.debug("once-cache analyzed {} (autovacuum will not)", table);
        } catch (SQLException e) {
            log.debug("once-cache could not analyze {}", table, e);
        }
    }

    /** How long after this process made the table again a failure on a missing table retries without DDL. */
    private static final long TABLE_MADE_NANOS = 100_000_000L;

    private final java.util.concurrent.locks.ReentrantLock tableMaking = new java.util.concurrent.locks.ReentrantLock();
    private long tableMadeAt = System.nanoTime() - 2 * TABLE_MADE_NANOS;

    /**
     * After a statement failed: when the database said the table does not exist (dropped, or the
     * database restored without it), makes it again from the shipped DDL ({@code IF NOT EXISTS}: another
     * process may have made it first) and returns true, so that the statement runs once more. Callers
     * failing together wait for the one making it and then retry. A first version looked in the catalog
     * instead: a replica that found the table already made by another gave up (502s, helper-59), and a
     * table of the same name in another schema passed for the cache's own, which was never made again.
     */
    boolean madeAgainIfGone(SQLException failure) {
        if (!dialect.missingTable(failure)) return false;
        tableMaking.lock();
        try {
            if (System.nanoTime() - tableMadeAt < TABLE_MADE_NANOS) return true; // made while this caller waited
            createTableIfAbsent();
            tableMadeAt = System.nanoTime();
            log.warn(
                    "once-cache: the cache table {} was gone (dropped, or the database restored without it); made"
                            + " it again (or found it made by another process), what it held is lost",
                    table);
            return true;
        } catch (SQLException | RuntimeException e) {
            log.debug("once-cache: could not make the cache table {} again", table, e);
            return false;
        } finally {
            tableMaking.unlock();
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
