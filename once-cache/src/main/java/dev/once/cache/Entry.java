package dev.once.cache;

/**
 * One row of the cache table as read, with the database's clock at the moment of the read.
 *
 * @param state 0 nothing stored yet (claimed or released), 1 a value, 2 a cached failure, 3 pass-through
 * @param expiresAt when the value or failure stops being fresh, epoch ms, database clock
 * @param leaseUntil when the current leader's lease lapses, or 0 when nobody holds one
 */
record Entry(int state, byte[] value, String error, long expiresAt, String leaseOwner, long leaseUntil, long now) {
    static final int EMPTY = 0;
    static final int READY = 1;
    static final int FAILED = 2;
    static final int PASS = 3;

    boolean fresh() {
        return state != EMPTY && expiresAt > now;
    }

    boolean leased() {
        return leaseOwner != null && leaseUntil > now;
    }

    /** No one may serve it and no one is producing it: the state in which a claim succeeds. */
    boolean claimable() {
        return !leased() && !fresh();
    }

    long remainingMillis() {
        return expiresAt - now;
    }
}
