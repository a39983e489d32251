package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.cache.CacheResult.Source;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
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
        try (OnceCache<String> a = cache(db, TestDatabases.newTable("ns"))) {
            List<CompletableFuture<CacheResult<String>>> burst = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                burst.add(CompletableFuture.supplyAsync(
                        () -> a.lookup("k", () -> {
                            Thread.sleep(200);
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
