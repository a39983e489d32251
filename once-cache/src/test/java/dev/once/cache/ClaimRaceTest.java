package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A caller that loses the claim race, made to happen every time: its read finds no row, another process
 * claims the key before its claim runs, and that process's answer (or failure) is written before it looks
 * again. It must take that answer as the one it waited for, whether its process listens for NOTIFY or
 * polls: never call the loader a second time for the key.
 *
 * <p>On MariaDB and SQLite the read and the claim are two statements, and the loser is held between
 * them. On PostgreSQL they are one ({@link StoreDialect#readOrClaim}): there the winner's claim is held
 * uncommitted until the loser's statement, which has read no row, waits for its lock; the loser's claim
 * then finds the winner's lease.
 */
class ClaimRaceTest {

    /** The statements of one cache, and the points where the test holds them. */
    private static final class Gates {
        final CountDownLatch read = new CountDownLatch(1);
        final CountDownLatch otherClaimed = new CountDownLatch(1);
        final CountDownLatch claimLost = new CountDownLatch(1);
        final CountDownLatch otherDone = new CountDownLatch(1);
        final AtomicInteger claims = new AtomicInteger();

        /**
         * The other cache claims after this one's first read ({@link #read}) and before its claim; after
         * its claim, its reads wait for the other's answer.
         */
        void before(String sql) throws InterruptedException {
            if (isClaim(sql)) {
                await(otherClaimed);
            } else if (isRead(sql) && claimLost.getCount() == 0) {
                await(otherDone);
            }
        }

        void after(String sql) {
            if (isRead(sql)) read.countDown();
            if (isClaim(sql)) {
                claims.incrementAndGet();
                claimLost.countDown();
            }
        }

        private static boolean isClaim(String sql) {
            return sql.startsWith("INSERT") && (sql.contains("ON CONFLICT") || sql.contains("ON DUPLICATE KEY"));
        }

        private static boolean isRead(String sql) {
            return sql.startsWith("SELECT state, value");
        }

        private static void await(CountDownLatch latch) throws InterruptedException {
            if (!latch.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("the race did not happen");
        }
    }

    /**
     * PostgreSQL: the winner's first statement (read and claim) is left uncommitted until another
     * session's statement waits for its row lock, the loser's read-or-claim that read no row. (The
     * winner does not listen: it leads, and a listener would hold one of these gated connections.)
     */
    private static final class HeldClaim implements Statements {
        final CountDownLatch inserted = new CountDownLatch(1);
        private final DataSource observer;
        private Connection held;

        HeldClaim(DataSource observer) {
            this.observer = observer;
        }

        @Override
        public void before(Connection c, String sql) throws Exception {
            if (isReadOrClaim(sql) && inserted.getCount() > 0) {
                c.setAutoCommit(false);
                held = c;
            }
        }

        @Override
        public void after(Connection c, String sql) throws Exception {
            if (c != held) return;
            held = null;
            inserted.countDown();
            awaitLockWaiter();
            c.commit();
            c.setAutoCommit(true);
        }

        private void awaitLockWaiter() throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            try (Connection o = observer.getConnection();
                    PreparedStatement ps = o.prepareStatement("SELECT count(*) FROM pg_stat_activity"
                            + " WHERE wait_event_type = 'Lock' AND query LIKE 'WITH once_clock%'")) {
                while (System.nanoTime() < deadline) {
                    try (var rs = ps.executeQuery()) {
                        rs.next();
                        if (rs.getInt(1) > 0) return;
                    }
                    Thread.sleep(5);
                }
            }
            throw new IllegalStateException("the race did not happen: no statement waited for the claim's lock");
        }

        private static boolean isReadOrClaim(String sql) {
            return sql.startsWith("WITH once_clock");
        }
    }

    /** What the test does around each statement a connection runs. */
    private interface Statements {
        void before(Connection c, String sql) throws Exception;

        void after(Connection c, String sql) throws Exception;
    }

    /** The data source, its prepared statements held at the gates. */
    private static DataSource gated(DataSource real, Gates gates) {
        return gated(real, new Statements() {
            @Override
            public void before(Connection c, String sql) throws Exception {
                gates.before(sql);
            }

            @Override
            public void after(Connection c, String sql) {
                gates.after(sql);
            }
        });
    }

    private static DataSource gated(DataSource real, Statements gates) {
        return proxy(DataSource.class, real, (ds, m, args) -> {
            Object r = invoke(m, real, args);
            if (!(r instanceof Connection c)) return r;
            return proxy(Connection.class, c, (conn, cm, cargs) -> {
                Object cr = invoke(cm, c, cargs);
                if (!(cr instanceof PreparedStatement ps) || !cm.getName().equals("prepareStatement")) return cr;
                String sql = (String) cargs[0];
                return proxy(PreparedStatement.class, ps, (stmt, sm, sargs) -> {
                    boolean runs = sm.getName().startsWith("execute");
                    if (runs) gates.before(c, sql);
                    Object sr = invoke(sm, ps, sargs);
                    if (runs) gates.after(c, sql);
                    return sr;
                });
            });
        });
    }

    private static <T> T proxy(Class<T> type, Object target, InvocationHandler handler) {
        return type.cast(Proxy.newProxyInstance(ClaimRaceTest.class.getClassLoader(), new Class<?>[] {type}, handler));
    }

    private static Object invoke(java.lang.reflect.Method m, Object target, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static OnceCacheBuilder<String> cache(DataSource ds, String ns) {
        return OnceCache.builder(ds)
                .namespace(ns)
                .codec(Codec.string())
                .lease(Duration.ofSeconds(30))
                .polling(Duration.ofMillis(10), Duration.ofMillis(100));
    }

    @org.junit.jupiter.api.Test
    void postgres_lostClaimRace_winnerFails_loserGetsItsErrorWithoutLoading() throws Exception {
        String ns = TestDatabases.newTable("ns");
        DataSource real = TestDatabases.shared(Db.POSTGRES);
        HeldClaim held = new HeldClaim(real);
        AtomicInteger loads = new AtomicInteger();
        try (OnceCache<String> winner = cache(gated(real, held), ns)
                        .notify(false)
                        .failedRoundsBeforeError(0)
                        .build();
                OnceCache<String> loser =
                        cache(real, ns).failedRoundsBeforeError(0).build()) {
            CountDownLatch loserWaits = new CountDownLatch(1);
            CompletableFuture<String> won = CompletableFuture.supplyAsync(
                    () -> winner.get("k", () -> {
                        loads.incrementAndGet();
                        assertThat(loserWaits.await(30, TimeUnit.SECONDS)).isTrue();
                        throw new IllegalStateException("the API is down");
                    }),
                    r -> Thread.ofPlatform().start(r));
            assertThat(held.inserted.await(30, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<String> lost = loser.getAsync("k", () -> "loser loaded " + loads.incrementAndGet());
            loserWaits.countDown();
            assertThatThrownBy(() -> won.get(30, TimeUnit.SECONDS)).hasMessageContaining("the API is down");
            assertThatThrownBy(() -> lost.get(30, TimeUnit.SECONDS))
                    .hasMessageContaining("failed in another process")
                    .hasMessageContaining("the API is down");
            assertThat(loads).as("loader calls for the key").hasValue(1);
        }
    }

    @org.junit.jupiter.api.Test
    void postgres_lostClaimRace_winnerStoresAValueFreshForZeroSeconds_loserTakesIt() throws Exception {
        String ns = TestDatabases.newTable("ns");
        DataSource real = TestDatabases.shared(Db.POSTGRES);
        HeldClaim held = new HeldClaim(real);
        AtomicInteger loads = new AtomicInteger();
        Expiry<String> zero = v -> Duration.ZERO;
        var loserMeters = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        try (OnceCache<String> winner =
                        cache(gated(real, held), ns).notify(false).expiry(zero).build();
                OnceCache<String> loser =
                        cache(real, ns).expiry(zero).meterRegistry(loserMeters).build()) {
            CompletableFuture<String> won = CompletableFuture.supplyAsync(
                    () -> winner.get("k", () -> {
                        loads.incrementAndGet();
                        return "the winner's answer";
                    }),
                    r -> Thread.ofPlatform().start(r));
            assertThat(held.inserted.await(30, TimeUnit.SECONDS)).isTrue();
            CacheResult<String> lost = loser.lookup("k", () -> "loser loaded " + loads.incrementAndGet());
            assertThat(won.get(30, TimeUnit.SECONDS)).isEqualTo("the winner's answer");
            assertThat(lost).isEqualTo(new CacheResult<>("the winner's answer", CacheResult.Source.COALESCED));
            assertThat(loads).as("loader calls for the key").hasValue(1);
            assertThat(loserMeters.get("once.cache.requests").counters())
                    .filteredOn(c -> c.count() > 0)
                    .extracting(c -> c.getId().getTag("result") + "=" + (long) c.count())
                    .containsExactly("coalesced_remote=1");
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"MARIADB", "SQLITE"})
    void lostClaimRace_winnerFails_loserGetsItsErrorWithoutLoading(Db db) throws Exception {
        String ns = TestDatabases.newTable("ns");
        Gates gates = new Gates();
        AtomicInteger loads = new AtomicInteger();
        try (OnceCache<String> winner = cache(TestDatabases.shared(db), ns)
                        .failedRoundsBeforeError(0)
                        .build();
                OnceCache<String> loser = cache(gated(TestDatabases.shared(db), gates), ns)
                        .failedRoundsBeforeError(0)
                        .build()) {
            CompletableFuture<String> lost = loser.getAsync("k", () -> "loser loaded " + loads.incrementAndGet());
            assertThat(gates.read.await(30, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(() -> winner.get("k", () -> {
                        loads.incrementAndGet();
                        gates.otherClaimed.countDown();
                        assertThat(gates.claimLost.await(30, TimeUnit.SECONDS)).isTrue();
                        throw new IllegalStateException("the API is down");
                    }))
                    .hasMessageContaining("the API is down");
            gates.otherDone.countDown();
            assertThatThrownBy(() -> lost.get(30, TimeUnit.SECONDS))
                    .hasMessageContaining("failed in another process")
                    .hasMessageContaining("the API is down");
            assertThat(loads).as("loader calls for the key").hasValue(1);
            assertThat(gates.claims).as("the loser's claims").hasValue(1);
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"MARIADB", "SQLITE"})
    void lostClaimRace_winnerStoresAValueFreshForZeroSeconds_loserTakesIt(Db db) throws Exception {
        String ns = TestDatabases.newTable("ns");
        Gates gates = new Gates();
        AtomicInteger loads = new AtomicInteger();
        Expiry<String> zero = v -> Duration.ZERO;
        var loserMeters = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        try (OnceCache<String> winner =
                        cache(TestDatabases.shared(db), ns).expiry(zero).build();
                OnceCache<String> loser = cache(gated(TestDatabases.shared(db), gates), ns)
                        .expiry(zero)
                        .meterRegistry(loserMeters)
                        .build()) {
            CompletableFuture<CacheResult<String>> lost = CompletableFuture.supplyAsync(
                    () -> loser.lookup("k", () -> "loser loaded " + loads.incrementAndGet()),
                    r -> Thread.ofPlatform().start(r));
            assertThat(gates.read.await(30, TimeUnit.SECONDS)).isTrue();
            String won = winner.get("k", () -> {
                loads.incrementAndGet();
                gates.otherClaimed.countDown();
                assertThat(gates.claimLost.await(30, TimeUnit.SECONDS)).isTrue();
                return "the winner's answer";
            });
            gates.otherDone.countDown();
            assertThat(won).isEqualTo("the winner's answer");
            assertThat(lost.get(30, TimeUnit.SECONDS))
                    .isEqualTo(new CacheResult<>("the winner's answer", CacheResult.Source.COALESCED));
            assertThat(loads).as("loader calls for the key").hasValue(1);
            // the loser's request is counted once, as a remote coalesced one, and its claim phase once
            assertThat(loserMeters.get("once.cache.requests").counters())
                    .filteredOn(c -> c.count() > 0)
                    .extracting(c -> c.getId().getTag("result") + "=" + (long) c.count())
                    .containsExactly("coalesced_remote=1");
            assertThat(loserMeters
                            .get("once.cache.phase")
                            .tag("phase", "claim")
                            .timer()
                            .count())
                    .isEqualTo(1);
        }
    }
}
