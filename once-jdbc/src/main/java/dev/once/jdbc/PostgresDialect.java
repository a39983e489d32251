package dev.once.jdbc;

import java.sql.SQLException;

final class PostgresDialect extends Dialect {

    @Override
    String name() {
        return "PostgreSQL";
    }

    @Override
    Failure classify(SQLException e) {
        String state = e.getSQLState();
        if (state == null) return Failure.OTHER;
        return switch (state) {
            case "23505" -> Failure.UNIQUE_VIOLATION;
            case "40001" -> Failure.SERIALIZATION;
            case "40P01" -> Failure.DEADLOCK;
            case "55P03" -> Failure.LOCK_TIMEOUT;
            // the server is shutting down, crashed, or not yet accepting connections
            case "57P01", "57P02", "57P03" -> Failure.CONNECTION;
            default -> Failure.OTHER;
        };
    }

    @Override
    String differs(String existingColumn, String incomingColumn) {
        return existingColumn + " IS DISTINCT FROM " + incomingColumn;
    }

    @Override
    boolean insertsInWith() {
        return true;
    }

    @Override
    String rowLock() {
        return " FOR UPDATE";
    }
}
