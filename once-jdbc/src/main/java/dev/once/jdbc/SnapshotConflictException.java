package dev.once.jdbc;

import java.sql.SQLException;

/**
 * The row Once needs was committed by another transaction after the caller's transaction took its
 * snapshot (REPEATABLE READ or SERIALIZABLE), so it can be neither inserted nor seen. Once retries such
 * conflicts itself when it owns the transaction; inside a caller's transaction only the caller can: roll
 * back and run the whole transaction again. The SQLState is 40001, which retry frameworks treat as transient.
 */
public final class SnapshotConflictException extends SQLException {
    SnapshotConflictException(String message, Throwable cause) {
        super(message, "40001", cause);
    }
}
