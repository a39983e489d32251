package dev.once.jdbc;

import static dev.once.jdbc.testing.TestDatabases.count;
import static dev.once.jdbc.testing.TestDatabases.execute;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class GetOrCreateTest {
    static HikariDataSource pool(Db db) {
        return TestDatabases.shared(db);
    }

    /** quotes(id, item UNIQUE, sku UNIQUE, price) */
    static String quotes(Db db) throws SQLException {
        String t = TestDatabases.newTable("quotes");
        execute(
                db,
                "CREATE TABLE " + t + " (" + db.idColumn()
                        + ", item VARCHAR(50) NOT NULL UNIQUE, sku VARCHAR(50) UNIQUE, price INT)");
        return t;
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_absent_insertsOnceThenFinds(Db db) throws SQLException {
        String t = quotes(db);
        Once once = Once.using(pool(db));

        GetOrCreateResult first = once.getOrCreate(t, Map.of("item", "AAPL"), Map.of("price", 190));
        GetOrCreateResult second = once.getOrCreate(t, Map.of("item", "AAPL"), Map.of("price", 999));

        assertThat(first.created()).isTrue();
        assertThat(second.created()).isFalse();
        assertThat(((Number) second.get("price")).intValue()).isEqualTo(190);
        assertThat(second.get("id").toString()).isEqualTo(first.get("id").toString());
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_foundRow_consumesNoGeneratedKey(Db db) throws SQLException {
        String t = quotes(db);
        Once once = Once.using(pool(db));

        long last = 0;
        for (int i = 0; i < 10; i++) { // creations: on PostgreSQL the next lookups take the one-statement path
            last = ((Number) once.getOrCreate(t, Map.of("item", "I" + i), Map.of("price", i))
                            .get("id"))
                    .longValue();
        }
        for (int i = 0; i < 2; i++) {
            assertThat(once.getOrCreate(t, Map.of("item", "I0"), Map.of("price", 2))
                            .created())
                    .isFalse();
        }
        for (int i = 0; i < 20; i++) { // and the plain SELECT-first path once hits dominate
            assertThat(once.getOrCreate(t, Map.of("item", "I1"), Map.of("price", 2))
                            .created())
                    .isFalse();
        }
        long next = ((Number) once.getOrCreate(t, Map.of("item", "NEW"), Map.of("price", 3))
                        .get("id"))
                .longValue();

        // a found row must not evaluate the id's nextval / auto-increment (a gap per read)
        assertThat(next).isEqualTo(last + 1);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_lazyDefaults_runOnlyWhenCreating(Db db) throws SQLException {
        String t = quotes(db);
        Once once = Once.using(pool(db));
        AtomicInteger calls = new AtomicInteger();

        once.getOrCreate(t, Map.of("item", "MSFT"), () -> Map.of("price", calls.incrementAndGet()));
        once.getOrCreate(t, Map.of("item", "MSFT"), () -> Map.of("price", calls.incrementAndGet()));
        once.getOrCreate(t, Map.of("item", "MSFT"), () -> Map.of("price", calls.incrementAndGet()));

        assertThat(calls).hasValue(1);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_noUniqueIndex_refusesAndNamesConstraint(Db db) throws SQLException {
        String t = TestDatabases.newTable("plain");
        execute(db, "CREATE TABLE " + t + " (" + db.idColumn() + ", item VARCHAR(50), price INT)");
        Once once = Once.using(pool(db));

        assertThatThrownBy(() -> once.getOrCreate(t, Map.of("item", "AAPL"), Map.of()))
                .isInstanceOf(NotAtomicException.class)
                .hasMessageContaining("getOrCreate on " + t + "(item) is not atomic")
                .hasMessageContaining("Add UNIQUE (item).");
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isZero();
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_partialUniqueIndex_refuses(Db db) throws SQLException {
        assumeTrue(db.hasPartialIndexes(), "MariaDB has no partial indexes");
        String t = TestDatabases.newTable("partial");
        execute(
                db,
                "CREATE TABLE " + t + " (" + db.idColumn() + ", item VARCHAR(50), price INT)",
                "CREATE UNIQUE INDEX " + t + "_item ON " + t + " (item) WHERE price > 0");
        Once once = Once.using(pool(db));

        assertThatThrownBy(() -> once.getOrCreate(t, Map.of("item", "AAPL"), Map.of()))
                .isInstanceOf(NotAtomicException.class);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_compositeLookupWithinUniqueKey_usesIt(Db db) throws SQLException {
        String t = quotes(db);
        Once once = Once.using(pool(db));

        GetOrCreateResult r = once.getOrCreate(t, Map.of("item", "IBM", "price", 5), Map.of());
        GetOrCreateResult again = once.getOrCreate(t, Map.of("item", "IBM", "price", 5), Map.of());

        assertThat(r.created()).isTrue();
        assertThat(again.created()).isFalse();
        assertThatThrownBy(() -> once.getOrCreate(t, Map.of("item", "IBM", "price", 6), Map.of()))
                .isInstanceOf(SQLException.class)
                .isNotInstanceOf(SnapshotConflictException.class);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_unknownColumns_listsThem(Db db) throws SQLException {
        String t = quotes(db);
        Once once = Once.using(pool(db));

        assertThatThrownBy(() -> once.getOrCreate(t, Map.of("item", "A"), Map.of("prise", 1, "colour", "red")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown columns")
                .hasMessageContaining("prise")
                .hasMessageContaining("colour")
                .hasMessageContaining("its columns are id, item, sku, price");
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_invalidIdentifierOrNullKey_refused(Db db) throws SQLException {
        String t = quotes(db);
        Once once = Once.using(pool(db));

        assertThatThrownBy(() -> once.getOrCreate(t + "; DROP TABLE x", Map.of("item", "A"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("invalid table name");
        java.util.HashMap<String, Object> nullLookup = new java.util.HashMap<>();
        nullLookup.put("item", null);
        assertThatThrownBy(() -> once.getOrCreate(t, nullLookup, Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is null");
        assertThatThrownBy(() -> once.getOrCreate("no_such_table", Map.of("item", "A"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not exist");
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_collidesOnOtherKey_rethrowsOriginalAndKeepsRow(Db db) throws SQLException {
        String t = quotes(db);
        Once once = Once.using(pool(db));
        once.getOrCreate(t, Map.of("item", "AAPL"), Map.of("sku", "S1", "price", 1));

        assertThatThrownBy(() -> once.getOrCreate(t, Map.of("item", "GOOG"), Map.of("sku", "S1", "price", 2)))
                .isInstanceOfSatisfying(
                        SQLException.class,
                        e -> assertThat(uniqueViolation(db, e)).isTrue());

        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
        assertThat(count(db, "SELECT price FROM " + t + " WHERE item = 'AAPL'")).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_failureInCallerTransaction_rollsBackOnlyToSavepoint(Db db) throws SQLException {
        String t = quotes(db);
        Once once = Once.using(pool(db));
        once.getOrCreate(t, Map.of("item", "AAPL"), Map.of("sku", "S1"));

        try (Connection c = pool(db).getConnection()) {
            c.setAutoCommit(false);
            GetOrCreateResult before = once.getOrCreate(c, t, Map.of("item", "B"), () -> Map.of("sku", "S2"));
            assertThatThrownBy(() -> once.getOrCreate(c, t, Map.of("item", "C"), () -> Map.of("sku", "S1")))
                    .isInstanceOfSatisfying(
                            SQLException.class,
                            e -> assertThat(uniqueViolation(db, e)).isTrue());
            GetOrCreateResult after = once.getOrCreate(c, t, Map.of("item", "D"), () -> Map.of("sku", "S4"));
            c.commit();
            assertThat(before.created()).isTrue();
            assertThat(after.created()).isTrue();
        }
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(3);
        assertThat(count(db, "SELECT COUNT(*) FROM " + t + " WHERE item = 'C'")).isZero();
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_rowCommittedAfterCallerSnapshot_explainsOrFindsIt(Db db) throws SQLException {
        String t = quotes(db);
        Once once = Once.using(pool(db));
        try (Connection c = pool(db).getConnection()) {
            if (db != Db.SQLITE) c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            c.setAutoCommit(false);
            try {
                countIn(c, "SELECT COUNT(*) FROM " + t); // takes the snapshot
                once.getOrCreate(t, Map.of("item", "LATE"), Map.of("price", 7)); // another connection commits

                if (db == Db.MARIADB) {
                    // InnoDB's locking read sees the latest committed row: found, not an error.
                    GetOrCreateResult r = once.getOrCreate(c, t, Map.of("item", "LATE"), () -> Map.of("price", 8));
                    assertThat(r.created()).isFalse();
                    assertThat(((Number) r.get("price")).intValue()).isEqualTo(7);
                } else {
                    assertThatThrownBy(() -> once.getOrCreate(c, t, Map.of("item", "LATE"), () -> Map.of("price", 8)))
                            .isInstanceOf(SnapshotConflictException.class)
                            .hasMessageContaining("Roll back and run the transaction again")
                            .extracting(e -> ((SQLException) e).getSQLState())
                            .isEqualTo("40001");
                }
            } finally {
                c.rollback();
                c.setAutoCommit(true);
                c.setTransactionIsolation(
                        Connection.TRANSACTION_SERIALIZABLE == c.getTransactionIsolation()
                                ? Connection.TRANSACTION_SERIALIZABLE
                                : c.getTransactionIsolation());
            }
        }
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
    }

    /**
     * Security test F9c: with UNIQUE (item) only, getOrCreate(item, sub) on a row with another sub gave a
     * clear 23505 on PostgreSQL but MariaDB's raw "Duplicate entry".
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_keyRowDiffersInOtherLookupColumns_saysSoOnEveryDatabase(Db db) throws SQLException {
        String t = TestDatabases.newTable("subs");
        execute(db, "CREATE TABLE " + t + " (item VARCHAR(20) NOT NULL UNIQUE, sub INT, val INT)");
        Once once = Once.using(pool(db));
        once.getOrCreate(t, Map.of("item", "a", "sub", 1), Map.of());

        assertThatThrownBy(() -> once.getOrCreate(t, Map.of("item", "a", "sub", 2), Map.of()))
                .isInstanceOfSatisfying(
                        SQLException.class,
                        e -> assertThat(uniqueViolation(db, e)).isTrue())
                .hasMessageContaining("a row with {item=a} exists but differs in the other lookup columns");
        assertThatThrownBy(() -> once.updateOrCreate(t, Map.of("item", "a", "sub", 2), Map.of("val", 1), Map.of()))
                .isInstanceOfSatisfying(
                        SQLException.class,
                        e -> assertThat(uniqueViolation(db, e)).isTrue())
                .hasMessageContaining("exists but differs in the other lookup columns");
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
    }

    /**
     * Security test F9a: a unique index with its own case-insensitive collation (PostgreSQL ICU, SQLite
     * NOCASE) and a row 'abc': getOrCreate('AbC') in auto-commit threw SnapshotConflictException ("REPEATABLE
     * READ or SERIALIZABLE ... roll back and rerun") after 8 attempts, though no transaction was involved;
     * then a unique violation saying the index calls another row equal. Since helper-63, lookups compare
     * as the unique index does, so 'AbC' finds the row 'abc' (one key to the index).
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_indexCollationCallsAnotherRowEqual_thatRowIsReturned(Db db) throws SQLException {
        assumeTrue(db != Db.MARIADB, "a MariaDB index compares with its column's collation");
        String t = TestDatabases.newTable("ci");
        if (db == Db.POSTGRES) {
            assumeTrue(count(db, "SELECT COUNT(*) FROM pg_collation WHERE collprovider = 'i'") > 0, "no ICU");
            execute(
                    db,
                    "CREATE COLLATION IF NOT EXISTS once_ci"
                            + " (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
                    "CREATE TABLE " + t + " (item TEXT NOT NULL, val INT)",
                    "CREATE UNIQUE INDEX " + t + "_item ON " + t + " (item COLLATE once_ci)");
        } else {
            execute(db, "CREATE TABLE " + t + " (item TEXT NOT NULL, val INT, UNIQUE (item COLLATE NOCASE))");
        }
        Once once = Once.builder(pool(db))
                .backoff(java.time.Duration.ofMillis(1), java.time.Duration.ofMillis(1))
                .build();
        assertThat(once.getOrCreate(t, Map.of("item", "abc"), Map.of("val", 1)).created())
                .isTrue();

        for (int i = 0; i < 2; i++) { // both statement shapes on PostgreSQL
            GetOrCreateResult r = once.getOrCreate(t, Map.of("item", "AbC"), Map.of("val", 2));
            assertThat(r.created()).isFalse();
            assertThat(r.get("item")).isEqualTo("abc");
            assertThat(r.get("val")).isEqualTo(1);
        }
        assertThat(once.getOrCreate(t, Map.of("item", "AbC"), () -> Map.of("val", 2))
                        .get("item"))
                .isEqualTo("abc");
        assertThat(once.getOrCreateAll(t, List.of(Map.of("item", "AbC")), l -> Map.of("val", 2))
                        .get(0)
                        .get("item"))
                .isEqualTo("abc");
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(1);
    }

    /**
     * Security test 35 finding 2: getOrCreateAll matched the rows it read and inserted to the lookups by
     * Java equality of the key, so where getOrCreate worked it threw "the insert conflicted on unique key
     * [k] but no row has ..." (PostgreSQL ICU collation, citext, char(n) even on a new key, timestamptz
     * given as OffsetDateTime).
     */
    @ParameterizedTest
    @ValueSource(strings = {"icu", "citext", "char", "timestamptz"})
    void getOrCreateAll_keyStoredInAnotherForm_findsOrCreates(String kind) throws SQLException {
        UpsertTest.KeyForm f = UpsertTest.keyForm(kind);
        Once once = Once.using(pool(Db.POSTGRES));

        List<GetOrCreateResult> r = once.getOrCreateAll(
                f.table(), List.of(Map.of("k", f.existing()), Map.of("k", f.fresh())), l -> Map.of("price", 2));

        assertThat(r).extracting(GetOrCreateResult::created).containsExactly(false, true);
        assertThat(r.get(0).get("price")).isEqualTo(1);
        assertThat(r.get(1).get("price")).isEqualTo(2);
        assertThat(once.getOrCreateAll(f.table(), List.of(Map.of("k", f.fresh())), l -> Map.of("price", 3)))
                .extracting(GetOrCreateResult::created)
                .containsExactly(false);
        assertThat(count(Db.POSTGRES, "SELECT COUNT(*) FROM " + f.table())).isEqualTo(2);
    }

    /**
     * Security test 35 finding 2 and 3: under SQLite NOCASE (and a nondeterministic ICU collation) getOrCreate
     * finds SKU1 for sku1 but getOrCreateAll threw; lookups equal only under the collation share one row,
     * created for the first of them.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreateAll_keyEqualOnlyUnderTheCollation_findsTheRow(Db db) throws SQLException {
        String collation = switch (db) {
            case MARIADB -> " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci";
            case SQLITE -> " COLLATE NOCASE";
            case POSTGRES -> {
                assumeTrue(count(db, "SELECT COUNT(*) FROM pg_collation WHERE collprovider = 'i'") > 0, "no ICU");
                execute(
                        db,
                        "CREATE COLLATION IF NOT EXISTS once_ci"
                                + " (provider = icu, locale = 'und-u-ks-level2', deterministic = false)");
                yield " COLLATE once_ci";
            }
        };
        String t = TestDatabases.newTable("nc");
        execute(
                db,
                "CREATE TABLE " + t + " (sku VARCHAR(20)" + collation + " NOT NULL UNIQUE, v INT)",
                "INSERT INTO " + t + " VALUES ('SKU1', 1)");
        Once once = Once.using(pool(db));

        List<GetOrCreateResult> r = once.getOrCreateAll(
                t,
                List.of(Map.of("sku", "sku1"), Map.of("sku", "n1"), Map.of("sku", "N1"), Map.of("sku", "n1")),
                l -> Map.of("v", 2));

        assertThat(r).extracting(GetOrCreateResult::created).containsExactly(false, true, false, false);
        assertThat(r).extracting(g -> g.get("sku")).containsExactly("SKU1", "n1", "n1", "n1");
        assertThat(count(db, "SELECT COUNT(*) FROM " + t)).isEqualTo(2);
    }

    /**
     * Security test 35 (noticed with finding 1): on a citext key getOrCreate(sku1) threw "the insert conflicted
     * on unique key [k] but no row has {k=sku1}" with a row SKU1: a String binds as varchar, and citext =
     * varchar resolves to text = text, which compares case. The lookup value is cast to the column's type.
     */
    @org.junit.jupiter.api.Test
    void getOrCreate_citextKey_findsTheRowInAnotherCase() throws SQLException {
        UpsertTest.KeyForm f = UpsertTest.keyForm("citext");
        Once once = Once.using(pool(Db.POSTGRES));

        GetOrCreateResult r = once.getOrCreate(f.table(), Map.of("k", f.existing()), Map.of("price", 2));
        assertThat(r.created()).isFalse();
        assertThat(String.valueOf(r.get("k"))).isEqualTo("SKU1"); // a PGobject
        assertThat(once.getOrCreate(f.table(), Map.of("k", f.existing()), () -> Map.of("price", 2))
                        .created())
                .isFalse();
        assertThat(once.updateOrCreate(f.table(), Map.of("k", f.existing()), Map.of("price", 3), Map.of())
                        .created())
                .isFalse();
        assertThat(count(Db.POSTGRES, "SELECT COUNT(*) FROM " + f.table())).isEqualTo(1);
        assertThat(count(Db.POSTGRES, "SELECT price FROM " + f.table())).isEqualTo(3);
    }

    /**
     * helper-63: another writer inserts the key between this call's read and its insert, and a third
     * deletes it again before the read after the insert's conflict. The key is free: the call inserts
     * it (it threw a unique violation saying no row has the key). The writers run on other connections
     * just before this call's statements are prepared, so the interleaving is the same in every run.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_conflictingRowDeletedBeforeTheReadAfterIt_insertsAgain(Db db) throws Exception {
        String t = quotes(db);
        Once once = Once.using(pool(db));
        AtomicInteger inserts = new AtomicInteger();
        AtomicInteger deletes = new AtomicInteger();
        try (Connection real = pool(db).getConnection()) {
            Connection c = beforeEachStatement(real, sql -> {
                if (sql.startsWith("INSERT") && inserts.getAndIncrement() == 0)
                    execute(db, "INSERT INTO " + t + " (item, price) VALUES ('AAPL', 1)");
                else if (sql.startsWith("SELECT") && inserts.get() == 1 && deletes.getAndIncrement() == 0)
                    execute(db, "DELETE FROM " + t + " WHERE item = 'AAPL'");
            });
            GetOrCreateResult r = once.getOrCreate(c, t, Map.of("item", "AAPL"), () -> Map.of("price", 190));
            assertThat(deletes).as("the row was deleted after the conflict").hasPositiveValue();
            assertThat(r.created()).isTrue();
            assertThat(((Number) r.get("price")).intValue()).isEqualTo(190);
        }
        assertThat(count(db, "SELECT COUNT(*) FROM " + t + " WHERE item = 'AAPL' AND price = 190"))
                .isEqualTo(1);
    }

    /** The same for updateOrCreate: its update finds no row, its insert conflicts, the row is gone at the read. */
    @ParameterizedTest
    @EnumSource(Db.class)
    void updateOrCreate_conflictingRowDeletedBeforeTheReadAfterIt_insertsAgain(Db db) throws Exception {
        // PostgreSQL only: SQLite runs updateOrCreate in one write transaction, and MariaDB's update that
        // finds no row takes a gap lock until it commits: no other writer can insert the key in between (the
        // other connection's insert waited out innodb_lock_wait_timeout, 50 s)
        assumeTrue(db == Db.POSTGRES);
        String t = quotes(db);
        Once once = Once.using(pool(db));
        AtomicInteger inserts = new AtomicInteger();
        AtomicInteger deletes = new AtomicInteger();
        try (Connection real = pool(db).getConnection()) {
            Connection c = beforeEachStatement(real, sql -> {
                if (sql.startsWith("INSERT") && inserts.getAndIncrement() == 0)
                    execute(db, "INSERT INTO " + t + " (item, price) VALUES ('AAPL', 1)");
                else if (sql.startsWith("SELECT") && inserts.get() == 1 && deletes.getAndIncrement() == 0)
                    execute(db, "DELETE FROM " + t + " WHERE item = 'AAPL'");
            });
            GetOrCreateResult r = once.updateOrCreate(c, t, Map.of("item", "AAPL"), Map.of("price", 190), Map.of());
            assertThat(deletes).as("the row was deleted after the conflict").hasPositiveValue();
            assertThat(r.created()).isTrue();
        }
        assertThat(count(db, "SELECT COUNT(*) FROM " + t + " WHERE item = 'AAPL' AND price = 190"))
                .isEqualTo(1);
    }

    interface SqlHook {
        void before(String sql) throws SQLException;
    }

    /** The connection, running {@code hook} before each statement it prepares (on the database's own connections). */
    static Connection beforeEachStatement(Connection real, SqlHook hook) {
        return (Connection) java.lang.reflect.Proxy.newProxyInstance(
                Connection.class.getClassLoader(), new Class<?>[] {Connection.class}, (proxy, m, args) -> {
                    if (m.getName().equals("prepareStatement") && args != null && args[0] instanceof String sql) {
                        System.err.println("HOOK " + System.nanoTime() / 1000000 + " " + sql);
                        hook.before(sql.stripLeading());
                        System.err.println("HOOKED " + System.nanoTime() / 1000000);
                    }
                    try {
                        return m.invoke(real, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    static long countIn(Connection c, String sql) throws SQLException {
        try (var s = c.createStatement();
                var rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static boolean uniqueViolation(Db db, SQLException e) {
        return switch (db) {
            case POSTGRES -> "23505".equals(e.getSQLState());
            case MARIADB -> e.getErrorCode() == 1062;
            case SQLITE ->
                e instanceof org.sqlite.SQLiteException s
                        && s.getResultCode() == org.sqlite.SQLiteErrorCode.SQLITE_CONSTRAINT_UNIQUE;
        };
    }
}
