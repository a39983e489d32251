package dev.once.cli.bench;

import java.util.ArrayList;
import java.util.List;

/** Measures a candidate and its baseline alternately, after a warm-up of each, and records the pair. */
final class Pairs {
    private final Settings settings;
    private final Results results;

    Pairs(Settings settings, Results results) {
        this.settings = settings;
        this.results = results;
    }

    void compare(
            String name,
            int threads,
            String candidate,
            String baseline,
            double target,
            Throughput.Op candidateOp,
            Throughput.Op baselineOp)
            throws Exception {
        settings.progress("%s, %d thread(s): warm-up ...", name, threads);
        Throughput.measure(threads, settings.warmupMillis(), candidateOp);
        Throughput.measure(threads, settings.warmupMillis(), baselineOp);
        List<Double> c = new ArrayList<>();
        List<Double> b = new ArrayList<>();
        for (int r = 0; r < settings.repetitions(); r++) {
            c.add(Throughput.measure(threads, settings.repetitionMillis(), candidateOp));
            b.add(Throughput.measure(threads, settings.repetitionMillis(), baselineOp));
            settings.progress(
                    "  rep %d/%d: %s %,.0f/s, %s %,.0f/s",
                    r + 1, settings.repetitions(), candidate, c.get(r), baseline, b.get(r));
        }
        results.pairs.add(new Results.Pair(name, threads, candidate, baseline, c, b, target));
    }
}
