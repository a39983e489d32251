package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.FaultProxy;
import dev.once.jdbc.testing.JavaProcess;
import dev.once.jdbc.testing.TestDatabases;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 11's randomised checker: three worker processes ({@link CheckerWorker}) ask for random keys
 * through a cache on PostgreSQL, each through its own {@link FaultProxy}, while this JVM purges random
 * keys and injects random faults (blackhole, delay, reset, refuse) and one {@code kill -9} of a worker,
 * which is restarted. Then, from the records alone (every loader call and every answer, written by the
 * workers as they happen):
 *
 * <ul>
 *   <li>no caller received a value that was not a loader's answer for that key;
 *   <li>no caller that asked {@value #PURGE_BOUND_MS} ms or more after a purge completed received a
 *       value loaded before that purge began (the bound covers the near cache's: a LISTEN connection
 *       that went quiet is noticed by its heartbeat);
 *   <li>outside fault windows, a key costs at most one loader call per TTL, plus one per purge of it;
 *   <li>every caller answered within {@value #ANSWER_BOUND_MS} ms, and none got an error (the cache
 *       fails open).
 * </ul>
 *
 * The seed is printed; {@code -Donce.checker.seed=N -Donce.checker.seconds=S} replays or lengthens a
 * run, e.g. {@code ./mvnw -B verify -pl once-cache -am -Dtest=CheckerTest
 * -Dsurefire.failIfNoSpecifiedTests=false -Donce.checker.seconds=600}.
 */
class CheckerTest {
    static final long PURGE_BOUND_MS = 3_000;
    static final long ANSWER_BOUND_MS = 10_000;
    private static final int KEYS = 20;
    private static final int WORKERS = 3;

    @TempDir
    Path dir;

    private record Fault(long from, long to) {}

    private record Purge(String key, long started, long ended) {}

    @ParameterizedTest(name = "notify={0}")
    @ValueSource(booleans = {true, false})
    void check_fixedSeed_noWrongAnswerNoPurgedAnswerBoundedCalls(boolean notify) throws Exception {
        long seed = Long.getLong("once.checker.seed", 11L);
        long seconds = Long.getLong("once.checker.seconds", 20L);
        Random random = new Random(seed);
        String url = TestDatabases.url(Db.POSTGRES);
        String ns = TestDatabases.newTable("checker");
        long until = System.currentTimeMillis() + 4_000 + seconds * 1_000;
        List<Fault> faults = new ArrayList<>();
        List<Purge> purges = new ArrayList<>();
        List<FaultProxy> proxies = new ArrayList<>();
        List<Process> workers = new ArrayList<>();
        int kills = 0;
        int injected = 0;
        try (OnceCache<String> admin = OnceCache.builder(TestDatabases.shared(Db.POSTGRES))
                .namespace(ns)
                .codec(Codec.string())
                .build()) {
            for (int w = 0; w < WORKERS; w++) {
                FaultProxy proxy = FaultProxy.to(url);
                proxies.add(proxy);
                workers.add(startWorker(proxy.url(url), ns, seed + w, until, w, 0, notify));
            }
            Thread.sleep(4_000); // the workers start
            long killAt = System.currentTimeMillis() + seconds * 1_000 / 2;
            while (System.currentTimeMillis() < until - 1_000) {
                long now = System.currentTimeMillis();
                if (kills == 0 && now >= killAt) { // kill -9 one worker mid-run, then start it again
                    int w = random.nextInt(WORKERS);
                    workers.get(w).destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                    workers.set(w, startWorker(proxies.get(w).url(url), ns, seed + 100 + w, until, w, 1, notify));
                    faults.add(new Fault(now, now + 5_000 + 2_000)); // a lease, and a margin
                    kills++;
                } else if (random.nextInt(4) == 0) {
                    FaultProxy proxy = proxies.get(random.nextInt(WORKERS));
                    long length = 300 + random.nextInt(1_500);
                    switch (random.nextInt(4)) {
                        case 0 -> proxy.blackhole();
                        case 1 -> proxy.delay(20 + random.nextInt(80));
                        case 2 -> proxy.reset();
                        default -> proxy.refuse();
                    }
                    Thread.sleep(length);
                    proxy.pass();
                    // the breaker's probe (500 ms) and its bound (1 s) after the fault, and a margin
                    faults.add(new Fault(now, System.currentTimeMillis() + 2_500));
                    injected++;
                } else {
                    String key = "k" + random.nextInt(KEYS);
                    long started = System.currentTimeMillis();
                    admin.purge(key);
                    purges.add(new Purge(key, started, System.currentTimeMillis()));
                }
                Thread.sleep(100 + random.nextInt(200));
            }
            for (Process p : workers)
                assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        } finally {
            for (Process p : workers) p.destroyForcibly();
            for (FaultProxy p : proxies) p.close();
        }

        Map<String, Long> loadedAt = new HashMap<>(); // value -> when its loader call began
        List<String[]> calls = new ArrayList<>();
        List<String[]> gets = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            for (int life = 0; life < 2; life++) {
                calls.addAll(records(dir.resolve("calls-" + w + "-" + life), 3));
                gets.addAll(records(dir.resolve("gets-" + w + "-" + life), 5));
            }
        }
        for (String[] c : calls) loadedAt.put(c[1], Long.parseLong(c[2]));

        int wrong = 0;
        int purgedServed = 0;
        int errors = 0;
        long slowest = 0;
        List<String> examples = new ArrayList<>();
        for (String[] g : gets) {
            String key = g[0];
            long start = Long.parseLong(g[2]);
            long end = Long.parseLong(g[3]);
            slowest = Math.max(slowest, end - start);
            if (g[1].equals("!")) {
                errors++;
                if (examples.size() < 5) examples.add("error: " + String.join(" ", g));
                continue;
            }
            Long loaded = loadedAt.get(g[1]);
            if (loaded == null || !g[1].startsWith(key + "#")) {
                wrong++;
                if (examples.size() < 5) examples.add("wrong: " + String.join(" ", g));
                continue;
            }
            for (Purge p : purges) {
                if (p.key.equals(key) && start >= p.ended + PURGE_BOUND_MS && loaded < p.started) {
                    purgedServed++;
                    if (examples.size() < 5) examples.add("purged: " + String.join(" ", g) + " after " + p);
                    break;
                }
            }
        }

        int overCalls = 0;
        Map<String, List<Long>> quietCalls = new HashMap<>();
        for (String[] c : calls) {
            long at = Long.parseLong(c[2]);
            boolean quiet = faults.stream().noneMatch(f -> at >= f.from && at <= f.to);
            if (quiet) quietCalls.computeIfAbsent(c[0], k -> new ArrayList<>()).add(at);
        }
        for (var e : quietCalls.entrySet()) {
            List<Long> times = e.getValue();
            times.sort(null);
            for (int i = 1; i < times.size(); i++) { // two calls closer than a TTL need a purge between them
                long a = times.get(i - 1);
                long b = times.get(i);
                boolean purged =
                        purges.stream().anyMatch(p -> p.key.equals(e.getKey()) && p.ended >= a - 200 && p.started <= b);
                boolean faultBetween = faults.stream().anyMatch(f -> f.to >= a && f.from <= b);
                if (b - a < CheckerWorker.TTL.toMillis() - 100 && !purged && !faultBetween) {
                    overCalls++;
                    if (examples.size() < 8) examples.add("extra call: " + e.getKey() + " at " + a + " and " + b);
                }
            }
        }

        System.out.printf(
                "checker seed=%d seconds=%d notify=%b: %d answers, %d loader calls, %d purges, %d faults,"
                        + " %d kill -9; wrong=%d purged=%d extraCalls=%d errors=%d slowest=%d ms%n%s%n",
                seed,
                seconds,
                notify,
                gets.size(),
                calls.size(),
                purges.size(),
                injected,
                kills,
                wrong,
                purgedServed,
                overCalls,
                errors,
                slowest,
                String.join("\n", examples));
        assertThat(gets.size()).as("answers recorded").isGreaterThan(100);
        assertThat(wrong).as("answers that no loader gave for that key").isZero();
        assertThat(purgedServed)
                .as("answers loaded before a purge, asked for after it")
                .isZero();
        assertThat(overCalls)
                .as("loader calls beyond one per key per TTL outside faults")
                .isZero();
        assertThat(errors).as("errors (the cache fails open)").isZero();
        assertThat(slowest).as("slowest answer, ms").isLessThanOrEqualTo(ANSWER_BOUND_MS);
    }

    private Process startWorker(String url, String ns, long seed, long until, int w, int life, boolean notify)
            throws IOException {
        return JavaProcess.start(
                CheckerWorker.class,
                dir.resolve("out-" + w + "-" + life),
                url,
                ns,
                String.valueOf(seed),
                String.valueOf(until),
                dir.resolve("calls-" + w + "-" + life).toString(),
                dir.resolve("gets-" + w + "-" + life).toString(),
                String.valueOf(notify),
                String.valueOf(KEYS));
    }

    /** The whole lines of a record file (a kill -9 can cut the last one short). */
    private static List<String[]> records(Path file, int fields) throws IOException {
        List<String[]> out = new ArrayList<>();
        if (!Files.exists(file)) return out;
        for (String line : Files.readAllLines(file)) {
            String[] f = line.split(" ", fields);
            if (f.length == fields && f[2].matches("\\d+")) out.add(f);
        }
        return out;
    }
}
