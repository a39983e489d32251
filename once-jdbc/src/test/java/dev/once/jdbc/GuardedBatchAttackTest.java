package dev.once.jdbc;

import static dev.once.jdbc.testing.TestDatabases.execute;
import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/** helper-69: guarded batches against one call per row, where the running extreme may differ. */
class GuardedBatchAttackTest {

    private static List<String> contents(Db db, String t, String columns) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = TestDatabases.connect(db);
                var s = c.createStatement();
                var rs = s.executeQuery("SELECT " + columns + " FROM " + t)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder b = new StringBuilder();
                for (int i = 1; i <= n; i++) b.append(rs.getString(i)).append(':');
                out.add(b.toString());
            }
        }
        out.sort(null);
        return out;
    }

    private static Map<String, Object> row(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    /** Applies rows one call each on {@code single} and as a batch on {@code batch}; both must agree. */
    private static void asOneCallPerRow(
            Db db, String batch, String single, List<Map<String, Object>> rows, Upsert spec, String columns)
            throws SQLException {
        Once once = Once.using(TestDatabases.shared(db));
        List<UpsertOutcome> expected = new ArrayList<>();
        for (Map<String, Object> r : rows) expected.add(once.upsert(single, r, spec));
        List<UpsertOutcome> actual = once.upsertAll(batch, rows, spec);
        assertThat(actual).as("outcomes of %s", rows).isEqualTo(expected);
        assertThat(contents(db, batch, columns)).as("stored rows").isEqualTo(contents(db, single, columns));
    }

    /** PostgreSQL has no max(uuid): a uuid guard (UUIDv7 as a version) worked one call per row and in rounds. */
    @Test
    void postgres_uuidGuard_repeatedKey() throws SQLException {
        Db db = Db.POSTGRES;
        String batch = TestDatabases.newTable("g69u"), single = TestDatabases.newTable("g69u");
        for (String t : List.of(batch, single))
            execute(db, "CREATE TABLE " + t + " (k text PRIMARY KEY, v uuid NOT NULL)");
        UUID a = UUID.fromString("00000000-0000-7000-8000-000000000001");
        UUID b = UUID.fromString("00000000-0000-7000-8000-000000000002");
        List<Map<String, Object>> rows = List.of(row("k", "x", "v", a), row("k", "x", "v", b));
        asOneCallPerRow(
                db,
                batch,
                single,
                rows,
                Upsert.on("k").doUpdate().onlyIfIncoming("v", Upsert.Comparison.GREATER),
                "k, v");
    }

    @Test
    void postgres_booleanGuard_repeatedKey() throws SQLException {
        Db db = Db.POSTGRES;
        String batch = TestDatabases.newTable("g69b"), single = TestDatabases.newTable("g69b");
        for (String t : List.of(batch, single))
            execute(db, "CREATE TABLE " + t + " (k text PRIMARY KEY, done boolean NOT NULL, note text)");
        List<Map<String, Object>> rows =
                List.of(row("k", "x", "done", false, "note", "a"), row("k", "x", "done", true, "note", "b"));
        asOneCallPerRow(
                db,
                batch,
                single,
                rows,
                Upsert.on("k").doUpdate().onlyIfIncoming("done", Upsert.Comparison.GREATER_OR_EQUAL),
                "k, done, note");
    }

    /** SQLite binds a BigDecimal as text; one call stores it with the column's NUMERIC affinity. Keep the lowest price. */
    @Test
    void sqlite_bigDecimalGuard_numericColumn() throws SQLException {
        Db db = Db.SQLITE;
        String batch = TestDatabases.newTable("g69d"), single = TestDatabases.newTable("g69d");
        for (String t : List.of(batch, single)) {
            execute(
                    db,
                    "CREATE TABLE " + t + " (k TEXT PRIMARY KEY, price NUMERIC NOT NULL)",
                    "INSERT INTO " + t + " VALUES ('y', 20)");
        }
        List<Map<String, Object>> rows = List.of(
                row("k", "x", "price", new BigDecimal("9.5")),
                row("k", "x", "price", new BigDecimal("10.25")),
                row("k", "y", "price", new BigDecimal("12.5")),
                row("k", "y", "price", new BigDecimal("100")),
                row("k", "x", "price", new BigDecimal("8")));
        asOneCallPerRow(
                db,
                batch,
                single,
                rows,
                Upsert.on("k").doUpdate().onlyIfIncoming("price", Upsert.Comparison.LESS),
                "k, price");
    }

    /** The same, each key once (the merged statement, not the running extreme). */
    @Test
    void sqlite_bigDecimalGuard_numericColumn_distinctKeys() throws SQLException {
        Db db = Db.SQLITE;
        String batch = TestDatabases.newTable("g69e"), single = TestDatabases.newTable("g69e");
        for (String t : List.of(batch, single)) {
            execute(
                    db,
                    "CREATE TABLE " + t + " (k TEXT PRIMARY KEY, price NUMERIC NOT NULL)",
                    "INSERT INTO " + t + " VALUES ('y', 20), ('x', 9)");
        }
        List<Map<String, Object>> rows = List.of(
                row("k", "x", "price", new BigDecimal("10.25")), row("k", "y", "price", new BigDecimal("12.5")));
        asOneCallPerRow(
                db,
                batch,
                single,
                rows,
                Upsert.on("k").doUpdate().onlyIfIncoming("price", Upsert.Comparison.LESS),
                "k, price");
    }

    /** Strings for an INTEGER guard column: one call stores 10 as the integer 10. */
    @Test
    void sqlite_textValuesForIntegerGuard() throws SQLException {
        Db db = Db.SQLITE;
        String batch = TestDatabases.newTable("g69s"), single = TestDatabases.newTable("g69s");
        for (String t : List.of(batch, single))
            execute(
                    db,
                    "CREATE TABLE " + t + " (k TEXT PRIMARY KEY, version INTEGER NOT NULL)",
                    "INSERT INTO " + t + " VALUES ('x', 5)");
        List<Map<String, Object>> rows = List.of(row("k", "x", "version", "10"), row("k", "x", "version", "9"));
        asOneCallPerRow(
                db,
                batch,
                single,
                rows,
                Upsert.on("k").doUpdate().onlyIfIncoming("version", Upsert.Comparison.GREATER),
                "k, version, typeof(version)");
    }

    /** A NOCASE text guard: 'B' > 'a' under the column's collation, not under BINARY. */
    @Test
    void sqlite_nocaseTextGuard() throws SQLException {
        Db db = Db.SQLITE;
        String batch = TestDatabases.newTable("g69n"), single = TestDatabases.newTable("g69n");
        for (String t : List.of(batch, single))
            execute(
                    db,
                    "CREATE TABLE " + t + " (k TEXT PRIMARY KEY, v TEXT COLLATE NOCASE NOT NULL)",
                    "INSERT INTO " + t + " VALUES ('y', 'A')");
        List<Map<String, Object>> rows = List.of(
                row("k", "x", "v", "a"),
                row("k", "x", "v", "B"),
                row("k", "y", "v", "b"),
                row("k", "y", "v", "C"),
                row("k", "x", "v", "c"));
        asOneCallPerRow(
                db,
                batch,
                single,
                rows,
                Upsert.on("k").doUpdate().onlyIfIncoming("v", Upsert.Comparison.GREATER),
                "k, v");
    }

    /** Two keys trading a value of another unique column: fine one call per row. */
    @Test
    @Disabled("helper-69 finding, unfixed and not new (rounds fail too): step (3) updates keys in HashMap order, round"
            + " statements in key order; one call per row succeeds")
    void postgres_otherUniqueColumnTraded() throws SQLException {
        Db db = Db.POSTGRES;
        String batch = TestDatabases.newTable("g69o"), single = TestDatabases.newTable("g69o");
        for (String t : List.of(batch, single))
            execute(db, "CREATE TABLE " + t + " (k text PRIMARY KEY, v int NOT NULL, email text UNIQUE)");
        List<Map<String, Object>> rows = List.of(
                row("k", "a", "v", 1, "email", "x"),
                row("k", "b", "v", 1, "email", "y"),
                row("k", "b", "v", 2, "email", "z"),
                row("k", "a", "v", 2, "email", "y"));
        asOneCallPerRow(
                db,
                batch,
                single,
                rows,
                Upsert.on("k").doUpdate().onlyIfIncoming("v", Upsert.Comparison.GREATER),
                "k, v, email");
    }

    /** A trigger that sets the guard on update (a stamp): one call per row compares with what was stored. */
    @Test
    void postgres_triggerStampsGuard() throws SQLException {
        Db db = Db.POSTGRES;
        String batch = TestDatabases.newTable("g69t"), single = TestDatabases.newTable("g69t");
        for (String t : List.of(batch, single))
            execute(
                    db,
                    "CREATE TABLE " + t + " (k text PRIMARY KEY, v int NOT NULL, note text)",
                    "CREATE FUNCTION " + t
                            + "_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := NEW.v * 10; RETURN NEW; END $$",
                    "CREATE TRIGGER " + t + "_t BEFORE UPDATE ON " + t + " FOR EACH ROW EXECUTE FUNCTION " + t + "_f()",
                    "INSERT INTO " + t + " VALUES ('a', 1, 'old')");
        List<Map<String, Object>> rows =
                List.of(row("k", "a", "v", 2, "note", "n2"), row("k", "a", "v", 3, "note", "n3"));
        asOneCallPerRow(
                db,
                batch,
                single,
                rows,
                Upsert.on("k").doUpdate().onlyIfIncoming("v", Upsert.Comparison.GREATER),
                "k, v, note");
    }

    /** The same with a SQLite trigger that stamps the guard after each update. */
    @Test
    void sqlite_triggerStampsGuard() throws SQLException {
        Db db = Db.SQLITE;
        String batch = TestDatabases.newTable("g69t"), single = TestDatabases.newTable("g69t");
        for (String t : List.of(batch, single))
            execute(
                    db,
                    "CREATE TABLE " + t + " (k TEXT PRIMARY KEY, v INTEGER NOT NULL, note TEXT)",
                    "CREATE TRIGGER " + t + "_t AFTER UPDATE ON " + t + " FOR EACH ROW BEGIN UPDATE " + t
                            + " SET v = NEW.v * 10 WHERE k = NEW.k; END",
                    "INSERT INTO " + t + " VALUES ('a', 1, 'old')");
        List<Map<String, Object>> rows =
                List.of(row("k", "a", "v", 2, "note", "n2"), row("k", "a", "v", 3, "note", "n3"));
        asOneCallPerRow(
                db,
                batch,
                single,
                rows,
                Upsert.on("k").doUpdate().onlyIfIncoming("v", Upsert.Comparison.GREATER),
                "k, v, note");
    }

    /** A REAL column stores a Long beyond 2^53 rounded: one call compares the rounded value. */
    @Test
    void sqlite_bigLongGuard_realColumn() throws SQLException {
        Db db = Db.SQLITE;
        String batch = TestDatabases.newTable("g69r"), single = TestDatabases.newTable("g69r");
        for (String t : List.of(batch, single))
            execute(db, "CREATE TABLE " + t + " (k TEXT PRIMARY KEY, v REAL NOT NULL, note TEXT)");
        long big = 1L << 53; // big + 1 is stored as big
        List<Map<String, Object>> rows =
                List.of(row("k", "x", "v", big, "note", "a"), row("k", "x", "v", big + 1, "note", "b"));
        asOneCallPerRow(
                db,
                batch,
                single,
                rows,
                Upsert.on("k").doUpdate().onlyIfIncoming("v", Upsert.Comparison.GREATER),
                "k, v, note");
    }

    /**
     * One call on SQLite: the outcome is decided by a read comparing the bound value (a BigDecimal is bound as
     * text) with the stored number, but the write converts it by the column's affinity first. 12.5 < 20.
     */
    @Test
    void sqlite_singleUpsert_bigDecimalGuard_numericColumn() throws SQLException {
        Db db = Db.SQLITE;
        String t = TestDatabases.newTable("g69x");
        execute(
                db,
                "CREATE TABLE " + t + " (k TEXT PRIMARY KEY, price NUMERIC NOT NULL)",
                "INSERT INTO " + t + " VALUES ('y', 20)");
        Once once = Once.using(TestDatabases.shared(db));
        UpsertOutcome o = once.upsert(
                t,
                row("k", "y", "price", new BigDecimal("12.5")),
                Upsert.on("k").doUpdate().onlyIfIncoming("price", Upsert.Comparison.LESS));
        assertThat(contents(db, t, "k, price")).containsExactly("y:12.5:");
        assertThat(o).isEqualTo(UpsertOutcome.UPDATED);
    }

    /** One call on SQLite, REAL column: 2^53 + 1 is stored as 2^53, so the write leaves the row; it must not report UPDATED. */
    @Test
    @Disabled("helper-69 finding, unfixed and not new: Upserts.sqlite's read compares the bound Long with the stored"
            + " REAL, the write's WHERE compares excluded.v after REAL affinity rounded it")
    void sqlite_singleUpsert_bigLongGuard_realColumn_reportsWhatItDid() throws SQLException {
        Db db = Db.SQLITE;
        String t = TestDatabases.newTable("g69y");
        execute(
                db,
                "CREATE TABLE " + t + " (k TEXT PRIMARY KEY, v REAL NOT NULL, note TEXT)",
                "INSERT INTO " + t + " VALUES ('x', 9007199254740992, 'a')");
        Once once = Once.using(TestDatabases.shared(db));
        UpsertOutcome o = once.upsert(
                t,
                row("k", "x", "v", (1L << 53) + 1, "note", "b"),
                Upsert.on("k").doUpdate().onlyIfIncoming("v", Upsert.Comparison.GREATER));
        List<String> stored = contents(db, t, "k, note");
        assertThat(o)
                .as("outcome with stored %s", stored)
                .isEqualTo(stored.equals(List.of("x:b:")) ? UpsertOutcome.UPDATED : UpsertOutcome.UNCHANGED);
    }
}
