package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * A stored value sent with its NOTIFY (PostgreSQL): a waiting process takes it without reading the row,
 * and nothing that any role able to connect could send or hear makes a waiter serve a value other than
 * the one its load stored, nor shows a value to a listener.
 */
class SealedNotifyTest {
    private static final String CHANNEL = "once_entry";
    private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    @Test
    void seal_opensOnlyUnderItsTokenNamespaceAndKey_andHidesTheValue() {
        String hash = KeyHash.of("ns", "k");
        byte[] value = "the answer".getBytes(StandardCharsets.UTF_8);
        String payload = SealedValue.seal(SECRET, "token-1", "ns", hash, 60_000, value);

        assertThat(payload).startsWith("v/ns/" + hash + "/");
        assertThat(payload)
                .doesNotContain("the answer")
                .doesNotContain(Base64.getEncoder().encodeToString(value))
                .doesNotContain(Base64.getUrlEncoder().withoutPadding().encodeToString(value));
        SealedValue.Opened opened = SealedValue.open(SECRET, payload, "token-1", "ns", hash);
        assertThat(opened).isNotNull();
        assertThat(opened.freshMillis()).isEqualTo(60_000);
        assertThat(new String(opened.value(), StandardCharsets.UTF_8)).isEqualTo("the answer");

        assertThat(SealedValue.open(SECRET, payload, "token-2", "ns", hash)).isNull();
        // the token alone (which a role that reads the cache table sees) opens nothing without the secret
        assertThat(SealedValue.open(new byte[32], payload, "token-1", "ns", hash))
                .isNull();
        assertThat(SealedValue.open(null, payload, "token-1", "ns", hash)).isNull();
        assertThat(SealedValue.open(SECRET, payload, null, "ns", hash)).isNull();
        assertThat(SealedValue.open(SECRET, payload, "token-1", "other", hash)).isNull();
        assertThat(SealedValue.open(SECRET, payload, "token-1", "ns", KeyHash.of("ns", "j")))
                .isNull();
        // the same sealed bytes moved under another namespace or key do not open either
        String moved = payload.replace("v/ns/", "v/other/");
        assertThat(SealedValue.open(SECRET, moved, "token-1", "other", hash)).isNull();
        int at = payload.length() - 20; // inside the sealed bytes (a last character may carry unused bits)
        String tampered =
                payload.substring(0, at) + (payload.charAt(at) == 'A' ? 'B' : 'A') + payload.substring(at + 1);
        assertThat(SealedValue.open(SECRET, tampered, "token-1", "ns", hash)).isNull();
        assertThat(SealedValue.open(SECRET, payload.substring(0, payload.length() - 10), "token-1", "ns", hash))
                .isNull();
        assertThat(SealedValue.open(SECRET, "v/ns/" + hash + "/!!not base64!!", "token-1", "ns", hash))
                .isNull();

        assertThat(SealedValue.address(payload)).containsExactly("ns", hash);
        assertThat(SealedValue.address(SealedValue.seal(SECRET, "t", "a/b", hash, 1, value)))
                .containsExactly("a/b", hash);
        assertThat(SealedValue.address("k/ns/" + hash)).isNull();
        assertThat(SealedValue.seal(SECRET, "t", "ns", hash, 1, new byte[6_000]))
                .isNull(); // over NOTIFY's limit
        assertThat(SealedValue.seal(SECRET, "t", "ns", hash, 1, new byte[5_000]))
                .hasSizeLessThan(8_000);
    }

    /** Counts the cache's reads of a row; claims wait for {@code claimGate} when one is given. */
    private static DataSource counted(DataSource real, AtomicInteger reads, CountDownLatch claimGate) {
        return Delegating.statements(real, sql -> {
            if (sql.startsWith("SELECT state, value")) reads.incrementAndGet();
            if (sql.startsWith("INSERT") && sql.contains("lease_owner") && claimGate != null)
                assertThat(claimGate.await(30, TimeUnit.SECONDS)).isTrue();
        });
    }

    /** What a test does while the waiter waits, before the leader's load returns. */
    interface Meanwhile {
        void run(CompletableFuture<CacheResult<String>> waited) throws Exception;
    }

    private static CacheResult<String> waitThroughALoad(
            OnceCache<String> leader, OnceCache<String> waiter, AtomicInteger reads, String answer) throws Exception {
        return waitThroughALoad(leader, waiter, reads, answer, waited -> {});
    }

    /**
     * The leader loads {@code answer} while the waiter (whose reads {@code reads} counts) asks for the same
     * key; once the waiter's first read has found the lease, {@code meanwhile} runs, then the load
     * returns. Returns what the waiter got.
     */
    private static CacheResult<String> waitThroughALoad(
            OnceCache<String> leader, OnceCache<String> waiter, AtomicInteger reads, String answer, Meanwhile meanwhile)
            throws Exception {
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(waiter::listening);
        CompletableFuture<String> led = onAThread(() -> leader.get("k", () -> {
            loading.countDown();
            assertThat(release.await(30, TimeUnit.SECONDS)).isTrue();
            return answer;
        }));
        assertThat(loading.await(30, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<CacheResult<String>> waited = onAThread(() -> waiter.lookup("k", () -> "waiter loaded"));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> reads.get() == 1);
        meanwhile.run(waited);
        release.countDown();
        assertThat(led.get(30, TimeUnit.SECONDS)).isEqualTo(answer);
        return waited.get(30, TimeUnit.SECONDS);
    }

    private static OnceCacheBuilder<String> cache(DataSource ds, String ns) {
        return OnceCache.builder(ds)
                .notifyValues(true)
                .namespace(ns)
                .codec(Codec.string())
                .lease(Duration.ofSeconds(30))
                .nearCache(0);
    }

    private static <T> CompletableFuture<T> onAThread(java.util.concurrent.Callable<T> work) {
        return OnThread.call(Thread.ofPlatform(), work);
    }

    /**
     * A waiter that read another process's lease: with the value in the NOTIFY it reads the row once (to
     * find the lease); without it (off, or a value over NOTIFY's limit) it reads again after the wake-up.
     */
    @ParameterizedTest
    @CsvSource({"true, 100, 1", "false, 100, 2", "true, 7000, 2"})
    void waiterThatReadTheLease_takesTheSentValue(boolean notifyValues, int size, int expectedReads) throws Exception {
        String ns = TestDatabases.newTable("ns");
        AtomicInteger reads = new AtomicInteger();
        String answer = "a".repeat(size);
        try (OnceCache<String> leader = cache(TestDatabases.shared(Db.POSTGRES), ns)
                        .notifyValues(notifyValues)
                        .build();
                OnceCache<String> waiter = cache(counted(TestDatabases.shared(Db.POSTGRES), reads, null), ns)
                        .build()) {
            assertThat(waitThroughALoad(leader, waiter, reads, answer))
                    .isEqualTo(new CacheResult<>(answer, CacheResult.Source.COALESCED));
            assertThat(reads).as("the waiter's reads of the row").hasValue(expectedReads);
        }
    }

    /**
     * Tables made by migrations from an older DDL have no seal table, and the cache that may not create
     * one (createTable false) sends no values: its waiters read the row, as before, and get the answer.
     */
    @Test
    void withoutTheSealTable_noValueIsSent_andWaitersReadTheRow() throws Exception {
        String table = "t_" + TestDatabases.newTable("noseal").replaceAll("[^A-Za-z0-9_]", "_");
        try (Connection c = TestDatabases.connect(Db.POSTGRES);
                Statement s = c.createStatement()) {
            for (String statement : Schema.ddl(StoreDialect.POSTGRES, table).split(";"))
                if (!statement.isBlank()) s.execute(statement);
            s.execute("DROP TABLE " + table + "_seal");
        }
        String ns = "ns";
        AtomicInteger reads = new AtomicInteger();
        try (OnceCache<String> leader = cache(TestDatabases.shared(Db.POSTGRES), ns)
                        .table(table)
                        .createTable(false)
                        .build();
                OnceCache<String> waiter = cache(counted(TestDatabases.shared(Db.POSTGRES), reads, null), ns)
                        .table(table)
                        .createTable(false)
                        .build()) {
            assertThat(waitThroughALoad(leader, waiter, reads, "the answer"))
                    .isEqualTo(new CacheResult<>("the answer", CacheResult.Source.COALESCED));
            assertThat(reads)
                    .as("the waiter read the row again after the wake-up")
                    .hasValue(2);
            try (Connection c = TestDatabases.connect(Db.POSTGRES)) {
                assertThat(Schema.exists(c, table + "_seal")).isFalse();
            }
        }
    }

    /**
     * The seal table must be private to the cache's role: one that default privileges (or a grant) opened
     * to a reader, or that another role made first, is refused and no value is sent; waiters read rows.
     */
    @ParameterizedTest
    @CsvSource({
        "granted",
        "ownedByAnother",
        "readAllData",
        "secretColumnGranted",
        "secretColumnUpdatable",
        "serverFilesReadable",
        "replication"
    })
    void sealTableNotPrivate_noValueIsSent(String how) throws Exception {
        try {
            sealTableNotPrivate(how);
        } finally { // login roles that can read every table: none may outlive the case, or no other test seals
            TestDatabases.execute(
                    Db.POSTGRES, "DROP OWNED BY " + LOGIN_READERS, "DROP ROLE IF EXISTS " + LOGIN_READERS);
        }
    }

    /** Login roles that some cases let read the secret (helper-80's two ways past the seal table's own grants). */
    private static final String LOGIN_READERS = "once_backup, once_reporter";

    private void sealTableNotPrivate(String how) throws Exception {
        String table = "t_"
                + TestDatabases.newTable(how).replaceAll("[^A-Za-z0-9_]", "_").toLowerCase();
        try (Connection c = TestDatabases.connect(Db.POSTGRES);
                Statement s = c.createStatement()) {
            for (String role : List.of("once_reader", "once_other"))
                s.execute("DO $$ BEGIN CREATE ROLE " + role + "; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
            for (String role : LOGIN_READERS.split(", "))
                s.execute("DO $$ BEGIN CREATE ROLE " + role
                        + " LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
            s.execute("GRANT CREATE ON SCHEMA public TO once_other");
            for (String statement : Schema.ddl(StoreDialect.POSTGRES, table).split(";"))
                if (!statement.isBlank()) s.execute(statement);
            if (how.equals("granted")) {
                s.execute("GRANT SELECT ON " + table + "_seal TO once_reader");
            } else if (how.equals("readAllData")) {
                // the predefined role backup and monitoring tools are given (PostgreSQL 14+): the seal table's
                // own grants do not show it
                s.execute("GRANT pg_read_all_data TO once_backup");
            } else if (how.equals("secretColumnGranted")) {
                // a reporting role given the cache table (harmless) and, by mistake, the secret's column
                s.execute("GRANT SELECT ON " + table + " TO once_reporter");
                s.execute("GRANT SELECT (secret) ON " + table + "_seal TO once_reporter");
            } else if (how.equals("secretColumnUpdatable")) {
                // helper-81: it sets a secret of its own, then seals with it; no SELECT on the seal table needed
                s.execute("GRANT SELECT ON " + table + " TO once_reporter");
                s.execute("GRANT UPDATE (secret) ON " + table + "_seal TO once_reporter");
            } else if (how.equals("serverFilesReadable")) {
                // helper-81: the seal table's heap file holds the secret, read with pg_read_binary_file
                s.execute("GRANT EXECUTE ON FUNCTION pg_read_binary_file(text) TO once_backup");
            } else if (how.equals("replication")) {
                s.execute("ALTER ROLE once_backup REPLICATION"); // a base backup copies the seal table
            } else {
                s.execute("DROP TABLE " + table + "_seal");
                s.execute("SET ROLE once_other");
                s.execute("CREATE TABLE " + table + "_seal (id SMALLINT PRIMARY KEY, secret BYTEA NOT NULL,"
                        + " created_at BIGINT NOT NULL)");
                s.execute("GRANT ALL ON " + table + "_seal TO PUBLIC");
                s.execute("RESET ROLE");
            }
        }
        AtomicInteger reads = new AtomicInteger();
        try (OnceCache<String> leader = cache(TestDatabases.shared(Db.POSTGRES), "ns")
                        .table(table)
                        .build();
                OnceCache<String> waiter = cache(counted(TestDatabases.shared(Db.POSTGRES), reads, null), "ns")
                        .table(table)
                        .build()) {
            assertThat(waitThroughALoad(leader, waiter, reads, "the answer").value())
                    .isEqualTo("the answer");
            assertThat(reads)
                    .as("the waiter read the row again: no value was sent")
                    .hasValue(2);
        }
        try (Connection c = TestDatabases.connect(Db.POSTGRES);
                Statement s = c.createStatement();
                var rs = s.executeQuery("SELECT count(*) FROM " + table + "_seal")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getInt(1))
                    .as("no secret was written to a table others can read")
                    .isZero();
        }
    }

    /**
     * A migration holding a lock on the seal table must not hold the cache's construction past the store
     * timeout (rounded up to a second): it is built without sending values.
     */
    @Test
    void sealTableLocked_buildEndsWithinTheStoreTimeout_withoutSendingValues() throws Exception {
        String table = "t_"
                + TestDatabases.newTable("locked")
                        .replaceAll("[^A-Za-z0-9_]", "_")
                        .toLowerCase();
        OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                .notifyValues(true)
                .table(table)
                .codec(Codec.string())
                .build()
                .close(); // both tables exist, the secret written
        try (Connection migration = TestDatabases.connect(Db.POSTGRES);
                Statement s = migration.createStatement()) {
            migration.setAutoCommit(false);
            s.execute("LOCK TABLE " + table + "_seal IN ACCESS EXCLUSIVE MODE");
            long started = System.nanoTime();
            OnceCache<String> cache = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
                    Duration.ofSeconds(10),
                    () -> OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                            .notifyValues(true)
                            .table(table)
                            .codec(Codec.string())
                            .storeTimeout(Duration.ofMillis(500))
                            .build());
            long millis = (System.nanoTime() - started) / 1_000_000;
            try (cache) {
                assertThat(millis).isLessThan(5_000); // the 1 s bound and a margin, not the lock's holder
                assertThat(cache.get("k", () -> "v")).isEqualTo("v");
            } finally {
                migration.rollback();
            }
        }
    }

    /**
     * A value whose NOTIFY reaches a waiter late (a backlog) is kept in its near cache only as long as
     * the row would be fresh, counted from the waiter's read, not from the notification's arrival.
     */
    @Test
    void lateNotification_nearCacheKeepsTheValueNoLongerThanItsRow() throws Exception {
        String ns = TestDatabases.newTable("late");
        AtomicInteger reads = new AtomicInteger();
        Expiry<String> short300 = v -> Duration.ofMillis(300);
        try (var ownPool = TestDatabases.pool(Db.POSTGRES, 4, Connection.TRANSACTION_READ_COMMITTED);
                OnceCache<String> leader = cache(TestDatabases.shared(Db.POSTGRES), ns)
                        .expiry(short300)
                        .build();
                // its own pool: a listener is shared per data source, and this one is slow
                OnceCache<String> waiter = cache(counted(ownPool, reads, null), ns)
                        .expiry(short300)
                        .nearCache(100)
                        .nearCacheMaxAge(Duration.ofMinutes(1))
                        .listenerConnection(() -> late(TestDatabases.connect(Db.POSTGRES), 600))
                        .build()) {
            assertThat(waitThroughALoad(leader, waiter, reads, "v1").value()).isEqualTo("v1");
            // the row expired while the notification was on its way: no near hit for a stale value
            assertThat(waiter.nearValue("k")).isEmpty();
        }
    }

    /** A LISTEN connection whose notifications reach the cache {@code delayMillis} late. */
    private static Connection late(Connection real, long delayMillis) {
        return Delegating.proxy(Connection.class, real, (conn, m, args) -> {
            Object r = Delegating.invoke(m, real, args);
            if (!m.getName().equals("unwrap") || !(r instanceof PGConnection pg)) return r;
            return Delegating.proxy(PGConnection.class, pg, (p, pm, pargs) -> {
                Object pr = Delegating.invoke(pm, pg, pargs);
                if (pm.getName().equals("getNotifications") && pr instanceof PGNotification[] n && n.length > 0)
                    Thread.sleep(delayMillis);
                return pr;
            });
        });
    }

    /**
     * A waiter whose read found no row and whose claim lost to another process's: its claim tells it the
     * winner's token, so it opens the winner's value without reading the row again.
     */
    @Test
    void waiterThatLostTheClaimRace_learnsTheWinnersToken_andTakesTheSentValue() throws Exception {
        String ns = TestDatabases.newTable("ns");
        AtomicInteger reads = new AtomicInteger();
        CountDownLatch winnerClaimed = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger loads = new AtomicInteger();
        try (OnceCache<String> winner =
                        cache(TestDatabases.shared(Db.POSTGRES), ns).build();
                OnceCache<String> loser = cache(counted(TestDatabases.shared(Db.POSTGRES), reads, winnerClaimed), ns)
                        .build()) {
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(loser::listening);
            CompletableFuture<CacheResult<String>> lost =
                    onAThread(() -> loser.lookup("k", () -> "loser loaded " + loads.incrementAndGet()));
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> reads.get() == 1); // no row yet
            CompletableFuture<String> won = onAThread(() -> winner.get("k", () -> {
                loads.incrementAndGet();
                winnerClaimed.countDown(); // the loser's claim runs now, against this lease
                assertThat(release.await(30, TimeUnit.SECONDS)).isTrue();
                return "the winner's answer";
            }));
            assertThat(winnerClaimed.await(30, TimeUnit.SECONDS)).isTrue();
            Thread.sleep(200); // the loser's claim, released by the gate, loses to the lease
            release.countDown();

            assertThat(won.get(30, TimeUnit.SECONDS)).isEqualTo("the winner's answer");
            assertThat(lost.get(30, TimeUnit.SECONDS))
                    .isEqualTo(new CacheResult<>("the winner's answer", CacheResult.Source.COALESCED));
            assertThat(loads).as("loader calls for the key").hasValue(1);
            assertThat(reads).as("the loser's reads of the row").hasValue(1);
        }
    }

    /**
     * A role that can connect but not read the table hears sealed payloads only, and what it sends (an
     * earlier load's genuine payload sent again, or one sealed under a guessed token) does not open: the
     * waiter reads the row instead each time, and serves the value its own load stored.
     */
    @Test
    void replayedAndForgedPayloads_neverServed_andAListenerSeesNoValue() throws Exception {
        String ns = TestDatabases.newTable("ns");
        String hash = KeyHash.of(ns, "k");
        AtomicInteger reads = new AtomicInteger();
        List<String> heard = new ArrayList<>();
        try (Connection eavesdropper = TestDatabases.connect(Db.POSTGRES);
                OnceCache<String> leader =
                        cache(TestDatabases.shared(Db.POSTGRES), ns).build();
                OnceCache<String> waiter = cache(counted(TestDatabases.shared(Db.POSTGRES), reads, null), ns)
                        .build()) {
            try (Statement s = eavesdropper.createStatement()) {
                s.execute("LISTEN " + CHANNEL);
            }
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(waiter::listening);
            assertThat(leader.get("k", () -> "the old answer")).isEqualTo("the old answer");
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> {
                PGNotification[] n = eavesdropper.unwrap(PGConnection.class).getNotifications(100);
                if (n != null) for (PGNotification x : n) heard.add(x.getParameter());
                return heard.stream().anyMatch(p -> p.startsWith("v/" + ns + "/"));
            });
            String recorded = heard.stream()
                    .filter(p -> p.startsWith("v/" + ns + "/"))
                    .findFirst()
                    .orElseThrow();
            byte[] old = "the old answer".getBytes(StandardCharsets.UTF_8);
            assertThat(heard)
                    .noneMatch(p -> p.contains("the old answer"))
                    .noneMatch(p -> p.contains(Base64.getEncoder().encodeToString(old)))
                    .noneMatch(p ->
                            p.contains(Base64.getUrlEncoder().withoutPadding().encodeToString(old)));

            leader.purge("k");
            CacheResult<String> result = waitThroughALoad(leader, waiter, reads, "the new answer", waited -> {
                // a role that can read the cache table sees the live lease's token, not the seal table's secret
                String token = liveToken(eavesdropper, ns, hash);
                byte[] secret = tableSecret(eavesdropper);
                byte[] evil = "the attacker's answer".getBytes(StandardCharsets.UTF_8);
                byte[] otherSecret = new byte[32];
                new java.security.SecureRandom().nextBytes(otherSecret);
                String tokenWithoutSecret = SealedValue.seal(otherSecret, token, ns, hash, 60_000, evil);
                String secretWithoutToken = SealedValue.seal(secret, "a-guessed-token", ns, hash, 60_000, evil);
                String garbage = "v/" + ns + "/" + hash + "/" + "A".repeat(60);
                int expected = 1;
                for (String sent : List.of(recorded, tokenWithoutSecret, secretWithoutToken, garbage)) {
                    send(eavesdropper, sent);
                    int after = ++expected;
                    // each wakes the waiter, which does not take it: it reads the row, finds the lease, waits on
                    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> reads.get() == after);
                    assertThat(waited).isNotDone();
                }
            });

            assertThat(result).isEqualTo(new CacheResult<>("the new answer", CacheResult.Source.COALESCED));
            assertThat(reads)
                    .as("reads: the first, one per payload sent, none for the genuine one")
                    .hasValue(5);
        }
    }

    /**
     * A login role that belongs to the cache's own role reads the secret but can write the table too (it
     * could change the answers directly): not a reason to stop sending values, so the waiter reads once.
     */
    @ParameterizedTest
    @CsvSource({"INHERIT", "NOINHERIT"}) // NOINHERIT: it may SET ROLE to the cache's role, and so write (helper-81)
    void sealSecretReadableOnlyByRolesThatMayWriteTheTable_valuesStillSent(String inherit) throws Exception {
        String ns = TestDatabases.newTable("member");
        AtomicInteger reads = new AtomicInteger();
        TestDatabases.execute(
                Db.POSTGRES,
                "DROP ROLE IF EXISTS once_admin",
                "CREATE ROLE once_admin LOGIN " + inherit,
                "DO $$ BEGIN EXECUTE format('GRANT %I TO once_admin', current_user); END $$");
        try (OnceCache<String> leader =
                        cache(TestDatabases.shared(Db.POSTGRES), ns).build();
                OnceCache<String> waiter = cache(counted(TestDatabases.shared(Db.POSTGRES), reads, null), ns)
                        .build()) {
            assertThat(waitThroughALoad(leader, waiter, reads, "the answer"))
                    .isEqualTo(new CacheResult<>("the answer", CacheResult.Source.COALESCED));
            assertThat(reads).as("the waiter took the sent value: one read").hasValue(1);
        } finally {
            TestDatabases.execute(Db.POSTGRES, "DROP ROLE IF EXISTS once_admin");
        }
    }

    /**
     * The seal secret is made by the server: it is never a statement's parameter, which a server that
     * logs statements (log_statement = 'mod') wrote to its log, for anyone who reads it to forge values
     * (helper-80).
     */
    @Test
    void sealSecret_neverSentByTheClient() throws Exception {
        String table = "t_"
                + TestDatabases.newTable("secret")
                        .replaceAll("[^A-Za-z0-9_]", "_")
                        .toLowerCase();
        List<Object> bound = java.util.Collections.synchronizedList(new ArrayList<>());
        try (OnceCache<String> cache = cache(Delegating.parameters(TestDatabases.shared(Db.POSTGRES), bound), "ns")
                .table(table)
                .build()) {
            assertThat(cache.get("k", () -> "v")).isEqualTo("v");
        }
        byte[] secret;
        try (Connection c = TestDatabases.connect(Db.POSTGRES);
                Statement s = c.createStatement();
                var rs = s.executeQuery("SELECT secret FROM " + table + "_seal WHERE id = 1")) {
            assertThat(rs.next()).as("a secret was made").isTrue();
            secret = rs.getBytes(1);
        }
        assertThat(secret).hasSize(32);
        String hex = java.util.HexFormat.of().formatHex(secret);
        assertThat(bound).as("the statements' parameters").isNotEmpty();
        for (Object p : bound) {
            if (p instanceof byte[] b) assertThat(b).isNotEqualTo(secret);
            else assertThat(String.valueOf(p)).doesNotContainIgnoringCase(hex);
        }
    }

    /**
     * A payload that opens (sealed by whoever read the secret, with the live lease's token) is still kept
     * in the near cache no longer than this cache would keep the value: a forged one said an hour, and a
     * replica served it as a hit for that long past its route's TTL (helper-80).
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(longs = {3_600_000L, Long.MIN_VALUE}) // the least wrapped to forever
    void sentValue_keptNoLongerThanThisCachesOwnTtl_whateverThePayloadSays(long said) throws Exception {
        String ns = TestDatabases.newTable("cap");
        String hash = KeyHash.of(ns, "k");
        AtomicInteger reads = new AtomicInteger();
        try (Connection attacker = TestDatabases.connect(Db.POSTGRES);
                OnceCache<String> leader = cache(TestDatabases.shared(Db.POSTGRES), ns)
                        .ttl(Duration.ofSeconds(1))
                        .build();
                OnceCache<String> waiter = cache(counted(TestDatabases.shared(Db.POSTGRES), reads, null), ns)
                        .ttl(Duration.ofSeconds(1))
                        .nearCache(100)
                        .nearCacheMaxAge(Duration.ofMinutes(1))
                        .build()) {
            CacheResult<String> taken = waitThroughALoad(leader, waiter, reads, "the real answer", waited -> {
                String token = liveToken(attacker, ns, hash);
                byte[] secret = tableSecret(attacker);
                String forged =
                        SealedValue.seal(secret, token, ns, hash, said, "forged".getBytes(StandardCharsets.UTF_8));
                send(attacker, forged);
                waited.get(10, TimeUnit.SECONDS); // taken: with the secret out, a forged value opens
            });
            assertThat(taken.value()).isEqualTo("forged");
            Awaitility.await()
                    .pollDelay(Duration.ofMillis(1_100))
                    .atMost(Duration.ofSeconds(5))
                    .untilAsserted(() -> assertThat(waiter.nearValue("k"))
                            .as("gone from the near cache after this cache's 1 s TTL, not the payload's hour")
                            .isEmpty());
        }
    }

    /**
     * The privacy check is linear in the cluster's roles: with 1,500 login roles it ends well within the
     * store timeout and values are sent (a correlated form took 1 s for 1,300 roles and 9 s for 3,300,
     * past the default store timeout, and values then stopped with an INFO line: helper-81).
     */
    @Test
    void manyRoles_privacyCheckEndsWithinTheStoreTimeout_valuesSent() throws Exception {
        String ns = TestDatabases.newTable("roles");
        AtomicInteger reads = new AtomicInteger();
        String roles =
                "DO $$ BEGIN FOR i IN 1..1500 LOOP EXECUTE format('%s ROLE once_many_%%s%s', i); END LOOP;" + " END $$";
        TestDatabases.execute(Db.POSTGRES, String.format(roles, "CREATE", " LOGIN"));
        try (OnceCache<String> leader =
                        cache(TestDatabases.shared(Db.POSTGRES), ns).build();
                OnceCache<String> waiter = cache(counted(TestDatabases.shared(Db.POSTGRES), reads, null), ns)
                        .storeTimeout(Duration.ofSeconds(1))
                        .build()) {
            assertThat(waitThroughALoad(leader, waiter, reads, "the answer"))
                    .isEqualTo(new CacheResult<>("the answer", CacheResult.Source.COALESCED));
            assertThat(reads).as("the waiter took the sent value: one read").hasValue(1);
        } finally {
            TestDatabases.execute(Db.POSTGRES, String.format(roles, "DROP", ""));
        }
    }

    /**
     * With a key from outside the database ({@code sealKey}), values are sent whichever roles can read the
     * seal table (a backup role with {@code pg_read_all_data} here), and the table's secret alone, which
     * such a role reads, opens nothing: a payload sealed with it and the live token only wakes the waiter,
     * which reads the row and serves the real answer.
     */
    @Test
    void sealKey_valuesSentWhateverReadsTheSealTable_andTheTableSecretAloneForgesNothing() throws Exception {
        String ns = TestDatabases.newTable("key");
        String hash = KeyHash.of(ns, "k");
        AtomicInteger reads = new AtomicInteger();
        byte[] key = "a key kept outside the database".getBytes(StandardCharsets.UTF_8);
        TestDatabases.execute(
                Db.POSTGRES,
                "DO $$ BEGIN CREATE ROLE once_backup LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
                "GRANT pg_read_all_data TO once_backup");
        try (Connection attacker = TestDatabases.connect(Db.POSTGRES);
                OnceCache<String> leader = cache(TestDatabases.shared(Db.POSTGRES), ns)
                        .sealKey(key)
                        .build();
                OnceCache<String> waiter = cache(counted(TestDatabases.shared(Db.POSTGRES), reads, null), ns)
                        .sealKey(key)
                        .build()) {
            assertThat(waitThroughALoad(leader, waiter, reads, "the answer"))
                    .isEqualTo(new CacheResult<>("the answer", CacheResult.Source.COALESCED));
            assertThat(reads)
                    .as("sent despite the reader: the waiter read once")
                    .hasValue(1);

            leader.purge("k");
            reads.set(0);
            CacheResult<String> result = waitThroughALoad(leader, waiter, reads, "the new answer", waited -> {
                String token = liveToken(attacker, ns, hash);
                byte[] tableSecret = tableSecret(attacker);
                String forged = SealedValue.seal(
                        tableSecret, token, ns, hash, 60_000, "forged".getBytes(StandardCharsets.UTF_8));
                send(attacker, forged);
                // it wakes the waiter, which does not take it: it reads the row, finds the lease, waits on
                Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> reads.get() == 2);
                assertThat(waited).isNotDone();
            });
            assertThat(result).isEqualTo(new CacheResult<>("the new answer", CacheResult.Source.COALESCED));
        } finally {
            TestDatabases.execute(Db.POSTGRES, "DROP OWNED BY once_backup", "DROP ROLE IF EXISTS once_backup");
        }
    }

    @Test
    void sealKey_shorterThan16Bytes_refused() {
        var builder = OnceCache.builder(TestDatabases.shared(Db.POSTGRES));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> builder.sealKey(new byte[15]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 16 bytes");
    }

    /** The live lease's token on the key, as any role that may read the cache table sees it. */
    private static String liveToken(Connection c, String ns, String hash) throws java.sql.SQLException {
        try (PreparedStatement ps =
                c.prepareStatement("SELECT lease_owner FROM once_entry WHERE namespace = ? AND key_hash = ?")) {
            ps.setString(1, ns);
            ps.setString(2, hash);
            try (var rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getString(1);
            }
        }
    }

    /** The cache table's seal secret, as a role that may read the seal table sees it. */
    private static byte[] tableSecret(Connection c) throws java.sql.SQLException {
        try (Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT secret FROM once_entry_seal WHERE id = 1")) {
            assertThat(rs.next()).isTrue();
            return rs.getBytes(1);
        }
    }

    /** Sends {@code payload} on the caches' channel, as any role that may connect can. */
    private static void send(Connection c, String payload) throws java.sql.SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_notify(?, ?)")) {
            ps.setString(1, CHANNEL);
            ps.setString(2, payload);
            ps.execute();
        }
    }
}
