package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A value is never answered for another key, nor across namespaces: whatever the key's text (unpaired
 * surrogates, NUL, a megabyte) and whatever the database's collation does to the namespace.
 */
class KeyIdentityTest {

    private static OnceCacheBuilder<String> cache(Db db, String namespace) {
        return OnceCache.builder(TestDatabases.shared(db)).namespace(namespace).codec(Codec.string());
    }

    /**
     * UTF-8 has no form for an unpaired surrogate: String.getBytes wrote "?" for it, so the two keys
     * had one hash (U+D800 alone and "?"), and the second key got the first one's value without a loader call (helper-26, on
     * every database). Well-formed keys keep their hashes.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void keysThatUtf8CannotTellApart_eachItsOwnValue(Db db) {
        List<String> keys = List.of("?", "\uD800", "\uDC00", "x?", "x\uDC00", "a\uD800b", "a\uDBFFb", "\uDC00\uD800");
        AtomicInteger calls = new AtomicInteger();
        try (OnceCache<String> cache = cache(db, TestDatabases.newTable("ns")).build()) {
            for (String key : keys) {
                assertThat(cache.get(key, () -> {
                            calls.incrementAndGet();
                            return "value of " + key;
                        }))
                        .as("key %s", key.chars().mapToObj(Integer::toHexString).toList())
                        .isEqualTo("value of " + key);
            }
            for (String key : keys) assertThat(cache.get(key, () -> "again")).isEqualTo("value of " + key);
        }
        assertThat(calls).hasValue(keys.size());
        // a well-formed key keeps its UTF-8, after its namespace's length and UTF-8
        assertThat(KeyHash.of("quotes", "a\uD83D\uDE00b"))
                .isEqualTo(sha256Hex(concat(
                        new byte[] {0, 0, 0, 6},
                        "quotes".getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        "a\uD83D\uDE00b".getBytes(java.nio.charset.StandardCharsets.UTF_8))));
    }

    /**
     * The key's text is stored beside its hash for people reading rows: a NUL in it failed on PostgreSQL
     * with the raw encoding error, a 1 MB key on MariaDB with "Data too long" (helper-26). The hash is the
     * key; the text shown is cut and cleaned, and every such key works on every database.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void keysWithNulOrOfAMegabyte_workEverywhere(Db db) {
        String big = "k".repeat(1 << 20);
        String big2 = big + "2";
        try (OnceCache<String> cache = cache(db, TestDatabases.newTable("ns")).build()) {
            assertThat(cache.get("a\u0000b", () -> "nul")).isEqualTo("nul");
            assertThat(cache.get("a\u0000c", () -> "nul2")).isEqualTo("nul2");
            assertThat(cache.get(big, () -> "big")).isEqualTo("big");
            assertThat(cache.get(big2, () -> "big2")).isEqualTo("big2");
            assertThat(cache.lookup(big, () -> "again").source())
                    .isIn(CacheResult.Source.HIT, CacheResult.Source.NEAR_HIT);
            assertThat(cache.get("a\u0000b", () -> "again")).isEqualTo("nul");
        }
    }

    /**
     * MariaDB's collations pad with spaces (utf8mb4_bin included): namespaces "ns" and "ns " met in one
     * row (helper-26). A namespace that ends or begins with white space is refused.
     */
    @Test
    void namespaceWithSurroundingWhiteSpace_refused() {
        for (String ns : List.of("ns ", " ns", "ns\t", "ns\n")) {
            assertThatThrownBy(() ->
                            OnceCache.builder(TestDatabases.shared(Db.SQLITE)).namespace(ns))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("white space");
        }
    }

    /**
     * A table made with MariaDB's default case-insensitive collation (the shipped DDL without its COLLATE
     * clause): namespaces "Quotes" and "quotes" shared values (helper-26). Such a table is refused at
     * build, naming the statement that fixes it.
     */
    @Test
    void mariaDbTableWhoseNamespaceIgnoresCase_refusedAtBuild() throws Exception {
        String table = TestDatabases.newTable("ci");
        String ddl =
                Schema.ddl(StoreDialect.MARIADB, table).replace("COLLATE=utf8mb4_bin", "COLLATE=utf8mb4_general_ci");
        for (String statement : ddl.split(";")) if (!statement.isBlank()) TestDatabases.execute(Db.MARIADB, statement);
        assertThatThrownBy(() -> cache(Db.MARIADB, "Quotes")
                        .table(table)
                        .createTable(false)
                        .build())
                .isInstanceOf(CacheLoadException.class)
                .hasMessageContaining("utf8mb4_general_ci")
                .hasMessageContaining("ALTER TABLE " + table);
        TestDatabases.execute(
                Db.MARIADB, "ALTER TABLE " + table + " MODIFY namespace VARCHAR(200) COLLATE utf8mb4_bin NOT NULL");
        List<String> got = new ArrayList<>();
        for (String ns : List.of("Quotes", "quotes")) {
            try (OnceCache<String> c =
                    cache(Db.MARIADB, ns).table(table).createTable(false).build()) {
                got.add(c.get("AAPL", () -> "from " + ns));
            }
        }
        assertThat(got).containsExactly("from Quotes", "from quotes");
    }

    /**
     * A table made by hand whose namespace column compares by a collation that calls two namespaces equal
     * (SQLite NOCASE, a PostgreSQL nondeterministic ICU collation): "Quotes" and "quotes", "ns" and "ns"
     * with a soft hyphen shared rows, and values (helper-28). The namespace is in the key's hash too: each
     * gets its own values whatever the column's collation.
     */
    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE", "POSTGRES"})
    void handMadeTableWhoseCollationCallsNamespacesEqual_eachNamespaceItsOwnValues(Db db) throws Exception {
        String table = TestDatabases.newTable("nocase");
        StoreDialect dialect = db == Db.SQLITE ? StoreDialect.SQLITE : StoreDialect.POSTGRES;
        String collation = db == Db.SQLITE ? "NOCASE" : "once_test_ci";
        if (db == Db.POSTGRES)
            TestDatabases.execute(
                    db,
                    "CREATE COLLATION IF NOT EXISTS once_test_ci (provider = icu, locale ="
                            + " 'und-u-ks-level2', deterministic = false)");
        String ddl = Schema.ddl(dialect, table)
                .replace(
                        "namespace   VARCHAR(200) NOT NULL",
                        "namespace VARCHAR(200) COLLATE " + collation + " NOT NULL")
                .replace("namespace   TEXT    NOT NULL", "namespace TEXT COLLATE " + collation + " NOT NULL");
        assertThat(ddl).contains("COLLATE " + collation);
        for (String statement : ddl.split(";")) if (!statement.isBlank()) TestDatabases.execute(db, statement);
        List<String> got = new ArrayList<>();
        for (String ns : List.of("Quotes", "quotes", "QUOTES")) {
            try (OnceCache<String> c =
                    cache(db, ns).table(table).createTable(false).build()) {
                got.add(c.get("AAPL", () -> "from " + ns));
                got.add(c.get("AAPL", () -> "again")); // a hit of its own row
            }
        }
        assertThat(got)
                .containsExactly(
                        "from Quotes", "from Quotes", "from quotes", "from quotes", "from QUOTES", "from QUOTES");
    }

    @Test
    void badArguments_clearErrors() {
        for (String ns : List.of("a\u0000b", "a\u0007b", "a\uD800b")) { // PostgreSQL refused a NUL in every statement
            assertThatThrownBy(() ->
                            OnceCache.builder(TestDatabases.shared(Db.SQLITE)).namespace(ns))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("namespace");
        }
        try (OnceCache<String> cache =
                cache(Db.SQLITE, TestDatabases.newTable("ns")).build()) {
            assertThatThrownBy(() -> cache.purge(null))
                    .isInstanceOf(NullPointerException.class)
                    .hasMessage("key");
        }
        assertThatThrownBy(() ->
                        OnceCache.builder(TestDatabases.shared(Db.SQLITE)).ttl(Duration.ofSeconds(Long.MAX_VALUE)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ttl");
        assertThatThrownBy(
                        () -> OnceCache.builder(TestDatabases.shared(Db.SQLITE)).table("t".repeat(80)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("51");
    }

    private static byte[] concat(byte[]... parts) {
        var out = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    private static String sha256Hex(byte[] bytes) {
        try {
            return java.util.HexFormat.of()
                    .formatHex(
                            java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
