package dev.once.jdbc;

import java.sql.SQLException;

/**
 * No unique index or constraint covers the columns an operation is keyed by, so concurrent callers
 * could insert duplicates. Once refuses instead of writing them; the message names the constraint to add.
 */
public final class NotAtomicException extends SQLException {
    NotAtomicException(String message) {
        super(message, "42P10");
    }
}
