package dev.once.jdbc;

import java.sql.SQLException;

final class MariaDbDialect extends Dialect {
    private static final int DUPLICATE_ENTRY = 1062;
    private static final int DUPLICATE_KEY = 1586;
    private static final int LOCK_WAIT_TIMEOUT = 1205;
    private static final int DEADLOCK = 1213;
    private static final int RECORD_CHANGED = 1020; // innodb_snapshot_isolation (MariaDB 11.6+)

    @Override
    String name() {
        return "MariaDB";
    }

    @Override
    Failure classify(SQLException e) {
        return switch (e.getErrorCode()) {
            case DUPLICATE_ENTRY, DUPLICATE_KEY -> Failure.UNIQUE_VIOLATION;
            case DEADLOCK -> Failure.DEADLOCK;
            case LOCK_WAIT_TIMEOUT -> Failure.LOCK_TIMEOUT;
            case RECORD_CHANGED -> Failure.SERIALIZATION;
            default -> "40001".equals(e.getSQLState()) ? Failure.SERIALIZATION : Failure.OTHER;
        };
    }

    @Override
    String quote(String identifier) {
        return '`' + identifier + '`';
    }

    @Override
    boolean columnNamesIgnoreCase() {
        return true;
    }

    @Override
    boolean hasTargetedConflictClause() {
        return false;
    }

    @Override
    String latestRowLock() {
        // InnoDB's locking reads see the latest committed row even at REPEATABLE READ.
        return " LOCK IN SHARE MODE";
    }

    @Override
    boolean updateReturns() {
        return false;
    }

    @Override
    String differs(String existingColumn, String incomingColumn) {
        return "NOT (" + existingColumn + " <=> " + incomingColumn + ")";
    }

    @Override
    String rowLock() {
        return " FOR UPDATE";
    }

    @Override
    boolean schemasAreCatalogs() {
        return true;
    }
}
