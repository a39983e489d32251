package dev.once.jdbc.testing;

/** The databases every behaviour is tested on. */
public enum Db {
    POSTGRES,
    MARIADB,
    SQLITE;

    /** An auto-generated primary key column, in this database's DDL. */
    public String idColumn() {
        return switch (this) {
            case POSTGRES -> "id BIGSERIAL PRIMARY KEY";
            case MARIADB -> "id BIGINT AUTO_INCREMENT PRIMARY KEY";
            case SQLITE -> "id INTEGER PRIMARY KEY AUTOINCREMENT";
        };
    }

    public boolean hasPartialIndexes() {
        return this != MARIADB;
    }
}
