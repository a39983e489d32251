package dev.once.cli.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Every figure of a bench run, for the terminal table and the JSON file. */
final class Results {
    /** A candidate and its baseline, measured alternately in the same run at the same thread count. */
    record Pair(
            String name,
            int threads,
            String candidate,
            String baseline,
            List<Double> candidateOps,
            List<Double> baselineOps,
            double target) {
        double ratio() {
            return Stats.median(candidateOps) / Stats.median(baselineOps);
        }

        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("threads", threads);
            m.put("candidate", candidate);
            m.put("baseline", baseline);
            m.put("candidate_ops_per_s", candidateOps);
            m.put("baseline_ops_per_s", baselineOps);
            m.put("candidate_median", round(Stats.median(candidateOps)));
            m.put("baseline_median", round(Stats.median(baselineOps)));
            m.put("ratio", round(ratio() * 1000) / 1000);
            if (target > NO_TARGET) {
                m.put("target_ratio", target);
                m.put("meets_target", ratio() >= target);
            }
            return m;
        }
    }

    /** Cross-process waiters: loader calls per key and latency percentiles. */
    record Burst(
            String name,
            String mode,
            int processes,
            int callersPerProcess,
            int rounds,
            long loaderMillis,
            double loaderCallsPerKey,
            List<Double> waiterMillis,
            List<Double> allMillis) {
        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("mode", mode);
            m.put("processes", processes);
            m.put("callers_per_process", callersPerProcess);
            m.put("rounds", rounds);
            m.put("loader_ms", loaderMillis);
            m.put("loader_calls_per_key", loaderCallsPerKey);
            m.put("waiter_p50_ms", round(Stats.percentile(waiterMillis, 50) * 10) / 10);
            m.put("waiter_p99_ms", round(Stats.percentile(waiterMillis, 99) * 10) / 10);
            m.put("waiter_max_ms", round(Stats.max(waiterMillis) * 10) / 10);
            m.put("all_p50_ms", round(Stats.percentile(allMillis, 50) * 10) / 10);
            m.put("all_p99_ms", round(Stats.percentile(allMillis, 99) * 10) / 10);
            m.put("waiter_ms", waiterMillis);
            return m;
        }
    }

    /** An outside tool's figure (pgbench) beside the pair of the same name and threads. */
    record Reference(String pair, int threads, String label, double opsPerSecond) {
        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("pair", pair);
            m.put("threads", threads);
            m.put("label", label);
            m.put("ops_per_s", round(opsPerSecond));
            return m;
        }
    }

    /** How many loader calls and rows one strategy paid for a burst of identical requests per key. */
    record Strategy(String name, int keys, int callersPerKey, long loaderCalls, long rows, long errors) {
        double callsPerKey() {
            return (double) loaderCalls / keys;
        }

        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("strategy", name);
            m.put("keys", keys);
            m.put("callers_per_key", callersPerKey);
            m.put("loader_calls", loaderCalls);
            m.put("loader_calls_per_key", callsPerKey());
            m.put("rows", rows);
            m.put("errors", errors);
            return m;
        }
    }

    /** Latency percentiles of one load run (wrk's, for the proxy). */
    record Latency(String name, int connections, double opsPerSecond, double p50Millis, double p99Millis) {
        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("connections", connections);
            m.put("requests_per_s", round(opsPerSecond));
            m.put("p50_ms", Double.isNaN(p50Millis) ? null : p50Millis); // NaN: the load tool gave no latency
            m.put("p99_ms", Double.isNaN(p99Millis) ? null : p99Millis);
            return m;
        }
    }

    /** A pair shown for its ratio alone. */
    static final double NO_TARGET = 0;

    final List<Pair> pairs = new ArrayList<>();
    final List<Reference> references = new ArrayList<>();
    final List<Strategy> strategies = new ArrayList<>();
    final List<Latency> latencies = new ArrayList<>();
    final List<Burst> bursts = new ArrayList<>();
    final List<String> notes = new ArrayList<>();

    /** The pair a reference stands beside, if it was measured. */
    java.util.Optional<Pair> pairOf(Reference r) {
        return pairs.stream()
                .filter(p -> p.name().equals(r.pair()) && p.threads() == r.threads())
                .findFirst();
    }

    static double round(double x) {
        return Math.round(x);
    }
}
