package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
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
            return sql.startsWith("INSERT")
                    && sql.contains("lease_owner")
                    && (sql.contains("ON CONFLICT") || sql.contains("ON DUPLICATE KEY"));
        }

        private static boolean isRead(String sql) {
            return sql.startsWith("SELECT state, value");
        }

        private static void await(CountDownLatch latch) throws InterruptedException {
            if (!latch.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("the race did not happen");
        }
    }

    /** The data source, its prepared statements held at the gates. */
    private static DataSource gated(DataSource real, Gates gates) {
        return Delegating.statements(real, new Delegating.StatementHook() {
            @Override
            public void before(String sql) throws InterruptedException {
                gates.before(sql);
            }

            @Override
            public void after(String sql) {
                gates.after(sql);
            }
        });
    }

    private static OnceCacheBuilder<String> cache(DataSource ds, String ns) {
        return OnceCache.builder(ds)
                .namespace(ns)
                .codec(Codec.string())
                .lease(Duration.ofSeconds(30))
                .polling(Duration.ofMillis(10), Duration.ofMillis(100));
    }

    @ParameterizedTest
    @EnumSource(Db.class)
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
    @EnumSource(Db.class)
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
