package dev.once.jdbc;

/** What an upsert did to one row. */
public enum UpsertOutcome {
    /** No row had the key: the row was inserted. */
    INSERTED,
    /** A row had the key and was updated with the incoming values. */
    UPDATED,
    /** A row had the key and was left as it was (do-nothing, or the update's condition was false). */
    UNCHANGED
}
