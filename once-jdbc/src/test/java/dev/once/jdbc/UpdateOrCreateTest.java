package dev.once.jdbc;

import static dev.once.jdbc.testing.TestDatabases.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class UpdateOrCreateTest {

    private static Once once(Db db) {
        return Once.using(GetOrCreateTest.pool(db));
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void updateOrCreate_absentThenPresent_createDefaultsOnlyOnInsert(Db db) throws SQLException {
        String t = UpsertTest.prices(db);

        GetOrCreateResult created = once(db).updateOrCreate(
                        t, Map.of("sku", "A"), Map.of("price", 1), Map.of("note", "created", "version", 1));
        GetOrCreateResult updated = once(db).updateOrCreate(
                        t, Map.of("sku", "A"), Map.of("price", 2), Map.of("note", "not used", "version", 99));

        assertThat(created.created()).isTrue();
        assertThat(updated.created()).isFalse();
        assertThat(((Number) updated.get("price")).intValue()).isEqualTo(2);
        assertThat(updated.get("note")).isEqualTo("created");
        assertThat(((Number) updated.get("version")).intValue()).isEqualTo(1);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void updateOrCreate_inCallerTransaction_holdsRowLock(Db db) throws SQLException {
        assumeTrue(db != Db.SQLITE, "SQLite locks the whole database, not rows");
        String t = UpsertTest.prices(db);
        once(db).updateOrCreate(t, Map.of("sku", "A"), Map.of("price", 1), Map.of());
        try (Connection holder = TestDatabases.connect(db);
                Connection other = TestDatabases.connect(db)) {
            holder.setAutoCommit(false);
            once(db).updateOrCreate(holder, t, Map.of("sku", "A"), Map.of("price", 2), Map.of());

            assertThatThrownBy(() -> GetOrCreateTest.countIn(
                            other, "SELECT price FROM " + t + " WHERE sku = 'A' FOR UPDATE NOWAIT"))
                    .isInstanceOfSatisfying(
                            SQLException.class,
                            e -> assertThat(once(db).isTransient(e)).isTrue());
            holder.commit();
        }
        assertThat(count(db, "SELECT price FROM " + t + " WHERE sku = 'A'")).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void updateOrCreate_noUniqueIndex_refuses(Db db) throws SQLException {
        String t = UpsertTest.prices(db);
        assertThatThrownBy(() -> once(db).updateOrCreate(t, Map.of("note", "x"), Map.of("price", 1), Map.of()))
                .isInstanceOf(NotAtomicException.class)
                .hasMessageContaining("Add UNIQUE (note).");
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreateAll_mixOfExistingAndNew_everyRowWithItsFlag(Db db) throws SQLException {
        String t = UpsertTest.prices(db);
        once(db).getOrCreate(t, Map.of("sku", "S1"), Map.of("price", 100));
        List<Map<String, Object>> lookups = new ArrayList<>();
        for (int i = 0; i < 500; i++) lookups.add(Map.of("sku", "S" + i));
        lookups.add(Map.of("sku", "S2")); // twice in one batch
        Function<Map<String, Object>, Map<String, Object>> defaults = l -> Map.of("price", 7);

        List<GetOrCreateResult> results = once(db).getOrCreateAll(t, lookups, defaults);

        assertThat(results).hasSize(501);
        assertThat(results.get(1).created()).isFalse();
        assertThat(((Number) results.get(1).get("price")).intValue()).isEqualTo(100);
        assertThat(results.stream().filter(GetOrCreateResult::created).count()).isEqualTo(499);
        assertThat(results.get(2).created()).isTrue();
        assertThat(results.get(500).created()).isFalse(); // the repeat reports the row, created once
        assertThat(results.get(500).get("id").toString())
                .isEqualTo(results.get(2).get("id").toString());
        for (int i = 0; i < 500; i++) assertThat(results.get(i).get("sku")).isEqualTo("S" + i);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(500);
        assertThat(once(db).getOrCreateAll(t, lookups, defaults)).noneMatch(GetOrCreateResult::created);
    }

    /**
     * Rows may set another unique key's columns: the upsert acts on the row its own key names, and a
     * collision on the other key is the database's duplicate-key error, the rows unchanged. MariaDB refused
     * such rows while its upsert was ON DUPLICATE KEY UPDATE (which acts on whichever key conflicts).
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void upsert_rowsSetAnotherUniqueKey_actOnTheirKeyCollisionsThrow(Db db) throws SQLException {
        String t = TestDatabases.newTable("twokeys");
        TestDatabases.execute(
                db,
                "CREATE TABLE " + t + " (" + db.idColumn()
                        + ", sku VARCHAR(50) NOT NULL UNIQUE, ean VARCHAR(50) UNIQUE, price INT)");
        Upsert spec = Upsert.on("sku").doUpdate();
        assertThat(once(db).upsert(t, Map.of("sku", "A", "ean", "E", "price", 1), spec))
                .isEqualTo(UpsertOutcome.INSERTED);
        assertThat(once(db).upsert(t, Map.of("sku", "A", "ean", "F", "price", 2), spec))
                .isEqualTo(UpsertOutcome.UPDATED);
        assertThat(once(db).upsert(t, Map.of("sku", "Z", "ean", "Z", "price", 9), spec))
                .isEqualTo(UpsertOutcome.INSERTED);
        assertThatThrownBy(() -> once(db).upsert(t, Map.of("sku", "B", "ean", "F", "price", 3), spec))
                .isInstanceOf(SQLException.class); // a new row with A's ean
        assertThatThrownBy(() -> once(db).upsert(t, Map.of("sku", "Z", "ean", "F", "price", 4), spec))
                .isInstanceOf(SQLException.class); // Z's update would take A's ean
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(2);
        assertThat(count(db, "SELECT price FROM " + t + " WHERE sku = 'A' AND ean = 'F'"))
                .isEqualTo(2);
        assertThat(count(db, "SELECT price FROM " + t + " WHERE sku = 'Z' AND ean = 'Z'"))
                .isEqualTo(9);
    }
}
