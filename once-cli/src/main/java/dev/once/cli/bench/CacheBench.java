package dev.once.cli.bench;

import dev.once.cache.OnceCache;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * once-cache against the database's own limit, each pair in one run at equal threads: hits against a
 * plain primary-key SELECT loop on the same table, misses (0 ms loader) against a plain {@code INSERT
 * ... ON CONFLICT DO NOTHING} loop; and cross-process waiters' latency with a 100 ms loader.
 */
final class CacheBench {

    private final BenchTarget target;
    private final Settings settings;
    private final Results results;
    private final Pairs pairs;
    private final String product;

    CacheBench(BenchTarget target, Settings settings, Results results) throws Exception {
        this.target = target;
        this.settings = settings;
        this.results = results;
        this.pairs = new Pairs(settings, results);
        this.product = target.product();
    }

    void hits() throws Exception {
        for (boolean near : List.of(false, true)) hits(near);
    }

    /** Hits against a plain primary-key SELECT loop, with the in-process near cache off or on. */
    private void hits(boolean near) throws Exception {
        String ns = "bench-hit-" + ThreadLocalRandom.current().nextInt(1_000_000);
        try (OnceCache<String> cache = Workload.cache(target, ns, true, near ? Workload.HOT_KEYS : 0)) {
            String[] keys = new String[Workload.HOT_KEYS];
            String[] hashes = new String[Workload.HOT_KEYS];
            for (int k = 0; k < Workload.HOT_KEYS; k++) {
                keys[k] = "key-" + k;
                cache.get(keys[k], () -> Workload.VALUE);
            }
            // the plain SELECT finds each row by the hash the cache wrote (once-cache's own derivation)
            java.util.Map<String, String> written = new java.util.HashMap<>();
            try (var c = target.pool().getConnection();
                    var ps = c.prepareStatement("SELECT key_text, key_hash FROM once_entry WHERE namespace = ?")) {
                ps.setString(1, ns);
                try (var rs = ps.executeQuery()) {
                    while (rs.next()) written.put(rs.getString(1), rs.getString(2));
                }
            }
            for (int k = 0; k < Workload.HOT_KEYS; k++) {
                hashes[k] = written.get(keys[k]);
                if (hashes[k] == null) throw new IllegalStateException("the cache wrote no row for " + keys[k]);
            }
            String select = "SELECT value FROM once_entry WHERE namespace = ? AND key_hash = ?";
            for (int threads : settings.threads()) {
                pairs.compare(
                        near ? "cache hit (near cache on)" : "cache hit (near cache off)",
                        threads,
                        "OnceCache.get, hit",
                        "plain PK SELECT",
                        0.8,
                        (t, i) -> cache.get(keys[Workload.hot(i, t)], () -> {
                            throw new IllegalStateException("a hit was expected");
                        }),
                        (t, i) -> {
                            try (Connection c = target.pool().getConnection();
                                    PreparedStatement ps = c.prepareStatement(select)) {
                                ps.setString(1, ns);
                                ps.setString(2, hashes[Workload.hot(i, t)]);
                                try (ResultSet rs = ps.executeQuery()) {
                                    if (!rs.next()) throw new IllegalStateException("row missing");
                                    rs.getBytes(1);
                                }
                            }
                        });
            }
        }
    }

    void misses() throws Exception {
        String ns = "bench-miss-" + ThreadLocalRandom.current().nextInt(1_000_000);
        String plain = dev.once.cli.ScratchTables.named("once_bench_plain");
        try (Connection c = target.pool().getConnection();
                Statement s = c.createStatement()) {
            s.execute("DROP TABLE IF EXISTS " + plain);
            s.execute("CREATE TABLE " + plain + " (k VARCHAR(100) PRIMARY KEY, v VARCHAR(200))");
        }
        target.created(plain);
        try (OnceCache<String> cache = Workload.cache(target, ns, true, 0)) {
            for (int threads : settings.threads()) {
                String run = Integer.toString(ThreadLocalRandom.current().nextInt(1_000_000), 36) + "-" + threads;
                pairs.compare(
                        "cache miss (0 ms loader)",
                        threads,
                        "OnceCache.get, miss",
                        "plain INSERT ON CONFLICT DO NOTHING",
                        Results.NO_TARGET, // the issue sets none: a miss is three writes where the baseline has one
                        (t, i) -> cache.get(Workload.fresh("m", run, t, i), () -> Workload.VALUE),
                        Workload.plainInsert(target, plain, run));
            }
        }
        try (Connection c = target.pool().getConnection();
                Statement s = c.createStatement()) {
            s.execute("DROP TABLE IF EXISTS " + plain);
        }
        target.dropped(plain);
    }

    /** P processes x C callers ask for a new key at once, round after round; the loader takes 100 ms. */
    void waiters(int processes, int callers, long loaderMillis) throws Exception {
        List<Boolean> modes = product.contains("postgres") ? List.of(true, false) : List.of(false);
        for (boolean notify : modes) {
            String mode = notify ? "notify" : "polling";
            String ns = "bench-wait-" + ThreadLocalRandom.current().nextInt(1_000_000);
            settings.progress(
                    "waiters (%s): starting %d processes x %d callers, %d rounds of a %d ms loader ...",
                    mode, processes, callers, settings.burstRounds(), loaderMillis);
            List<Process> ps = new ArrayList<>();
            List<BufferedReader> outs = new ArrayList<>();
            try {
                for (int p = 0; p < processes; p++) {
                    Process process = worker(ns, callers, loaderMillis, notify);
                    ps.add(process);
                    BufferedReader r =
                            new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
                    outs.add(r);
                }
                for (BufferedReader r : outs) expect(r, "ready");
                List<Double> waiterMillis = new ArrayList<>();
                List<Double> allMillis = new ArrayList<>();
                long loads = 0;
                int warmup = Math.max(5, settings.burstRounds() / 10); // JIT and connections, not recorded
                for (int round = -warmup; round < settings.burstRounds(); round++) {
                    String key = "burst-" + round;
                    for (Process p : ps) {
                        Writer w = p.outputWriter(StandardCharsets.UTF_8);
                        w.write("burst " + key + "\n");
                        w.flush();
                    }
                    for (BufferedReader r : outs) {
                        String[] f = expect(r, "done " + key).split(" ");
                        int processLoads = Integer.parseInt(f[2]);
                        if (round < 0) continue;
                        loads += processLoads;
                        for (int i = 3; i < f.length; i++) {
                            double ms = Long.parseLong(f[i]) / 1000.0;
                            allMillis.add(ms);
                            if (processLoads == 0) waiterMillis.add(ms);
                        }
                    }
                    if (round >= 0 && (round + 1) % 10 == 0)
                        settings.progress("  round %d/%d", round + 1, settings.burstRounds());
                }
                results.bursts.add(new Results.Burst(
                        "cache waiters",
                        mode,
                        processes,
                        callers,
                        settings.burstRounds(),
                        loaderMillis,
                        (double) loads / settings.burstRounds(),
                        waiterMillis,
                        allMillis));
            } finally {
                ps.forEach(Process::destroyForcibly);
            }
        }
    }

    private static String expect(BufferedReader r, String prefix) throws Exception {
        String line;
        while ((line = r.readLine()) != null) {
            if (line.startsWith(prefix)) return line;
        }
        throw new IllegalStateException("a bench worker process ended before it said '" + prefix + "'");
    }

    private Process worker(String ns, int callers, long loaderMillis, boolean notify) throws Exception {
        String url = target.url();
        if (target.user() != null && !url.contains("user="))
            url += (url.contains("?") ? "&" : "?") + "user=" + target.user();
        ProcessBuilder pb = dev.once.cli.WorkerProcess.of(
                BenchWorker.class,
                target.password(),
                url,
                ns,
                String.valueOf(callers),
                String.valueOf(loaderMillis),
                String.valueOf(notify));
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        return pb.start();
    }
}
