package dev.once.jdbc;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * What a database error means to code that reacts to it itself, classified by SQLState and vendor
 * code with the same dialects Once uses for its own retries (never by message text). once-cache uses it
 * to tell a database outage from a conflict worth retrying and from a plain error.
 */
public final class SqlErrors {
    /** The kinds of failure, from the caller's point of view. */
    public enum Kind {
        /**
         * The connection was lost, refused or not had in time (SQLState class 08, the JDBC connection
         * and timeout exception types, PostgreSQL's shutdown codes): the database is unreachable.
         */
        UNREACHABLE,
        /** A serialization failure, deadlock, lock timeout or busy database: running it again may succeed. */
        TRANSIENT,
        /** Anything else: the statement itself failed (a missing table, a constraint, a syntax error). */
        OTHER
    }

    private final Dialect dialect;

    private SqlErrors(Dialect dialect) {
        this.dialect = dialect;
    }

    /**
     * The classification for the database this connection talks to.
     *
     * @param connection a connection to the database, left open
     * @return the classifier for its dialect
     * @throws SQLException when the connection's metadata cannot be read
     */
    public static SqlErrors of(Connection connection) throws SQLException {
        return new SqlErrors(Dialect.of(connection));
    }

    /**
     * Classifies a failure to connect, before the database's dialect is known: UNREACHABLE when no
     * connection could be had (SQLState class 08, a driver's or pool's timeout, a socket's error, a host
     * name not found), which waiting may mend; OTHER when the server answered and refused (class 28, a
     * login refused; 3D, no such database) or for anything else.
     *
     * @param t the failure, SQL or wrapping one
     * @return UNREACHABLE or OTHER
     */
    public static Kind connecting(Throwable t) {
        boolean unreachable = false;
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof SQLException sql) {
                for (SQLException n = sql; n != null; n = n.getNextException()) {
                    String state = n.getSQLState();
                    if (state != null && (state.startsWith("28") || state.startsWith("3D"))) return Kind.OTHER;
                    unreachable |= Dialect.connectionLost(n);
                }
            }
            unreachable |= c instanceof java.net.SocketException
                    || c instanceof java.net.SocketTimeoutException
                    || c instanceof java.net.UnknownHostException;
        }
        return unreachable ? Kind.UNREACHABLE : Kind.OTHER;
    }

    /**
     * Classifies the first SQL exception in the chain (causes and next exceptions) that says something.
     *
     * @param t any error, SQL or wrapping one
     * @return what kind of failure it is
     */
    public Kind classify(Throwable t) {
        Dialect.Failure f = dialect.classifyChain(t);
        if (f == Dialect.Failure.CONNECTION) return Kind.UNREACHABLE;
        return f.transientFailure() ? Kind.TRANSIENT : Kind.OTHER;
    }
}
