-- once-cache table for PostgreSQL. once-cache creates it on first use unless told not to
-- (createTable(false)); apply this file with your migrations instead if your DBA prefers.
CREATE TABLE IF NOT EXISTS once_entry (
    namespace   VARCHAR(200) NOT NULL,
    key_hash    CHAR(64)     NOT NULL,  -- SHA-256 of the key, hex
    key_text    TEXT         NOT NULL,
    state       SMALLINT     NOT NULL,  -- 0 nothing stored, 1 value, 2 cached failure
    value       BYTEA,
    error       TEXT,
    expires_at  BIGINT,                 -- epoch ms, database clock
    lease_owner VARCHAR(80),            -- the leader's claim token, NULL when free
    lease_until BIGINT,                 -- epoch ms, database clock
    updated_at  BIGINT       NOT NULL,
    PRIMARY KEY (namespace, key_hash)
);
-- For the janitor: rows with an expiry, and rows released without a value. Partial, so that no lookup by
-- (namespace, key_hash) can use them: on a table without statistics (new, or never analyzed) a full
-- (namespace, expires_at) index cost the planner as much as the primary key for such a lookup, and a
-- plan that chose it read the whole namespace for every key.
CREATE INDEX IF NOT EXISTS once_entry_expiry ON once_entry (namespace, expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS once_entry_released ON once_entry (namespace, updated_at) WHERE expires_at IS NULL;
-- The secret that seals values sent with NOTIFY (notifyValues). Readable by the cache's own role
-- only: whoever can read it could seal a value for a load in progress. Grant it to no one.
CREATE TABLE IF NOT EXISTS once_entry_seal (
    id         SMALLINT PRIMARY KEY,
    secret     BYTEA    NOT NULL,       -- 32 random bytes, written by the first process
    created_at BIGINT   NOT NULL        -- epoch ms
);
