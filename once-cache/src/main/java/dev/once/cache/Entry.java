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

    private static final String ROUND = "round ";

    /**
     * A released row's error, numbered: the leader that fails round {@code round} writes it, and a waiter
     * that reads it knows how many leaders in a row have failed, in whichever processes, whatever the text.
     */
    static String failedRound(int round, String error) {
        return ROUND + round + ": " + error;
    }

    /** How many leaders in a row failed before this row was released; 0 when none did (a shutdown, a crash). */
    int failedRound() {
        if (error == null || !error.startsWith(ROUND)) return 0;
        int colon = error.indexOf(": ", ROUND.length());
        try {
            return colon < 0 ? 0 : Integer.parseInt(error.substring(ROUND.length(), colon));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** The error without its round number. */
    String failure() {
        return failedRound() == 0 ? error : error.substring(error.indexOf(": ") + 2);
    }
}
