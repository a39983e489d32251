package dev.once.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs the selected benchmarks, prints the table, writes every figure to {@code bench.json} and a
 * self-contained {@code bench.html} report.
 */
public final class Bench {
    /** The benchmarks {@code --only} can name. */
    public static final Set<String> NAMES = Set.of(
            "goc-existing",
            "goc-new",
            "cache-hit",
            "cache-miss",
            "cache-waiters",
            "strategies",
            "proxy",
            "proxy-hits",
            "proxy-waiters");

    private Bench() {}

    /** @return true when every target was met */
    public static boolean run(BenchTarget target, Settings settings, Set<String> only, Path outDir) throws Exception {
        Results results = new Results();
        JdbcBench jdbc = new JdbcBench(target, settings, new Pairs(settings, results), results);
        if (selected(only, "goc-existing")) jdbc.existing();
        if (selected(only, "goc-new")) jdbc.created();
        CacheBench cache = new CacheBench(target, settings, results);
        if (selected(only, "cache-hit")) cache.hits();
        if (selected(only, "cache-miss")) cache.misses();
        if (selected(only, "cache-waiters")) cache.waiters(3, 4, 100);
        if (selected(only, "strategies")) new StrategyBench(target, settings, results).run(settings.strategyKeys(), 12);
        if (selected(only, "proxy") || only.contains("proxy-hits")) new ProxyBench(target, settings, results).run();
        if (selected(only, "proxy") || only.contains("proxy-waiters"))
            new ProxyWaitersBench(target, settings, results).run();
        print(results, settings);
        Files.createDirectories(outDir);
        Path json = outDir.resolve("bench.json");
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("when", Instant.now().toString());
        doc.put("database", target.description());
        doc.put("cores", Runtime.getRuntime().availableProcessors());
        doc.put(
                "settings",
                Map.of(
                        "threads",
                        settings.threads(),
                        "warmup_ms",
                        settings.warmupMillis(),
                        "repetitions",
                        settings.repetitions(),
                        "repetition_ms",
                        settings.repetitionMillis(),
                        "burst_rounds",
                        settings.burstRounds()));
        List<Object> pairs = new ArrayList<>();
        results.pairs.forEach(p -> pairs.add(p.json()));
        List<Object> bursts = new ArrayList<>();
        results.bursts.forEach(b -> bursts.add(b.json()));
        doc.put("pairs", pairs);
        doc.put("waiters", bursts);
        doc.put(
                "references",
                results.references.stream().map(Results.Reference::json).toList());
        doc.put(
                "strategies",
                results.strategies.stream().map(Results.Strategy::json).toList());
        doc.put(
                "latencies",
                results.latencies.stream().map(Results.Latency::json).toList());
        doc.put("notes", results.notes);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), doc);
        Path html = outDir.resolve("bench.html");
        HtmlReport.write(
                html, results, settings, target.description(), doc.get("when").toString());
        settings.progress("%nwrote %s and %s", json.toAbsolutePath(), html.toAbsolutePath());
        return results.pairs.stream().allMatch(p -> p.ratio() >= p.target());
    }

    private static boolean selected(Set<String> only, String name) {
        return only.isEmpty() || only.contains(name);
    }

    private static void print(Results r, Settings s) {
        s.progress(
                "%nThroughput, median of %d repetitions (min..max), candidate and baseline alternated in one run:",
                s.repetitions());
        s.progress(
                "%-28s %7s %24s %24s %7s %7s",
                "benchmark", "threads", "candidate ops/s", "baseline ops/s", "ratio", "target");
        for (Results.Pair p : r.pairs) {
            s.progress(
                    "%-28s %7d %24s %24s %6.2fx %7s %s",
                    p.name(),
                    p.threads(),
                    spread(p.candidateOps()),
                    spread(p.baselineOps()),
                    p.ratio(),
                    p.target() > Results.NO_TARGET ? String.format("%.2fx", p.target()) : "-",
                    p.ratio() >= p.target() ? "" : "MISSED");
        }
        if (!r.references.isEmpty()) {
            s.progress("%nAgainst pgbench (PostgreSQL's C client, one connection per client, prepared, same table):");
            s.progress("%-28s %7s %16s %16s %7s", "benchmark", "clients", "Once ops/s", "pgbench tps", "ratio");
            for (Results.Reference ref : r.references) {
                double once =
                        r.pairOf(ref).map(p -> Stats.median(p.candidateOps())).orElse(Double.NaN);
                s.progress(
                        "%-28s %7d %,16.0f %,16.0f %6.2fx",
                        ref.pair(), ref.threads(), once, ref.opsPerSecond(), once / ref.opsPerSecond());
            }
        }
        if (!r.latencies.isEmpty()) {
            s.progress(
                    "%nProxy, one hot key, %d connections (latency of the last repetition, ms):",
                    ProxyBench.CONNECTIONS);
            s.progress("%-40s %12s %9s %9s", "server", "requests/s", "p50", "p99");
            for (Results.Latency l : r.latencies) {
                s.progress("%-40s %,12.0f %9.2f %9.2f", l.name(), l.opsPerSecond(), l.p50Millis(), l.p99Millis());
            }
        }
        if (!r.strategies.isEmpty()) {
            s.progress("%nCalls per key when identical requests arrive together (100 ms loader, in one process):");
            s.progress(
                    "%-50s %5s %8s %12s %10s %6s %7s",
                    "strategy", "keys", "callers", "loader calls", "calls/key", "rows", "errors");
            for (Results.Strategy st : r.strategies) {
                s.progress(
                        "%-50s %5d %8d %12d %10.2f %6d %7d",
                        st.name(),
                        st.keys(),
                        st.callersPerKey(),
                        st.loaderCalls(),
                        st.callsPerKey(),
                        st.rows(),
                        st.errors());
            }
        }
        for (String note : r.notes) s.progress("note: %s", note);
        if (!r.bursts.isEmpty()) {
            s.progress("%nCross-process waiters (latency from the request to the value, ms):");
            s.progress(
                    "%-52s %5s %8s %7s %16s %11s %11s %11s %11s",
                    "mode",
                    "procs",
                    "callers",
                    "rounds",
                    "loader calls/key",
                    "waiter p50",
                    "waiter p99",
                    "all p50",
                    "all p99");
            for (Results.Burst b : r.bursts) {
                s.progress(
                        "%-52s %5d %8d %7d %16.2f %11.1f %11.1f %11.1f %11.1f",
                        b.name() + ", " + b.mode(),
                        b.processes(),
                        b.callersPerProcess(),
                        b.rounds(),
                        b.loaderCallsPerKey(),
                        Stats.percentile(b.waiterMillis(), 50),
                        Stats.percentile(b.waiterMillis(), 99),
                        Stats.percentile(b.allMillis(), 50),
                        Stats.percentile(b.allMillis(), 99));
            }
        }
    }

    private static String spread(List<Double> xs) {
        return String.format("%,.0f (%,.0f..%,.0f)", Stats.median(xs), Stats.min(xs), Stats.max(xs));
    }
}
