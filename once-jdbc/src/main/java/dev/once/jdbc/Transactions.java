package dev.once.jdbc;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;

/**
 * Runs a unit of work on a connection, in one of two ownerships.
 *
 * <p><b>Once owns the transaction</b> when the connection is in auto-commit mode: the unit runs in
 * auto-commit (each statement atomic on its own), or in a transaction Once begins and commits when it
 * needs several statements to be one. A serialization failure, a deadlock, a lock timeout or a
 * conflict with a row the snapshot could not see is retried with a fresh transaction, a bounded number
 * of times with jittered backoff.
 *
 * <p><b>The caller owns the transaction</b> when auto-commit is off: Once never commits or rolls it
 * back. Each write that may fail runs under its own savepoint, so a failure rolls back only that write
 * and the caller's transaction stays usable. A conflict the caller's snapshot cannot resolve becomes a
 * {@link SnapshotConflictException}: only the caller can retry its whole transaction.
 */
final class Transactions {
    interface Work<T> {
        T run(Connection c, boolean callerOwned) throws SQLException;
    }

    interface Write<T> {
        T run() throws SQLException;
    }

    private final Dialect dialect;
    private final RetryPolicy retry;

    Transactions(Dialect dialect, RetryPolicy retry) {
        this.dialect = dialect;
        this.retry = retry;
    }

    /**
     * @param isolation the isolation level Once's own transaction runs at, or -1 for the connection's
     */
    <T> T run(Connection c, String what, boolean needsTransaction, int isolation, Work<T> work) throws SQLException {
        if (!c.getAutoCommit()) {
            try {
                return work.run(c, true);
            } catch (SnapshotConflictException e) {
                throw e;
            } catch (SQLException e) {
                if (dialect.classifyChain(e) != Dialect.Failure.SERIALIZATION) throw e;
                throw snapshotConflict(what, e);
            }
        }
        for (int attempt = 1; ; attempt++) {
            try {
                return needsTransaction ? inTransaction(c, isolation, work) : work.run(c, false);
            } catch (SQLException e) {
                boolean retryable = e instanceof SnapshotConflictException
                        || dialect.classifyChain(e).transientFailure();
                if (!retryable || attempt >= retry.maxAttempts()) throw e;
                retry.sleep(attempt);
            }
        }
    }

    private static <T> T inTransaction(Connection c, int isolation, Work<T> work) throws SQLException {
        int previous = c.getTransactionIsolation();
        boolean changeIsolation = isolation >= 0 && isolation != previous;
        if (changeIsolation) c.setTransactionIsolation(isolation);
        c.setAutoCommit(false);
        try {
            T result = work.run(c, false);
            c.commit();
            return result;
        } catch (SQLException | RuntimeException | Error e) {
            try {
                c.rollback();
            } catch (SQLException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        } finally {
            c.setAutoCommit(true);
            if (changeIsolation) c.setTransactionIsolation(previous);
        }
    }

    /** Runs one write under a savepoint when the caller owns the transaction. */
    static <T> T guarded(Connection c, boolean callerOwned, Write<T> write) throws SQLException {
        if (!callerOwned) return write.run();
        Savepoint savepoint = c.setSavepoint();
        T result;
        try {
            result = write.run();
        } catch (SQLException | RuntimeException e) {
            try {
                c.rollback(savepoint);
            } catch (SQLException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        c.releaseSavepoint(savepoint);
        return result;
    }

    static SnapshotConflictException snapshotConflict(String what, Throwable cause) {
        return new SnapshotConflictException(
                what + " conflicts with a row committed after this transaction's"
                        + " snapshot was taken (REPEATABLE READ or SERIALIZABLE): the row can neither be inserted nor"
                        + " seen. Roll back and run the transaction again, or call Once outside a transaction and it"
                        + " retries by itself.",
                cause);
    }
}
