package dev.once.jdbc;

import static dev.once.jdbc.testing.TestDatabases.count;
import static dev.once.jdbc.testing.TestDatabases.execute;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.SQLException;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Which indexes count as making a key atomic, and which column a caller's name means. */
class UniqueKeyTest {

    private static Once once(Db db) {
        return Once.using(GetOrCreateTest.pool(db));
    }

    /** Security test F1: a unique index on item made getOrCreate on "ITEM" look atomic (106 rows for 30 keys). */
    @Test
    void getOrCreate_postgresColumnsDifferingOnlyInCase_indexCoversOnlyItsOwnColumn() throws SQLException {
        Db db = Db.POSTGRES;
        String lowerUnique = TestDatabases.newTable("cases");
        String upperUnique = TestDatabases.newTable("cases");
        execute(
                db,
                "CREATE TABLE " + lowerUnique + " (item TEXT UNIQUE, \"ITEM\" TEXT, val TEXT)",
                "CREATE TABLE " + upperUnique + " (item TEXT, \"ITEM\" TEXT UNIQUE, val TEXT)");

        assertThatThrownBy(() -> once(db).getOrCreate(lowerUnique, Map.of("ITEM", "a"), Map.of()))
                .isInstanceOf(NotAtomicException.class)
                .hasMessageContaining("no unique index covers (ITEM)");
        assertThatThrownBy(() -> once(db).getOrCreate(upperUnique, Map.of("item", "a"), Map.of()))
                .isInstanceOf(NotAtomicException.class)
                .hasMessageContaining("no unique index covers (item)");
        assertThatThrownBy(() -> once(db).upsert(
                                upperUnique,
                                Map.of("item", "a"),
                                Upsert.on("item").doNothing()))
                .isInstanceOf(NotAtomicException.class);
        assertThatThrownBy(() -> once(db).getOrCreate(lowerUnique, Map.of("Item", "a"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("columns item and ITEM, which differ only in case");

        assertThat(once(db).getOrCreate(lowerUnique, Map.of("item", "a"), Map.of("ITEM", "x", "val", "1"))
                        .created())
                .isTrue();
        GetOrCreateResult again = once(db).getOrCreate(upperUnique, Map.of("ITEM", "a"), Map.of("item", "y"));
        assertThat(again.created()).isTrue();
        assertThat(again.get("item")).isEqualTo("y");
        assertThat(once(db).getOrCreate(upperUnique, Map.of("ITEM", "a"), Map.of())
                        .created())
                .isFalse();
        assertThat(count(db, "SELECT COUNT(*) FROM " + lowerUnique)).isEqualTo(1);
        assertThat(count(db, "SELECT COUNT(*) FROM " + upperUnique)).isEqualTo(1);
    }

    /** Where column names ignore case (MariaDB, SQLite; PostgreSQL's unquoted DDL folds to lower case). */
    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_nameInAnotherCase_meansTheOneColumn(Db db) throws SQLException {
        String t = TestDatabases.newTable("onecase");
        execute(db, "CREATE TABLE " + t + " (Item VARCHAR(20) UNIQUE, val VARCHAR(20))");

        assertThat(once(db).getOrCreate(t, Map.of("ITEM", "a"), Map.of("VAL", "1"))
                        .created())
                .isTrue();
        assertThat(once(db).getOrCreate(t, Map.of("item", "a"), Map.of()).created())
                .isFalse();
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
    }

    /** Security test F5: UNIQUE (item(2)) was taken as a key on item; "AbD" then failed on "AbC"'s row. */
    @Test
    void getOrCreate_mariadbUniquePrefixIndex_refuses() throws SQLException {
        Db db = Db.MARIADB;
        String t = TestDatabases.newTable("prefix");
        execute(db, "CREATE TABLE " + t + " (" + db.idColumn() + ", item VARCHAR(20), UNIQUE KEY (item(2)))");

        assertThatThrownBy(() -> once(db).getOrCreate(t, Map.of("item", "AbC"), Map.of()))
                .isInstanceOf(NotAtomicException.class)
                .hasMessageContaining("no unique index covers (item)");
        assertThatThrownBy(() -> once(db).upsert(
                                t, Map.of("item", "AbC"), Upsert.on("item").doNothing()))
                .isInstanceOf(NotAtomicException.class);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isZero();
    }

    /**
     * Security test F9b: a DEFERRABLE unique constraint (raw 55000) and an INVALID index left by a failed
     * CREATE UNIQUE INDEX CONCURRENTLY (raw 42P10) were taken as keys; ON CONFLICT can use neither.
     */
    @Test
    void getOrCreate_postgresDeferrableOrInvalidUniqueIndex_refuses() throws SQLException {
        Db db = Db.POSTGRES;
        String deferrable = TestDatabases.newTable("deferrable");
        String invalid = TestDatabases.newTable("invalid");
        execute(
                db,
                "CREATE TABLE " + deferrable + " (item TEXT, CONSTRAINT " + deferrable
                        + "_item UNIQUE (item) DEFERRABLE INITIALLY IMMEDIATE)",
                "CREATE TABLE " + invalid + " (item TEXT)",
                "INSERT INTO " + invalid + " VALUES ('dup'), ('dup')");
        assertThatThrownBy(() ->
                        execute(db, "CREATE UNIQUE INDEX CONCURRENTLY " + invalid + "_item ON " + invalid + " (item)"))
                .isInstanceOf(SQLException.class); // the duplicate leaves the index behind, INVALID
        assertThat(count(
                        db,
                        "SELECT COUNT(*) FROM pg_index WHERE NOT indisvalid AND indrelid = '" + invalid
                                + "'::regclass"))
                .isEqualTo(1);

        for (String t : new String[] {invalid, deferrable}) {
            assertThatThrownBy(() -> once(db).getOrCreate(t, Map.of("item", "a"), Map.of()))
                    .isInstanceOf(NotAtomicException.class)
                    .hasMessageContaining("no unique index covers (item)");
            assertThatThrownBy(() -> once(db).upsert(
                                    t, Map.of("item", "a"), Upsert.on("item").doNothing()))
                    .isInstanceOf(NotAtomicException.class);
        }
        assertThat(count(db, "SELECT COUNT(*) FROM " + deferrable)).isZero();
    }
}
