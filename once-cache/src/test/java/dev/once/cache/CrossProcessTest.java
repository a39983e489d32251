package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.JavaProcess;
import dev.once.jdbc.testing.TestDatabases;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Real JVM processes sharing one cache table; loader calls are counted in files, outside the JVMs. */
class CrossProcessTest {
    private static final Pattern RESULT = Pattern.compile("errors=(\\d+) wrong=(\\d+)");

    @TempDir
    Path dir;

    static Stream<Arguments> modes() {
        return Stream.of(
                Arguments.of(Db.POSTGRES, true),
                Arguments.of(Db.POSTGRES, false), // polling, as on engines without NOTIFY
                Arguments.of(Db.MARIADB, false),
                Arguments.of(Db.SQLITE, false));
    }

    @ParameterizedTest(name = "{0} notify={1}")
    @MethodSource("modes")
    void get_threeProcessesSixteenThreads_oneLoaderCallPerKey(Db db, boolean notify) throws Exception {
        int processes = 3;
        int keys = 200;
        String ns = TestDatabases.newTable("ns");
        OnceCache.builder(TestDatabases.shared(db)).build().close(); // the table exists before the race
        long startAt = System.currentTimeMillis() + 5_000;
        List<Process> ps = new ArrayList<>();
        for (int p = 0; p < processes; p++) {
            ps.add(JavaProcess.start(
                    CacheWorker.class,
                    dir.resolve("out-" + p),
                    "race",
                    TestDatabases.url(db),
                    ns,
                    String.valueOf(keys),
                    "16",
                    "100",
                    dir.resolve("calls-" + p).toString(),
                    String.valueOf(startAt),
                    String.valueOf(notify)));
        }
        int errors = 0;
        int wrong = 0;
        for (int p = 0; p < processes; p++) {
            assertThat(ps.get(p).waitFor(180, TimeUnit.SECONDS)).isTrue();
            String out = Files.readString(dir.resolve("out-" + p));
            assertThat(ps.get(p).exitValue()).as(out).isZero();
            Matcher m = RESULT.matcher(out);
            assertThat(m.find()).as(out).isTrue();
            errors += Integer.parseInt(m.group(1));
            wrong += Integer.parseInt(m.group(2));
        }
        List<String> calls = new ArrayList<>();
        for (int p = 0; p < processes; p++) calls.addAll(Files.readAllLines(dir.resolve("calls-" + p)));
        assertThat(errors).isZero();
        assertThat(wrong).isZero();
        assertThat(calls).hasSize(keys).doesNotHaveDuplicates();
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void get_leaderKilledMidLoad_waiterTakesOverAndCompletes(Db db) throws Exception {
        String ns = TestDatabases.newTable("ns");
        Path calls = dir.resolve("calls-killed");
        Process leader = JavaProcess.start(
                CacheWorker.class,
                dir.resolve("out-killed"),
                "hang",
                TestDatabases.url(db),
                ns,
                "k",
                calls.toString(),
                "1500");
        long deadline = System.currentTimeMillis() + 60_000;
        while (!(Files.exists(calls) && !Files.readAllLines(calls).isEmpty())) {
            assertThat(System.currentTimeMillis())
                    .as("the leader started loading")
                    .isLessThan(deadline);
            Thread.sleep(20);
        }
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AtomicInteger ourCalls = new AtomicInteger();
        try (OnceCache<String> cache = OnceCache.builder(TestDatabases.shared(db))
                .namespace(ns)
                .codec(Codec.string())
                .lease(Duration.ofMillis(1500))
                .meterRegistry(registry)
                .build()) {
            CompletableFuture<String> waiter = cache.getAsync("k", () -> "v" + ourCalls.incrementAndGet());
            Thread.sleep(300);
            assertThat(waiter).isNotDone(); // it waits for the live leader
            leader.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // kill -9, mid-load
            assertThat(waiter.get(30, TimeUnit.SECONDS)).isEqualTo("v1");
        }
        assertThat(Files.readAllLines(calls)).hasSize(1); // the dead leader's call
        assertThat(ourCalls).hasValue(1); // and the one that took over: at most two in all
        assertThat(registry.find("once.cache.lease.takeovers").counter().count())
                .isEqualTo(1);
    }
}
