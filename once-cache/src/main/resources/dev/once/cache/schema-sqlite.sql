-- once-cache table for SQLite. once-cache creates it on first use unless told not to
-- (createTable(false)); apply this file with your migrations instead if you prefer.
CREATE TABLE IF NOT EXISTS once_entry (
    namespace   TEXT    NOT NULL,
    key_hash    TEXT    NOT NULL,  -- SHA-256 of the key, hex
    key_text    TEXT    NOT NULL,
    state       INTEGER NOT NULL,  -- 0 nothing stored, 1 value, 2 cached failure
    value       BLOB,
    error       TEXT,
    expires_at  INTEGER,           -- epoch ms, database clock
    lease_owner TEXT,              -- the leader's claim token, NULL when free
    lease_until INTEGER,           -- epoch ms, database clock
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (namespace, key_hash)
);
CREATE INDEX IF NOT EXISTS once_entry_expires ON once_entry (namespace, expires_at);
