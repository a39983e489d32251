package dev.once.jdbc;

import static dev.once.jdbc.testing.TestDatabases.count;
import static dev.once.jdbc.testing.TestDatabases.execute;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Tables whose columns compare or convert otherwise than their plain type says (helper-63): a lookup or
 * an upsert must never match, return or overwrite a row of another key, nor store a value other than the
 * one given.
 */
class TableShapesTest {

    private static Once once(Db db) {
        return Once.using(TestDatabases.shared(db));
    }

    /**
     * A domain over varchar(3), and an array of varchar(3): the cast that makes a bound value compare as the
     * column does kept the length limit, and an explicit cast cuts where an insert refuses, so 'abcd' found
     * and overwrote the row 'abc' (and a non-key value was stored cut short, reported INSERTED).
     */
    @Test
    void postgres_domainAndArrayOfLimitedStrings_longerValueNeverMatchesNorIsCut() throws SQLException {
        Db db = Db.POSTGRES;
        String t = TestDatabases.newTable("domain");
        String arrays = TestDatabases.newTable("arrays");
        execute(
                db,
                "CREATE DOMAIN " + t + "_code3 AS varchar(3)",
                "CREATE DOMAIN " + t + "_code3b AS " + t + "_code3",
                "CREATE TABLE " + t + " (code " + t + "_code3 PRIMARY KEY, owner text, cc " + t + "_code3b)",
                "INSERT INTO " + t + " VALUES ('abc', 'alice', NULL)",
                "CREATE TABLE " + arrays + " (tags varchar(3)[] PRIMARY KEY, owner text, more " + t + "_code3[])",
                "INSERT INTO " + arrays + " VALUES ('{abc}', 'alice', NULL)");
        Once once = once(db);

        assertThatThrownBy(() -> once.upsert(
                        t,
                        Map.of("code", "abcd", "owner", "mallory"),
                        Upsert.on("code").doUpdate()))
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("too long");
        assertThatThrownBy(() -> once.getOrCreate(t, Map.of("code", "abcd"), Map.of("owner", "mallory")))
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("too long");
        assertThatThrownBy(() -> once.upsert(
                        t,
                        Map.of("code", "xyz", "cc", "abcdef"),
                        Upsert.on("code").doUpdate()))
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("too long");
        assertThatThrownBy(() -> once.getOrCreate(arrays, Map.of("tags", new String[] {"abcd"}), Map.of()))
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("too long");
        assertThatThrownBy(() -> once.upsert(
                        arrays,
                        Map.of("tags", new String[] {"xyz"}, "more", new String[] {"abcdef"}),
                        Upsert.on("tags").doUpdate()))
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("too long");

        assertThat(count(db, "SELECT COUNT(*) FROM " + t + " WHERE code = 'abc' AND owner = 'alice'"))
                .isEqualTo(1);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
        assertThat(count(db, "SELECT COUNT(*) FROM " + arrays)).isEqualTo(1);
        // values within the limit still find their rows, through the domain and the array
        assertThat(once.getOrCreate(t, Map.of("code", "abc"), Map.of()).get("owner"))
                .isEqualTo("alice");
        assertThat(once.getOrCreate(arrays, Map.of("tags", new String[] {"abc"}), Map.of())
                        .get("owner"))
                .isEqualTo("alice");
        assertThat(once.upsert(
                        t, Map.of("code", "xyz", "cc", "abc"), Upsert.on("code").doUpdate()))
                .isEqualTo(UpsertOutcome.INSERTED);
    }

    /**
     * MariaDB compares a number column with text, and a byte-string column with a number, as floating-point
     * numbers: 'abc' found and overwrote the row 0, '1abc' the row 1, and 1 found the bytes '01'. Such keys are
     * refused, as a number for a text column already was.
     */
    @Test
    void mariadb_textForANumberKeyOrANumberForABinaryKey_refused() throws SQLException {
        Db db = Db.MARIADB;
        String numbers = TestDatabases.newTable("numkey");
        String bytes = TestDatabases.newTable("binkey");
        execute(
                db,
                "CREATE TABLE " + numbers + " (k BIGINT PRIMARY KEY, v INT)",
                "INSERT INTO " + numbers + " VALUES (0, 0), (1, 1), (9007199254740992, 2)",
                "CREATE TABLE " + bytes + " (k VARBINARY(10) PRIMARY KEY, v INT)",
                "INSERT INTO " + bytes + " VALUES ('01', 0)");
        Once once = once(db);
        for (String key : List.of("abc", "1abc", "9007199254740993", "1")) {
            assertThatThrownBy(() -> once.getOrCreate(numbers, Map.of("k", key), Map.of("v", 9)))
                    .as(key)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("Pass the key as a number");
            assertThatThrownBy(() -> once.upsert(
                            numbers, Map.of("k", key, "v", 7), Upsert.on("k").doUpdate()))
                    .as(key)
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> once.getOrCreate(bytes, Map.of("k", 1), Map.of("v", 9)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("byte string");
        assertThat(count(db, "SELECT SUM(v) FROM " + numbers)).isEqualTo(3); // nothing overwritten
        assertThat(count(db, "SELECT SUM(v) FROM " + bytes)).isZero();
        // numbers for a number column, text for a byte string, still work
        assertThat(once.getOrCreate(numbers, Map.of("k", 1L), Map.of()).get("v"))
                .isEqualTo(1);
        assertThat(once.getOrCreate(bytes, Map.of("k", "01"), Map.of()).created())
                .isFalse();
    }

    /**
     * onlyIfIncoming on a column the upsert never updates: the stored version stayed as first written, so
     * v6 overwrote v7 (helper-63). Refused, naming the column to add.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void upsert_guardOnAColumnNotUpdated_refused(Db db) throws SQLException {
        String t = UpsertTest.prices(db);
        assertThatThrownBy(() -> once(db).upsert(
                                t,
                                Map.of("sku", "A1", "price", 50, "version", 5),
                                Upsert.on("sku")
                                        .doUpdate("price")
                                        .onlyIfIncoming("version", Upsert.Comparison.GREATER)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Add version to doUpdate");
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isZero();
        assertThat(once(db).upsert(
                                t,
                                Map.of("sku", "A1", "price", 50, "version", 5),
                                Upsert.on("sku")
                                        .doUpdate("price", "version")
                                        .onlyIfIncoming("version", Upsert.Comparison.GREATER)))
                .isEqualTo(UpsertOutcome.INSERTED);
    }

    /**
     * A guarded batch holding one key twice, v7 then v6, over a stored v5: the last occurrence won the merge,
     * so v6 was written over the v7 the batch itself had (helper-63). Applied in order now, as one by one.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void upsertAll_guardedBatchHoldingAKeyTwice_appliedInOrder(Db db) throws SQLException {
        String t = UpsertTest.prices(db);
        Upsert newest = Upsert.on("sku").doUpdate().onlyIfIncoming("version", Upsert.Comparison.GREATER);
        once(db).upsert(t, Map.of("sku", "A1", "price", 50, "version", 5), newest);
        List<UpsertOutcome> outcomes = once(db).upsertAll(
                        t,
                        List.of(
                                Map.of("sku", "A1", "price", 70, "version", 7),
                                Map.of("sku", "B1", "price", 1, "version", 1),
                                Map.of("sku", "A1", "price", 60, "version", 6),
                                Map.of("sku", "A1", "price", 80, "version", 8)),
                        newest);
        assertThat(outcomes)
                .containsExactly(
                        UpsertOutcome.UPDATED, UpsertOutcome.INSERTED, UpsertOutcome.UNCHANGED, UpsertOutcome.UPDATED);
        assertThat(count(db, "SELECT price FROM " + t + " WHERE sku = 'A1'")).isEqualTo(80);
        once(db).upsertAll(
                        t,
                        List.of(
                                Map.of("sku", "A1", "price", 90, "version", 9),
                                Map.of("sku", "A1", "price", 85, "version", 8)),
                        newest);
        assertThat(count(db, "SELECT price FROM " + t + " WHERE sku = 'A1'")).isEqualTo(90);
    }

    /** updateOrCreate's createDefaults set the key to another value, and the row was created under it (helper-63). */
    @ParameterizedTest
    @EnumSource(Db.class)
    void updateOrCreate_createDefaultsContradictingTheLookup_refused(Db db) throws SQLException {
        String t = UpsertTest.prices(db);
        assertThatThrownBy(() ->
                        once(db).updateOrCreate(t, Map.of("sku", "AAPL"), Map.of("price", 1), Map.of("sku", "MSFT")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the lookup set sku = AAPL");
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isZero();
        // a default may differ from an update: it is what a new row gets (state 'first seen', say)
        assertThat(once(db).updateOrCreate(t, Map.of("sku", "MSFT"), Map.of("price", 1), Map.of("price", 2))
                        .get("price"))
                .isEqualTo(2);
        assertThat(once(db).updateOrCreate(t, Map.of("sku", "MSFT"), Map.of("price", 1), Map.of("price", 2))
                        .get("price"))
                .isEqualTo(1);
        assertThat(once(db).updateOrCreate(
                                t, Map.of("sku", "AAPL"), Map.of("price", 1), Map.of("sku", "AAPL", "version", 3))
                        .created())
                .isTrue();
    }

    /** A backtick in a MariaDB column name was not doubled, so the name ended early and the rest was SQL. */
    @Test
    void mariadb_backtickInAColumnName_quoted() throws SQLException {
        Db db = Db.MARIADB;
        String t = TestDatabases.newTable("backtick");
        execute(db, "CREATE TABLE " + t + " (k VARCHAR(10) PRIMARY KEY, `we``ird` INT)");
        assertThat(once(db).getOrCreate(t, Map.of("k", "a"), Map.of("we`ird", 4))
                        .get("we`ird"))
                .isEqualTo(4);
        assertThat(once(db).upsert(
                                t, Map.of("k", "a", "we`ird", 5), Upsert.on("k").doUpdate()))
                .isEqualTo(UpsertOutcome.UPDATED);
        assertThat(count(db, "SELECT `we``ird` FROM " + t)).isEqualTo(5);
    }

    /**
     * A unique index stricter than the column's own comparison: a case-insensitive column with a
     * case-sensitive unique index ('A' and 'a' are two keys to the index). The lookup compared as the
     * column does, so getOrCreate('a') returned the row 'A', and an upsert of 'a' reported UPDATED while
     * the insert added a row (helper-63). Lookups now compare as the index does. A citext column whose
     * index uses text's operator class is refused: no lookup can compare as that index does.
     */
    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"POSTGRES", "SQLITE"})
    void uniqueIndexStricterThanTheColumn_lookupsCompareAsTheIndex(Db db) throws SQLException {
        String t = TestDatabases.newTable("stricter");
        if (db == Db.POSTGRES) {
            execute(
                    db,
                    "CREATE COLLATION IF NOT EXISTS once_ci (provider = icu, locale = 'und-u-ks-level2',"
                            + " deterministic = false)",
                    "CREATE TABLE " + t + " (k text COLLATE once_ci NOT NULL, v int)",
                    "CREATE UNIQUE INDEX " + t + "_k ON " + t + " (k COLLATE \"C\")");
        } else {
            execute(
                    db,
                    "CREATE TABLE " + t + " (k TEXT COLLATE NOCASE NOT NULL, v INT)",
                    "CREATE UNIQUE INDEX " + t + "_k ON " + t + " (k COLLATE BINARY)");
        }
        Once once = once(db);
        assertThat(once.getOrCreate(t, Map.of("k", "A"), Map.of("v", 1)).created())
                .isTrue();
        GetOrCreateResult lower = once.getOrCreate(t, Map.of("k", "a"), Map.of("v", 2));
        assertThat(lower.created()).isTrue();
        assertThat(lower.get("v")).isEqualTo(2);
        assertThat(once.getOrCreate(t, Map.of("k", "a"), Map.of("v", 3)).get("v"))
                .isEqualTo(2); // the row 'A' before
        assertThat(once.getOrCreate(t, Map.of("k", "A"), Map.of("v", 3)).get("v"))
                .isEqualTo(1);
        GetOrCreateResult batch = once.getOrCreateAll(t, List.of(Map.of("k", "a")), l -> Map.of("v", 3))
                .get(0);
        assertThat(batch.created()).isFalse();
        assertThat(batch.get("v"))
                .as("getOrCreateAll as getOrCreate (helper-66)")
                .isEqualTo(2);
        once.getOrCreate(t, Map.of("k", "C"), Map.of("v", 7));
        GetOrCreateResult fresh = once.getOrCreateAll(t, List.of(Map.of("k", "c")), l -> Map.of("v", 8))
                .get(0);
        assertThat(fresh.created()).as("the row 'C' before (helper-66)").isTrue();
        assertThat(fresh.get("v")).isEqualTo(8);
        assertThat(once.upsert(t, Map.of("k", "b", "v", 4), Upsert.on("k").doUpdate()))
                .isEqualTo(UpsertOutcome.INSERTED);
        assertThat(once.upsert(t, Map.of("k", "B", "v", 5), Upsert.on("k").doUpdate()))
                .isEqualTo(UpsertOutcome.INSERTED); // UPDATED before, with a second row written
        assertThat(once.upsert(t, Map.of("k", "B", "v", 6), Upsert.on("k").doUpdate()))
                .isEqualTo(UpsertOutcome.UPDATED);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(6);
        assertThat(count(
                        db,
                        "SELECT v FROM " + t + " WHERE k = 'b' COLLATE " + (db == Db.POSTGRES ? "\"C\"" : "BINARY")))
                .isEqualTo(4);
    }

    /** citext with an index in text's operator class compares with case where the column does not. */
    @Test
    void postgres_citextColumnWithATextOpsIndex_refused() throws SQLException {
        Db db = Db.POSTGRES;
        org.junit.jupiter.api.Assumptions.assumeTrue(
                count(db, "SELECT COUNT(*) FROM pg_available_extensions WHERE name = 'citext'") > 0,
                "this PostgreSQL has no citext extension");
        String t = TestDatabases.newTable("citextops");
        execute(
                db,
                "CREATE EXTENSION IF NOT EXISTS citext",
                "CREATE TABLE " + t + " (k citext NOT NULL, v int)",
                "CREATE UNIQUE INDEX " + t + "_k ON " + t + " (k text_ops)");
        assertThatThrownBy(() -> once(db).getOrCreate(t, Map.of("k", "Foo"), Map.of("v", 1)))
                .isInstanceOf(NotAtomicException.class);
        assertThatThrownBy(() -> once(db).upsert(
                                t, Map.of("k", "Foo", "v", 1), Upsert.on("k").doUpdate()))
                .isInstanceOf(NotAtomicException.class);
    }

    /**
     * One Once, connections on two MariaDB databases (a data source routing tenants): each database's
     * table of the same name is checked for itself. Kept by the name alone, the first database's unique
     * index vouched for the second's table, which has none, and both callers created a row of one key.
     */
    @Test
    void mariadb_sameTableNameInTwoDatabases_eachCheckedForItself() throws SQLException {
        Db db = Db.MARIADB;
        String indexed = TestDatabases.newTable("tenant_a");
        String bare = TestDatabases.newTable("tenant_b");
        execute(
                db,
                "CREATE DATABASE " + indexed,
                "CREATE DATABASE " + bare,
                "CREATE TABLE " + indexed + ".orders (k VARCHAR(10) PRIMARY KEY, v INT)",
                "CREATE TABLE " + bare + ".orders (k VARCHAR(10), v INT)");
        Once once = once(db);
        try (java.sql.Connection c = TestDatabases.connect(db)) {
            String home = c.getCatalog();
            try {
                c.setCatalog(indexed);
                assertThat(once.getOrCreate(c, "orders", Map.of("k", "a"), Map.of("v", 1))
                                .created())
                        .isTrue();
                c.setCatalog(bare);
                assertThatThrownBy(() -> once.getOrCreate(c, "orders", Map.of("k", "a"), Map.of("v", 2)))
                        .isInstanceOf(NotAtomicException.class);
                assertThatThrownBy(() -> once.upsert(
                                c,
                                "orders",
                                Map.of("k", "a", "v", 2),
                                Upsert.on("k").doNothing()))
                        .isInstanceOf(NotAtomicException.class);
                c.setCatalog(indexed);
                assertThat(once.getOrCreate(c, "orders", Map.of("k", "a"), Map.of("v", 3))
                                .get("v"))
                        .isEqualTo(1);
            } finally {
                c.setCatalog(home);
            }
        }
        assertThat(count(db, "SELECT COUNT(*) FROM " + bare + ".orders")).isZero();
        execute(db, "DROP DATABASE " + indexed, "DROP DATABASE " + bare);
    }

    /**
     * SQLite gives BLOB, untyped, DATE and JSON columns no text affinity, but its driver reports them as
     * VARCHAR, so batches and upserts cast their values to text: the blob key 1 found the row '1' in a batch
     * while getOrCreate found the row 1, an upsert said UPDATED and inserted, and an untyped version 8
     * passed a GREATER guard against 9 (text sorts after numbers). helper-63.
     */
    @Test
    void sqlite_columnsWithoutTextAffinity_notCastToText() throws SQLException {
        Db db = Db.SQLITE;
        String t = TestDatabases.newTable("affinity");
        execute(db, "CREATE TABLE " + t + " (k BLOB UNIQUE, v INT, version, seen DATE)");
        Once once = once(db);
        assertThat(once.getOrCreate(t, Map.of("k", 1), Map.of("v", 0, "version", 9, "seen", 20261129))
                        .created())
                .isTrue();
        assertThat(once.getOrCreateAll(t, List.of(Map.of("k", 1)), l -> Map.of("v", 5))
                        .get(0)
                        .created())
                .isFalse();
        assertThat(once.upsert(t, Map.of("k", 1, "v", 7), Upsert.on("k").doUpdate()))
                .isEqualTo(UpsertOutcome.UPDATED);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
        assertThat(once.upsert(
                        t,
                        Map.of("k", 1, "v", 8, "version", 8),
                        Upsert.on("k").doUpdate().onlyIfIncoming("version", Upsert.Comparison.GREATER)))
                .isEqualTo(UpsertOutcome.UNCHANGED);
        assertThat(count(db, "SELECT v FROM " + t)).isEqualTo(7);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t + " WHERE typeof(seen) = 'integer'"))
                .isEqualTo(1);
    }

    /**
     * Two unique keys comparing one column in different collations (a primary key on k, and (k COLLATE ci,
     * tenant)): a lookup by the primary key compares as it does. Taking the other index's collation for the
     * column found the row 'a' of tenant 1 for the key 'A' and updated it (helper-66). And an index in a
     * pattern operator class, whose = is text's own, still counts (the first operator-class rule refused it).
     */
    @Test
    void postgres_columnInUniqueKeysOfDifferentCollations_andPatternOpsIndex() throws SQLException {
        Db db = Db.POSTGRES;
        String t = TestDatabases.newTable("mixed");
        String pattern = TestDatabases.newTable("pattern");
        execute(
                db,
                "CREATE COLLATION IF NOT EXISTS once_ci (provider = icu, locale = 'und-u-ks-level2',"
                        + " deterministic = false)",
                "CREATE TABLE " + t + " (k text PRIMARY KEY, tenant int, v int)",
                "CREATE UNIQUE INDEX " + t + "_ci ON " + t + " (k COLLATE once_ci, tenant)",
                "INSERT INTO " + t + " VALUES ('a', 1, 0)",
                "CREATE TABLE " + pattern + " (k varchar(10), v int)",
                "CREATE UNIQUE INDEX " + pattern + "_k ON " + pattern + " (k varchar_pattern_ops)");
        Once once = once(db);
        GetOrCreateResult upper = once.getOrCreate(t, Map.of("k", "A"), Map.of("tenant", 2, "v", 5));
        assertThat(upper.created()).isTrue();
        assertThat(upper.get("tenant")).isEqualTo(2);
        once.updateOrCreate(t, Map.of("k", "A"), Map.of("v", 9), Map.of());
        assertThat(count(db, "SELECT v FROM " + t + " WHERE k = 'a'")).isZero();
        assertThat(count(db, "SELECT v FROM " + t + " WHERE k = 'A'")).isEqualTo(9);

        assertThat(once.getOrCreate(pattern, Map.of("k", "x"), Map.of("v", 1)).created())
                .isTrue();
        assertThat(once.upsert(pattern, Map.of("k", "x", "v", 2), Upsert.on("k").doUpdate()))
                .isEqualTo(UpsertOutcome.UPDATED);
    }

    /** MariaDB's BOOLEAN (TINYINT(1), reported as BIT) compares text as a number too: 'abc' found the row 0. */
    @Test
    void mariadb_textForABooleanKey_refused() throws SQLException {
        Db db = Db.MARIADB;
        String t = TestDatabases.newTable("boolkey");
        execute(db, "CREATE TABLE " + t + " (k BOOLEAN PRIMARY KEY, v INT)", "INSERT INTO " + t + " VALUES (0, 1)");
        assertThatThrownBy(() -> once(db).getOrCreate(t, Map.of("k", "abc"), Map.of("v", 2)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(once(db).getOrCreate(t, Map.of("k", false), Map.of("v", 2)).get("v"))
                .isEqualTo(1);
    }

    /**
     * A single-precision key (MariaDB FLOAT, PostgreSQL real, SQLite REAL, which holds doubles): 0.1 is
     * stored as the nearest float, and MariaDB compared the bound double with it, so a second getOrCreate(0.1)
     * found nothing and failed with a duplicate-key error (helper-67). Lookups now convert the value as the
     * column stores it; a value beyond the type's range is refused, not clipped onto the largest stored key.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void singlePrecisionKey_foundAgain(Db db) throws SQLException {
        String t = TestDatabases.newTable("floatkey");
        String type = switch (db) {
            case MARIADB -> "FLOAT";
            case POSTGRES -> "real";
            case SQLITE -> "REAL";
        };
        execute(db, "CREATE TABLE " + t + " (k " + type + " PRIMARY KEY, v INT)");
        Once once = once(db);
        assertThat(once.getOrCreate(t, Map.of("k", 0.1), Map.of("v", 1)).created())
                .isTrue();
        GetOrCreateResult again = once.getOrCreate(t, Map.of("k", 0.1), Map.of("v", 2));
        assertThat(again.created()).isFalse();
        assertThat(again.get("v")).isEqualTo(1);
        assertThat(once.getOrCreate(t, Map.of("k", new java.math.BigDecimal("0.1")), Map.of("v", 2))
                        .created())
                .isFalse();
        assertThat(once.getOrCreateAll(t, List.of(Map.of("k", 0.1)), l -> Map.of("v", 3))
                        .get(0)
                        .created())
                .isFalse();
        assertThat(once.updateOrCreate(t, Map.of("k", 0.1), Map.of("v", 4), Map.of())
                        .created())
                .isFalse();
        Upsert upsert = Upsert.on("k").doUpdate();
        assertThat(once.upsert(t, Map.of("k", 0.1, "v", 5), upsert)).isEqualTo(UpsertOutcome.UPDATED);
        assertThat(once.upsertAll(t, List.of(Map.of("k", 0.2, "v", 6), Map.of("k", 0.2, "v", 7)), upsert))
                .containsExactly(UpsertOutcome.INSERTED, UpsertOutcome.INSERTED);
        assertThat(once.upsert(t, Map.of("k", 0.2, "v", 8), upsert)).isEqualTo(UpsertOutcome.UPDATED);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(2);
        assertThat(count(db, "SELECT SUM(v) FROM " + t)).isEqualTo(13);
        if (db == Db.MARIADB) { // CAST(1e40 AS FLOAT) is FLOAT's largest value, which a row holds here
            execute(db, "INSERT INTO " + t + " VALUES (3.40282e38, 9)");
            assertThatThrownBy(() -> once.getOrCreate(t, Map.of("k", 1e40), Map.of("v", 10)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("FLOAT");
            assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(3);
        }
    }

    /**
     * MariaDB pads a BINARY(n) value with 0x00 bytes to n, and compared the bound value unpadded, so a second
     * getOrCreate of a 3-byte key into BINARY(16) found nothing and failed with a duplicate-key error, a
     * String key too (helper-67). Lookups now compare the value padded as stored; a value longer than n, which
     * the padding cast would cut to the first n bytes (and find that row), is refused.
     */
    @Test
    void mariadb_binaryKeyShorterThanItsLength_foundAgain() throws SQLException {
        Db db = Db.MARIADB;
        String t = TestDatabases.newTable("binn");
        execute(db, "CREATE TABLE " + t + " (k BINARY(16) PRIMARY KEY, v INT)");
        Once once = once(db);
        byte[] three = {1, 2, 3};
        assertThat(once.getOrCreate(t, Map.of("k", three), Map.of("v", 1)).created())
                .isTrue();
        GetOrCreateResult again = once.getOrCreate(t, Map.of("k", three), Map.of("v", 2));
        assertThat(again.created()).isFalse();
        assertThat(again.get("v")).isEqualTo(1);
        assertThat(once.getOrCreate(t, Map.of("k", "abc"), Map.of("v", 3)).created())
                .isTrue();
        assertThat(once.getOrCreate(t, Map.of("k", "abc"), Map.of("v", 4)).get("v"))
                .isEqualTo(3);
        assertThat(once.getOrCreateAll(t, List.of(Map.of("k", three), Map.of("k", "abc")), l -> Map.of("v", 5)).stream()
                        .map(GetOrCreateResult::created))
                .containsExactly(false, false);
        assertThat(once.upsert(t, Map.of("k", three, "v", 6), Upsert.on("k").doUpdate()))
                .isEqualTo(UpsertOutcome.UPDATED);
        assertThat(once.upsert(t, Map.of("k", "abc", "v", 7), Upsert.on("k").doUpdate()))
                .isEqualTo(UpsertOutcome.UPDATED);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(2);
        assertThat(count(db, "SELECT SUM(v) FROM " + t)).isEqualTo(13);
        // 17 bytes: CAST(? AS BINARY(16)) would cut it to the row of its first 16
        execute(db, "INSERT INTO " + t + " VALUES ('0123456789abcdef', 8)");
        assertThatThrownBy(() -> once.getOrCreate(t, Map.of("k", "0123456789abcdefX"), Map.of("v", 9)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("BINARY(16)");
        assertThatThrownBy(() -> once.upsert(
                        t,
                        Map.of("k", "0123456789abcdefX", "v", 9),
                        Upsert.on("k").doUpdate()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(count(db, "SELECT SUM(v) FROM " + t)).isEqualTo(21);
    }

    /**
     * A guarded batch holding keys equal only by the unique index's collation ('a' v7 then 'A' v6 under a
     * case-insensitive key): they met in one round, where the last occurrence won the merge, so v6 was stored
     * over v7 (helper-67). Applied one by one, v7 stands: rounds now split keys by the database's equality.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void upsertAll_guardedBatchHoldingCollationEqualKeys_appliedInOrder(Db db) throws SQLException {
        String t = TestDatabases.newTable("cikeys");
        String columns = ", price INT, version INT)";
        switch (db) {
            case POSTGRES ->
                execute(
                        db,
                        "CREATE COLLATION IF NOT EXISTS once_ci (provider = icu, locale = 'und-u-ks-level2',"
                                + " deterministic = false)",
                        "CREATE TABLE " + t + " (k text COLLATE once_ci NOT NULL UNIQUE" + columns);
            case MARIADB ->
                execute(
                        db,
                        "CREATE TABLE " + t + " (k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
                                + " NOT NULL UNIQUE" + columns);
            case SQLITE -> execute(db, "CREATE TABLE " + t + " (k TEXT COLLATE NOCASE NOT NULL UNIQUE" + columns);
        }
        Once once = once(db);
        Upsert newest = Upsert.on("k").doUpdate().onlyIfIncoming("version", Upsert.Comparison.GREATER);
        once.upsert(t, Map.of("k", "a", "price", 50, "version", 5), newest);
        assertThat(once.upsertAll(
                        t,
                        List.of(
                                Map.of("k", "a", "price", 70, "version", 7),
                                Map.of("k", "A", "price", 60, "version", 6),
                                Map.of("k", "c", "price", 70, "version", 7),
                                Map.of("k", "C", "price", 60, "version", 6),
                                Map.of("k", "d", "price", 10, "version", 1),
                                Map.of("k", "D", "price", 20, "version", 2),
                                Map.of("k", "d", "price", 30, "version", 3)),
                        newest))
                .containsExactly(
                        UpsertOutcome.UPDATED,
                        UpsertOutcome.UNCHANGED,
                        UpsertOutcome.INSERTED,
                        UpsertOutcome.UNCHANGED,
                        UpsertOutcome.INSERTED,
                        UpsertOutcome.UPDATED,
                        UpsertOutcome.UPDATED);
        assertThat(count(db, "SELECT price FROM " + t + " WHERE version = 7 AND k = 'a'"))
                .isEqualTo(70);
        assertThat(count(db, "SELECT price FROM " + t + " WHERE version = 7 AND k = 'c'"))
                .isEqualTo(70);
        assertThat(count(db, "SELECT price FROM " + t + " WHERE version = 3 AND k = 'd'"))
                .isEqualTo(30);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(3);
    }

    /**
     * MariaDB rounds a number to its column's decimal places as it stores it (DECIMAL(10,2), INT, FLOAT(7,4))
     * and compares the value given: getOrCreate(1.005) inserted the row 1.01, and the second call found
     * nothing and failed with a duplicate-key error (helper-67). Such a key is refused, naming the places;
     * keys within them are found again.
     */
    @Test
    void mariadb_keyWithMoreDecimalsThanTheColumn_refused() throws SQLException {
        Db db = Db.MARIADB;
        String t = TestDatabases.newTable("places");
        execute(db, "CREATE TABLE " + t + " (d DECIMAL(10,2) PRIMARY KEY, i INT UNIQUE, f FLOAT(7,4) UNIQUE, v INT)");
        Once once = once(db);
        for (Map<String, Object> key : List.<Map<String, Object>>of(
                Map.of("d", new java.math.BigDecimal("1.005")),
                Map.of("d", 1.005),
                Map.of("i", 1.5),
                Map.of("f", 0.12345))) {
            assertThatThrownBy(() -> once.getOrCreate(t, key, Map.of("v", 1)))
                    .as("%s", key)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("decimal places");
        }
        assertThatThrownBy(() -> once.upsert(
                        t,
                        Map.of("d", new java.math.BigDecimal("2.001"), "v", 1),
                        Upsert.on("d").doUpdate()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isZero();
        Map<String, Object> within = Map.of("d", new java.math.BigDecimal("1.010"));
        assertThat(once.getOrCreate(t, within, Map.of("i", 2.0, "f", 0.1234, "v", 1))
                        .created())
                .isTrue();
        assertThat(once.getOrCreate(t, within, Map.of("v", 2)).get("v")).isEqualTo(1);
        assertThat(once.getOrCreate(t, Map.of("d", 1.01), Map.of("v", 2)).get("v"))
                .isEqualTo(1);
        assertThat(once.getOrCreate(t, Map.of("i", 2.0), Map.of("d", 3, "v", 2)).get("v"))
                .isEqualTo(1);
        assertThat(once.getOrCreate(t, Map.of("f", 0.1234), Map.of("d", 3, "v", 2))
                        .get("v"))
                .isEqualTo(1);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
    }
}
