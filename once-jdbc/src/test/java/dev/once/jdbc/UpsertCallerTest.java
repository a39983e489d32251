package dev.once.jdbc;

import static dev.once.jdbc.UpsertOutcome.INSERTED;
import static dev.once.jdbc.UpsertOutcome.UNCHANGED;
import static dev.once.jdbc.UpsertOutcome.UPDATED;
import static dev.once.jdbc.testing.TestDatabases.count;
import static dev.once.jdbc.testing.TestDatabases.execute;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** What helper-35's attack on once-jdbc found at the edges of upsert: the caller's transaction, names as spelled. */
class UpsertCallerTest {

    private static Once once(Db db) {
        return Once.using(GetOrCreateTest.pool(db));
    }

    /**
     * An upsert that fails in the caller's transaction (here on another unique key) rolls back only itself,
     * as a failed getOrCreate does: on PostgreSQL it left the whole transaction aborted ("current
     * transaction is aborted"), losing the caller's earlier work.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void upsert_failsInCallersTransaction_transactionStaysUsable(Db db) throws SQLException {
        String t = TestDatabases.newTable("codes");
        execute(
                db,
                "CREATE TABLE " + t + " (" + db.idColumn()
                        + ", sku VARCHAR(50) NOT NULL UNIQUE, code VARCHAR(50) UNIQUE, price INT)");
        execute(db, "INSERT INTO " + t + " (sku, code, price) VALUES ('A', 'x', 100)");
        try (Connection c = GetOrCreateTest.pool(db).getConnection()) {
            c.setAutoCommit(false);
            assertThat(once(db).upsert(
                                    c,
                                    t,
                                    Map.of("sku", "B", "price", 2),
                                    Upsert.on("sku").doUpdate()))
                    .isEqualTo(INSERTED); // the caller's earlier work
            assertThatThrownBy(() -> once(db).upsert(
                                    c,
                                    t,
                                    Map.of("sku", "C", "code", "x", "price", 3),
                                    Upsert.on("sku").doNothing()))
                    .isInstanceOf(SQLException.class);
            try (Statement s = c.createStatement()) { // still usable
                s.executeUpdate("INSERT INTO " + t + " (sku, price) VALUES ('D', 4)");
            }
            c.commit();
            c.setAutoCommit(true);
        }
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(3); // A, B and D
        assertThat(count(db, "SELECT price FROM " + t + " WHERE sku = 'A'")).isEqualTo(100);
    }

    /**
     * onlyIfIncoming names a column as any other name does ("VERSION" is the column version): on
     * PostgreSQL the check passed and the statement then failed with "column VERSION does not exist".
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void upsert_guardNamedInAnotherCase_guardsThatColumn(Db db) throws SQLException {
        String t = UpsertTest.prices(db);
        Upsert spec = Upsert.on("sku").doUpdate().onlyIfIncoming("VERSION", Upsert.Comparison.GREATER);
        assertThat(once(db).upsert(t, Map.of("sku", "A", "price", 1, "version", 2), spec))
                .isEqualTo(INSERTED);
        assertThat(once(db).upsert(t, Map.of("sku", "A", "price", 9, "version", 1), spec))
                .isEqualTo(UNCHANGED);
        assertThat(once(db).upsert(t, Map.of("sku", "A", "price", 3, "version", 3), spec))
                .isEqualTo(UPDATED);
        assertThat(count(db, "SELECT price FROM " + t + " WHERE sku = 'A'")).isEqualTo(3);
    }

    /**
     * SQLite applies a table's own conflict clause to every unique key a statement's ON CONFLICT does not
     * name: with {@code code UNIQUE ON CONFLICT REPLACE}, a new row colliding on code deleted the row in its
     * way (getOrCreate said created, upsert said INSERTED, the table lost a row). Other unique keys stay
     * errors, the existing row unchanged.
     */
    @org.junit.jupiter.api.Test
    void sqlite_otherKeyDeclaredOnConflictReplace_errorAndNothingDeleted() throws SQLException {
        Db db = Db.SQLITE;
        String t = TestDatabases.newTable("replace");
        execute(
                db,
                "CREATE TABLE " + t + " (" + db.idColumn()
                        + ", sku TEXT NOT NULL UNIQUE, code TEXT UNIQUE ON CONFLICT REPLACE, price INT)");
        execute(db, "INSERT INTO " + t + " (sku, code, price) VALUES ('A', 'x', 100), ('Z', 'z', 1)");
        Once once = once(db);
        assertThatThrownBy(() -> once.getOrCreate(t, Map.of("sku", "B"), () -> Map.of("code", "x")))
                .isInstanceOf(SQLException.class);
        assertThatThrownBy(() -> once.upsert(
                        t, Map.of("sku", "C", "code", "x"), Upsert.on("sku").doNothing()))
                .isInstanceOf(SQLException.class);
        assertThatThrownBy(() -> once.upsertAll(
                        t,
                        List.of(Map.of("sku", "D", "code", "x")),
                        Upsert.on("sku").doUpdate()))
                .isInstanceOf(SQLException.class);
        assertThatThrownBy(() -> once.upsert(
                        t, Map.of("sku", "Z", "code", "x"), Upsert.on("sku").doUpdate()))
                .isInstanceOf(SQLException.class); // the update of Z would take A's code
        assertThatThrownBy(() -> once.updateOrCreate(t, Map.of("sku", "Z"), Map.of("code", "x"), Map.of()))
                .isInstanceOf(SQLException.class);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(2);
        assertThat(count(db, "SELECT price FROM " + t + " WHERE sku = 'A' AND code = 'x'"))
                .isEqualTo(100);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t + " WHERE sku = 'Z' AND code = 'z'"))
                .isEqualTo(1);
    }

    /**
     * A batch whose rows bind one column with different Java types (Integer, Long, BigDecimal; a String and
     * an Integer for a text column) works as the same rows one by one: on PostgreSQL a VALUES list must
     * unify each column's types, and binding them uncast failed ("VALUES types ... cannot be matched").
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void upsertAll_oneColumnBoundWithDifferentJavaTypes_works(Db db) throws SQLException {
        String t = UpsertTest.prices(db);
        List<Map<String, Object>> rows = List.of(
                Map.of("sku", "A", "price", 1, "note", "text"),
                Map.of("sku", "B", "price", 2L, "note", 7),
                Map.of("sku", "C", "price", new java.math.BigDecimal("3"), "note", "x"));
        assertThat(once(db).upsertAll(t, rows, Upsert.on("sku").doUpdate()))
                .containsExactly(INSERTED, INSERTED, INSERTED);
        assertThat(once(db)
                        .getOrCreateAll(
                                t,
                                List.of(Map.of("sku", "A"), Map.of("sku", "D")),
                                lookup -> Map.of("price", lookup.get("sku").equals("D") ? 4L : 0))
                        .stream()
                        .map(GetOrCreateResult::created))
                .containsExactly(false, true);
        assertThat(count(db, "SELECT SUM(price) FROM " + t)).isEqualTo(10);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t + " WHERE note = '7'")).isEqualTo(1);
    }

    /**
     * helper-39: a key column that rounds (numeric(10,2)): 1.001 is stored as 1.00, and the outcome must
     * say so (the batch rework reported UNCHANGED for the row it inserted, and two keys rounding alike in
     * one batch failed with "cannot affect row a second time").
     */
    @org.junit.jupiter.api.Test
    void postgres_keyColumnThatRounds_outcomesAsWritten() throws SQLException {
        Db db = Db.POSTGRES;
        String t = TestDatabases.newTable("rounds");
        execute(db, "CREATE TABLE " + t + " (k NUMERIC(10,2) PRIMARY KEY, v INT)");
        Once once = once(db);
        Upsert spec = Upsert.on("k").doUpdate();
        assertThat(once.upsert(t, Map.of("k", new java.math.BigDecimal("1.001"), "v", 1), spec))
                .isEqualTo(INSERTED);
        assertThat(once.upsert(t, Map.of("k", new java.math.BigDecimal("1.004"), "v", 2), spec))
                .isEqualTo(UPDATED);
        assertThat(once.upsertAll(
                        t,
                        List.of(
                                Map.of("k", new java.math.BigDecimal("2.001"), "v", 3),
                                Map.of("k", new java.math.BigDecimal("2.002"), "v", 4)),
                        spec))
                .containsExactly(INSERTED, INSERTED); // one key for the database: merged, the last written
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(2);
        assertThat(count(db, "SELECT v FROM " + t + " WHERE k = 2")).isEqualTo(4);
        assertThat(once.getOrCreate(t, Map.of("k", new java.math.BigDecimal("1.003")), Map.of("v", 9))
                        .created())
                .isFalse();
    }

    /**
     * helper-39: on SQLite a number bound for a text key did not find the row its text names (8 and '8'):
     * reported INSERTED while it updated, or while it wrote nothing; onlyIfChanged said UPDATED for 5
     * against '5'.
     */
    @org.junit.jupiter.api.Test
    void sqlite_numberForTextColumn_comparesAsStored() throws SQLException {
        Db db = Db.SQLITE;
        String t = TestDatabases.newTable("affinity");
        execute(db, "CREATE TABLE " + t + " (item TEXT PRIMARY KEY, note TEXT)");
        execute(db, "INSERT INTO " + t + " VALUES ('8', '5')");
        Once once = once(db);
        assertThat(once.upsert(
                        t, Map.of("item", 8, "note", "x"), Upsert.on("item").doNothing()))
                .isEqualTo(UNCHANGED);
        assertThat(once.upsert(
                        t,
                        Map.of("item", 8, "note", 5),
                        Upsert.on("item").doUpdate().onlyIfChanged()))
                .isEqualTo(UNCHANGED);
        assertThat(once.upsert(
                        t, Map.of("item", 8, "note", "y"), Upsert.on("item").doUpdate()))
                .isEqualTo(UPDATED);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
    }

    /** A quote inside a column's name is part of the name, not the end of it: the SQL was broken. */
    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"POSTGRES", "SQLITE"})
    void names_holdingAQuote_quotedWhole(Db db) throws SQLException {
        String t = TestDatabases.newTable("quoted");
        execute(db, "CREATE TABLE " + t + " (\"it\"\"em\" VARCHAR(50) NOT NULL UNIQUE, price INT)");
        Once once = once(db);
        assertThat(once.upsert(
                        t,
                        Map.of("it\"em", "A", "price", 1),
                        Upsert.on("it\"em").doUpdate()))
                .isEqualTo(INSERTED);
        GetOrCreateResult r = once.getOrCreate(t, Map.of("it\"em", "A"), () -> Map.of("price", 2));
        assertThat(r.created()).isFalse();
        assertThat(once.upsertAll(
                        t,
                        List.of(Map.of("it\"em", "A", "price", 5), Map.of("it\"em", "B", "price", 6)),
                        Upsert.on("it\"em").doUpdate()))
                .containsExactly(UPDATED, INSERTED);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(2);
    }
}
