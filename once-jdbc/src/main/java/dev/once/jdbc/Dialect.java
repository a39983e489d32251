package dev.once.jdbc;

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLTimeoutException;
import java.sql.SQLTransientConnectionException;
import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * What differs between databases: how statements are written and how errors are classified.
 * Errors are classified by SQLState and vendor code only, never by message text.
 */
abstract class Dialect {

    /** The kinds of failure Once reacts to. */
    enum Failure {
        UNIQUE_VIOLATION,
        SERIALIZATION,
        DEADLOCK,
        LOCK_TIMEOUT,
        /** The connection was lost, refused or timed out: the database is unreachable, not the statement wrong. */
        CONNECTION,
        OTHER;

        boolean transientFailure() {
            return this == SERIALIZATION || this == DEADLOCK || this == LOCK_TIMEOUT;
        }
    }

    static Dialect of(Connection connection) throws SQLException {
        DatabaseMetaData meta = connection.getMetaData();
        String product = meta.getDatabaseProductName().toLowerCase(Locale.ROOT);
        if (product.contains("postgres")) return new PostgresDialect();
        if (product.contains("sqlite")) return new SqliteDialect();
        if (product.contains("mariadb")
                || (product.contains("mysql")
                        && meta.getDatabaseProductVersion()
                                .toLowerCase(Locale.ROOT)
                                .contains("mariadb"))) {
            return new MariaDbDialect();
        }
        throw new SQLException("Once does not support " + meta.getDatabaseProductName() + " "
                + meta.getDatabaseProductVersion() + " yet; supported: PostgreSQL, MariaDB, SQLite");
    }

    abstract String name();

    abstract Failure classify(SQLException e);

    /**
     * A unique violation Once explains itself, classified as this database's own (PostgreSQL 23505,
     * MariaDB 1062, SQLite SQLITE_CONSTRAINT_UNIQUE), with the database's error as its cause when there was one.
     */
    SQLException uniqueViolation(String message, SQLException cause) {
        return new SQLException(message, "23505", 0, cause);
    }

    /** Classifies the first exception in the chain (causes and next exceptions) that is not OTHER. */
    final Failure classifyChain(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof SQLException sql) {
                for (SQLException n = sql; n != null; n = n.getNextException()) {
                    Failure f = classify(n);
                    if (f == Failure.OTHER && connectionLost(n)) f = Failure.CONNECTION;
                    if (f != Failure.OTHER) return f;
                }
            }
        }
        return Failure.OTHER;
    }

    /**
     * SQLState class 08 (connection exception) or the JDBC types for a lost connection or a timeout,
     * which is how pools report that no connection came in time (HikariCP's {@code
     * SQLTransientConnectionException}).
     */
    static boolean connectionLost(SQLException e) {
        String state = e.getSQLState();
        return (state != null && state.startsWith("08"))
                || e instanceof SQLTransientConnectionException
                || e instanceof SQLNonTransientConnectionException
                || e instanceof SQLTimeoutException;
    }

    /** How an insert begins: "INSERT INTO ". */
    String insertInto() {
        return "INSERT INTO ";
    }

    /** How an update begins: "UPDATE ". */
    String update() {
        return "UPDATE ";
    }

    /** Quotes a validated identifier (the SQL standard's double quotes, where the database follows it). */
    String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"'; // a quote inside a name is written twice
    }

    /**
     * Whether a quoted column name matches a column spelled in another case (MariaDB and SQLite: yes;
     * PostgreSQL: no, {@code "item"} and {@code "ITEM"} are two columns).
     */
    boolean columnNamesIgnoreCase() {
        return false;
    }

    /**
     * True when a conflicting row can be found with a single conflict-free statement: {@code INSERT ...
     * ON CONFLICT (target) DO NOTHING RETURNING *}. MariaDB has no conflict target, so it inserts plainly
     * and catches the duplicate-key error instead (which keeps conflicts on other keys visible).
     */
    boolean hasTargetedConflictClause() {
        return true;
    }

    /**
     * Locking clause that makes a SELECT read the latest committed row, or "" where reads already do
     * (PostgreSQL at READ COMMITTED; at REPEATABLE READ its insert raises a serialization failure
     * instead, and SQLite has one writer at a time).
     */
    String latestRowLock() {
        return "";
    }

    /**
     * Whether an {@code INSERT} can run inside a {@code WITH} query, so a read and a conditional insert
     * are one statement and one round trip (PostgreSQL).
     */
    boolean insertsInWith() {
        return false;
    }

    /** Whether {@code UPDATE ... RETURNING} exists. */
    boolean updateReturns() {
        return true;
    }

    /** Largest number of bind parameters Once puts in one statement. */
    int maxParameters() {
        return 32_000;
    }

    /**
     * A predicate that is true when the existing and incoming values of the column differ, byte for byte
     * for text: a value differing only in case or trailing spaces is a change to write, even where the
     * column's collation calls the two equal.
     */
    abstract String differs(String existingColumn, String incomingColumn, boolean text);

    /** Whether JDBC metadata calls a schema a catalog (MariaDB/MySQL: a database is a catalog). */
    boolean schemasAreCatalogs() {
        return false;
    }

    /** Clause that locks the rows a SELECT reads until the transaction ends ("" where the database locks whole files). */
    abstract String rowLock();

    /**
     * The incoming rows as a query with the columns {@code once_ord, columns...}, binding each row's
     * ordinal and then its values, {@code count} rows: the database, not Java, then matches them to
     * stored rows and to each other, by the columns' own equality (collation, char padding, type).
     * Here (MariaDB): {@code SELECT ? AS once_ord, ? AS a UNION ALL SELECT ?, ? ...}, each value as
     * {@link TableInfo#typed} converts it (a FLOAT's or a BINARY(n)'s).
     */
    String incomingRows(TableInfo t, List<String> columns, int count) {
        StringJoiner union = new StringJoiner(" UNION ALL ");
        for (int i = 0; i < count; i++) {
            StringJoiner select = new StringJoiner(", ", "SELECT ", "");
            select.add(i == 0 ? "? AS once_ord" : "?");
            for (String col : columns) select.add(t.typed(col, "?") + (i == 0 ? " AS " + quote(col) : ""));
            union.add(select.toString());
        }
        return union.toString();
    }

    /**
     * The incoming key values as {@link #incomingRows} numbers them, each in the collation its column compares
     * it in, to partition by: here those of {@code incomingRows} (which casts them, or takes the table's).
     */
    String incomingKeys(TableInfo t, List<String> key, int count) {
        return incomingRows(t, key, count);
    }

    /**
     * How an incoming value is converted to compare as its column does: {@code CAST(value AS type)}, in
     * the column's collation ({@code " COLLATE c"}, or "" for none).
     */
    record Cast(String type, String collation) {
        /** {@code CAST(value AS type)}, without the collation. */
        String of(String value) {
            return "CAST(" + value + " AS " + type + ")";
        }
    }

    /** For each column whose incoming values must be converted to compare as the column does, its cast; empty where values compare as bound. */
    java.util.Map<String, Cast> valueCasts(Connection c, TableInfo.Name name) throws SQLException {
        return java.util.Map.of();
    }

    /**
     * For each column that a unique index compares in another collation than the column's own (PostgreSQL
     * {@code CREATE UNIQUE INDEX ON t (item COLLATE ci)}), {@code " COLLATE ci"}: ON CONFLICT decides by the
     * index, so a batch upsert merges and matches its rows by it too.
     */
    java.util.Map<String, String> keyCollations(Connection c, TableInfo.Name name) throws SQLException {
        return java.util.Map.of();
    }

    /**
     * Whether the table has triggers (or, on PostgreSQL, rules), which may store another value than the one
     * a statement writes: a guarded batch then cannot take the last passing row's value for what is stored
     * (helper-69: a trigger setting {@code v := v * 10} made the batch write over a row one call per row
     * left alone). Unknown is true.
     */
    boolean rewritesWrites(Connection c, TableInfo.Name name) throws SQLException {
        return true;
    }

    String columnList(List<String> columns) {
        StringJoiner j = new StringJoiner(", ");
        for (String c : columns) j.add(quote(c));
        return j.toString();
    }

    /**
     * Reads the unique keys (primary key, unique constraints, plain unique indexes) of a table; keys
     * that cannot serve as a conflict target (partial or expression indexes) are left out. Read from the
     * database's catalog: JDBC metadata tells none of prefix, deferrable or invalid indexes apart.
     */
    abstract List<List<String>> uniqueKeys(Connection c, TableInfo.Name name, List<String> columns) throws SQLException;
}
