package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.once.cache.CacheResult.Source;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Where a value came from, and loaders that hand a value over without storing it. */
class LookupTest {

    private static OnceCache<String> cache(Db db, String ns) {
        return OnceCache.builder(TestDatabases.shared(db))
                .namespace(ns)
                .codec(Codec.string())
                .build();
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void lookup_missHitAndCoalesced_reported(Db db) throws Exception {
        var meters = new SimpleMeterRegistry();
        try (OnceCache<String> a = OnceCache.builder(TestDatabases.shared(db))
                .namespace(TestDatabases.newTable("ns"))
                .codec(Codec.string())
                .meterRegistry(meters)
                .build()) {
            // on PostgreSQL, the burst after the listener first listens: its first connection marks the loads
            // running then as begun before purges it never heard, and the callers after it wait for such a
            // load and read again (a HIT), by design (docs/once-cache.md)
            if (db == Db.POSTGRES) await().atMost(Duration.ofSeconds(10)).until(a::listening);
            List<CompletableFuture<CacheResult<String>>> burst = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                burst.add(CompletableFuture.supplyAsync(
                        () -> a.lookup("k", () -> {
                            // the load ends only once the five others have joined it: a thread started late
                            // (a loaded CI machine) would otherwise find the stored value, a HIT
                            await().atMost(Duration.ofSeconds(30))
                                    .until(() -> meters.get("once.cache.requests")
                                                    .tag("result", "coalesced_local")
                                                    .counter()
                                                    .count()
                                            == 5);
                            return "v";
                        }),
                        r -> Thread.ofPlatform().start(r)));
            }
            List<Source> sources = new ArrayList<>();
            for (var f : burst) sources.add(f.get().source());
            assertThat(sources).containsOnly(Source.MISS, Source.COALESCED);
            assertThat(sources.stream().filter(s -> s == Source.MISS).count()).isEqualTo(1);
            assertThat(a.lookup("k", () -> "other")).isEqualTo(new CacheResult<>("v", Source.HIT));
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void lookup_loaderThrowsBypass_valueHandedOverNotStored(Db db) throws SQLException {
        String ns = TestDatabases.newTable("ns");
        AtomicInteger calls = new AtomicInteger();
        try (OnceCache<String> a = cache(db, ns)) {
            CacheResult<String> first = a.lookup("k", () -> {
                throw new Bypass("private-" + calls.incrementAndGet(), Duration.ofSeconds(30));
            });
            CacheResult<String> second = a.lookup("k", () -> {
                throw new Bypass("private-" + calls.incrementAndGet(), Duration.ofSeconds(30));
            });
            assertThat(first).isEqualTo(new CacheResult<>("private-1", Source.BYPASS));
            assertThat(second).isEqualTo(new CacheResult<>("private-2", Source.BYPASS));
        }
        assertThat(TestDatabases.count(
                        db, "SELECT COUNT(*) FROM once_entry WHERE namespace = '" + ns + "' AND value IS NOT NULL"))
                .isZero();
    }
}
