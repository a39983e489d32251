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
     * Classifies a failure to start work on a database, before its dialect is known: UNREACHABLE when no
     * connection could be had or the server cannot take one yet, which waiting may mend (SQLState class 08;
     * PostgreSQL starting up, shutting down or in recovery, 57P01 to 57P03; too many connections, class
     * 53; a driver's or pool's timeout; a socket's error; a host name not found), OTHER when the server
     * answered and refused (a login refused, class 28; no such database, 3D000 or MariaDB's 1049; access
     * to it denied, MariaDB's 1044; the connection rejected, 08004, as pgjdbc says of SSL required where
     * the server has none) or for anything else (a statement that failed on a connection had).
     * The whole chain is read: a pool's timeout carries the server's refusal as its cause.
     *
     * @param t the failure, SQL or wrapping one
     * @return UNREACHABLE or OTHER
     */
    public static Kind connecting(Throwable t) {
        boolean unreachable = false;
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof SQLException sql) {
                for (SQLException n = sql; n != null; n = n.getNextException()) {
                    String state = n.getSQLState() == null ? "" : n.getSQLState();
                    // 08004: the server rejected the connection (pgjdbc: SSL required where the server has
                    // none), which waiting does not mend
                    if (state.startsWith("28") || state.startsWith("3D") || state.equals("08004")) return Kind.OTHER;
                    // no such database or no access to it (MariaDB 1049, 1044), or a TLS set-up the server
                    // refuses (MariaDB: mysql_native_password over a self-signed certificate)
                    if (state.startsWith("42")) return Kind.OTHER;
                    // MariaDB's driver asked for TLS (sslMode) by a server without it: the server answered,
                    // with a connection id, and will answer the same until it is reconfigured (08000 alone
                    // was taken for an outage, and once serve waited for it forever)
                    if (state.startsWith("08") && sslNotEnabled(n.getMessage())) return Kind.OTHER;
                    unreachable |= Dialect.connectionLost(n)
                            || state.startsWith("53")
                            || state.equals("57P01")
                            || state.equals("57P02")
                            || state.equals("57P03");
                }
            }
            // a certificate the driver refuses to trust (verify-full against an unknown CA or another host name)
            if (c instanceof java.security.cert.CertificateException) return Kind.OTHER;
            unreachable |= c instanceof java.net.SocketException
                    || c instanceof java.net.SocketTimeoutException
                    || c instanceof java.net.UnknownHostException;
        }
        return unreachable ? Kind.UNREACHABLE : Kind.OTHER;
    }

    private static boolean sslNotEnabled(String message) {
        return message != null && message.toLowerCase(java.util.Locale.ROOT).contains("ssl not enabled in the server");
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
