package dev.once.cli.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One self-contained HTML file (inline CSS and SVG, no scripts, no network): the pairs' table,
 * throughput against threads per benchmark, and the waiters' latency histograms.
 */
final class HtmlReport {
    private static final String CANDIDATE = "#2b6cb0";
    private static final String BASELINE = "#a0aec0";

    private HtmlReport() {}

    static void write(Path file, Results r, Settings s, String database, String when) throws IOException {
        StringBuilder h = new StringBuilder(16_384);
        h.append("<!doctype html><html lang=en><head><meta charset=utf-8><title>once bench</title><style>")
                .append("body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#1a202c}")
                .append(
                        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #e2e8f0;padding:4px 8px;text-align:right}")
                .append(
                        "th{background:#f7fafc}td:first-child,th:first-child{text-align:left}.miss{color:#c53030;font-weight:600}")
                .append("svg{margin:.5em 1em 1em 0}h2{margin-top:2em}</style></head><body>");
        h.append("<h1>once bench</h1><p>")
                .append(esc(database))
                .append(" &middot; ")
                .append(Runtime.getRuntime().availableProcessors())
                .append(" cores &middot; ")
                .append(esc(when))
                .append(" &middot; median of ")
                .append(s.repetitions())
                .append(" repetitions of ")
                .append(s.repetitionMillis())
                .append(" ms after ")
                .append(s.warmupMillis())
                .append(" ms of warm-up, candidate and baseline alternated</p>");
        if (!r.pairs.isEmpty()) {
            h.append(
                            "<h2>Against the database's own limit</h2><table><tr><th>benchmark</th><th>threads</th><th>candidate</th>")
                    .append("<th>ops/s</th><th>baseline</th><th>ops/s</th><th>ratio</th><th>target</th></tr>");
            for (Results.Pair p : r.pairs) {
                boolean met = p.ratio() >= p.target();
                h.append("<tr><td>")
                        .append(esc(p.name()))
                        .append("</td><td>")
                        .append(p.threads())
                        .append("</td><td>")
                        .append(esc(p.candidate()))
                        .append("</td><td>")
                        .append(num(Stats.median(p.candidateOps())))
                        .append("</td><td>")
                        .append(esc(p.baseline()))
                        .append("</td><td>")
                        .append(num(Stats.median(p.baselineOps())))
                        .append("</td><td")
                        .append(met ? "" : " class=miss")
                        .append('>')
                        .append(String.format(Locale.ROOT, "%.2f&times;", p.ratio()))
                        .append("</td><td>")
                        .append(
                                p.target() > Results.NO_TARGET
                                        ? String.format(Locale.ROOT, "&ge; %.2f&times;", p.target())
                                        : "&ndash;")
                        .append("</td></tr>");
            }
            h.append("</table>");
            Map<String, List<Results.Pair>> byName = new LinkedHashMap<>();
            for (Results.Pair p : r.pairs)
                byName.computeIfAbsent(p.name(), k -> new ArrayList<>()).add(p);
            h.append("<h2>Throughput against threads</h2><p><span style=\"color:")
                    .append(CANDIDATE)
                    .append("\">&#9632; Once</span> &nbsp; <span style=\"color:")
                    .append(BASELINE)
                    .append("\">&#9632; baseline</span></p>");
            byName.forEach((name, pairs) -> h.append(throughputChart(name, pairs)));
        }
        if (!r.bursts.isEmpty()) {
            h.append(
                            "<h2>Cross-process waiters</h2><table><tr><th>benchmark</th><th>mode</th><th>processes &times; callers</th><th>rounds</th>")
                    .append("<th>loader calls per key</th><th>waiter p50 ms</th><th>waiter p99 ms</th>")
                    .append("<th>all p50 ms</th><th>all p99 ms</th></tr>");
            for (Results.Burst b : r.bursts) {
                h.append("<tr><td>")
                        .append(esc(b.name()))
                        .append("</td><td>")
                        .append(esc(b.mode()))
                        .append("</td><td>")
                        .append(b.processes())
                        .append(" &times; ")
                        .append(b.callersPerProcess())
                        .append("</td><td>")
                        .append(b.rounds())
                        .append("</td><td>")
                        .append(String.format(Locale.ROOT, "%.2f", b.loaderCallsPerKey()))
                        .append("</td><td>")
                        .append(String.format(Locale.ROOT, "%.1f", Stats.percentile(b.waiterMillis(), 50)))
                        .append("</td><td>")
                        .append(String.format(Locale.ROOT, "%.1f", Stats.percentile(b.waiterMillis(), 99)))
                        .append("</td><td>")
                        .append(String.format(Locale.ROOT, "%.1f", Stats.percentile(b.allMillis(), 50)))
                        .append("</td><td>")
                        .append(String.format(Locale.ROOT, "%.1f", Stats.percentile(b.allMillis(), 99)))
                        .append("</td></tr>");
            }
            h.append("</table>");
            for (Results.Burst b : r.bursts) h.append(histogram(b));
        }
        if (!r.references.isEmpty()) {
            h.append("<h2>Against pgbench</h2><p>PostgreSQL's own C client on the same table: one connection per")
                    .append(" client, prepared statements, no pool.</p><table><tr><th>benchmark</th><th>clients</th>")
                    .append("<th>Once ops/s</th><th>pgbench</th><th>tps</th><th>ratio</th></tr>");
            for (Results.Reference ref : r.references) {
                double once =
                        r.pairOf(ref).map(p -> Stats.median(p.candidateOps())).orElse(Double.NaN);
                h.append("<tr><td>")
                        .append(esc(ref.pair()))
                        .append("</td><td>")
                        .append(ref.threads())
                        .append("</td><td>")
                        .append(num(once))
                        .append("</td><td>")
                        .append(esc(ref.label()))
                        .append("</td><td>")
                        .append(num(ref.opsPerSecond()))
                        .append("</td><td>")
                        .append(String.format(Locale.ROOT, "%.2f&times;", once / ref.opsPerSecond()))
                        .append("</td></tr>");
            }
            h.append("</table>");
        }
        if (!r.latencies.isEmpty()) {
            h.append("<h2>Proxy, one hot key, ")
                    .append(ProxyBench.CONNECTIONS)
                    .append(" connections</h2><table><tr><th>server</th><th>requests/s</th><th>p50 ms</th>")
                    .append("<th>p99 ms</th></tr>");
            for (Results.Latency l : r.latencies) {
                h.append("<tr><td>")
                        .append(esc(l.name()))
                        .append("</td><td>")
                        .append(num(l.opsPerSecond()))
                        .append("</td><td>")
                        .append(String.format(Locale.ROOT, "%.2f", l.p50Millis()))
                        .append("</td><td>")
                        .append(String.format(Locale.ROOT, "%.2f", l.p99Millis()))
                        .append("</td></tr>");
            }
            h.append("</table>");
        }
        if (!r.strategies.isEmpty()) {
            h.append("<h2>Loader calls per key by strategy</h2><p>")
                    .append(r.strategies.get(0).callersPerKey())
                    .append(" identical requests per key arrive together; the loader takes 100 ms.</p>")
                    .append(strategyChart(r.strategies))
                    .append("<table><tr><th>strategy</th><th>keys</th><th>loader calls</th><th>calls per key</th>")
                    .append("<th>rows</th><th>errors</th></tr>");
            for (Results.Strategy st : r.strategies) {
                h.append("<tr><td>")
                        .append(esc(st.name()))
                        .append("</td><td>")
                        .append(st.keys())
                        .append("</td><td>")
                        .append(st.loaderCalls())
                        .append("</td><td>")
                        .append(String.format(Locale.ROOT, "%.2f", st.callsPerKey()))
                        .append("</td><td>")
                        .append(st.rows())
                        .append("</td><td>")
                        .append(st.errors())
                        .append("</td></tr>");
            }
            h.append("</table>");
        }
        for (String note : r.notes) h.append("<p><em>").append(esc(note)).append("</em></p>");
        h.append("</body></html>\n");
        Files.writeString(file, h, StandardCharsets.UTF_8);
    }

    /** Grouped bars: for each thread count, the candidate's and the baseline's median ops/s. */
    private static String throughputChart(String name, List<Results.Pair> pairs) {
        int w = 120 * pairs.size() + 80;
        int h = 220;
        double max = 1;
        for (Results.Pair p : pairs)
            max = Math.max(max, Math.max(Stats.median(p.candidateOps()), Stats.median(p.baselineOps())));
        StringBuilder svg = new StringBuilder();
        svg.append("<svg width=")
                .append(w)
                .append(" height=")
                .append(h + 40)
                .append(" role=img aria-label=\"")
                .append(esc(name))
                .append("\"><text x=0 y=14 font-weight=600>")
                .append(esc(name))
                .append("</text>");
        for (int i = 0; i < pairs.size(); i++) {
            Results.Pair p = pairs.get(i);
            int x = 60 + i * 120;
            double c = Stats.median(p.candidateOps());
            double b = Stats.median(p.baselineOps());
            svg.append(bar(x, c, max, h, CANDIDATE)).append(bar(x + 45, b, max, h, BASELINE));
            svg.append("<text x=")
                    .append(x + 40)
                    .append(" y=")
                    .append(h + 36)
                    .append(" text-anchor=middle>")
                    .append(p.threads())
                    .append(p.threads() == 1 ? " thread" : " threads")
                    .append("</text>");
        }
        return svg.append("</svg>").toString();
    }

    /** Horizontal bars: loader calls per key, one bar per strategy. */
    private static String strategyChart(List<Results.Strategy> strategies) {
        double max = 1;
        for (Results.Strategy st : strategies) max = Math.max(max, st.callsPerKey());
        int rowHeight = 28;
        StringBuilder svg = new StringBuilder("<svg width=760 height=" + (strategies.size() * rowHeight + 10)
                + " role=img aria-label=\"loader calls per key by strategy\">");
        for (int i = 0; i < strategies.size(); i++) {
            Results.Strategy st = strategies.get(i);
            int y = i * rowHeight + 4;
            int width = (int) Math.max(2, Math.round(340 * st.callsPerKey() / max));
            svg.append("<text x=0 y=")
                    .append(y + 16)
                    .append(" font-size=12>")
                    .append(esc(st.name()))
                    .append("</text><rect x=340 y=")
                    .append(y)
                    .append(" width=")
                    .append(width)
                    .append(" height=20 fill=\"")
                    .append(st.callsPerKey() <= 1.0 ? CANDIDATE : BASELINE)
                    .append("\"/><text x=")
                    .append(346 + width)
                    .append(" y=")
                    .append(y + 15)
                    .append(" font-size=12>")
                    .append(String.format(Locale.ROOT, "%.2f", st.callsPerKey()))
                    .append("</text>");
        }
        return svg.append("</svg>").toString();
    }

    private static String bar(int x, double value, double max, int h, String color) {
        int height = (int) Math.round((h - 30) * value / max);
        int y = h + 20 - height;
        return "<rect x=" + x + " y=" + y + " width=40 height=" + height + " fill=\"" + color + "\"/>" + "<text x="
                + (x + 20) + " y=" + (y - 4) + " font-size=11 text-anchor=middle>" + num(value) + "</text>";
    }

    /** The waiters' latencies in 2 ms bins. */
    private static String histogram(Results.Burst b) {
        List<Double> xs = b.waiterMillis();
        if (xs.isEmpty()) return "";
        double lo = Math.floor(Stats.min(xs) / 2) * 2;
        double hi = Math.ceil(Stats.max(xs) / 2) * 2 + 2;
        int bins = (int) Math.min(60, (hi - lo) / 2);
        double width = (hi - lo) / bins;
        int[] counts = new int[bins];
        for (double x : xs) counts[(int) Math.min(bins - 1, (x - lo) / width)]++;
        int top = 1;
        for (int c : counts) top = Math.max(top, c);
        int w = Math.max(320, 12 * bins + 60);
        StringBuilder svg = new StringBuilder(
                "<svg width=" + w + " height=200 role=img aria-label=\"waiter latency " + esc(b.mode())
                        + "\"><text x=0 y=14 font-weight=600>waiter latency, " + esc(b.mode()) + " (ms)</text>");
        for (int i = 0; i < bins; i++) {
            int height = (int) Math.round(140.0 * counts[i] / top);
            svg.append("<rect x=")
                    .append(30 + i * 12)
                    .append(" y=")
                    .append(170 - height)
                    .append(" width=10 height=")
                    .append(height)
                    .append(" fill=\"")
                    .append(CANDIDATE)
                    .append("\"><title>")
                    .append(String.format(
                            Locale.ROOT, "%.0f-%.0f ms: %d", lo + i * width, lo + (i + 1) * width, counts[i]))
                    .append("</title></rect>");
        }
        svg.append("<text x=30 y=190>")
                .append(String.format(Locale.ROOT, "%.0f", lo))
                .append("</text><text x=")
                .append(30 + bins * 12)
                .append(" y=190 text-anchor=end>")
                .append(String.format(Locale.ROOT, "%.0f", hi))
                .append("</text>");
        return svg.append("</svg>").toString();
    }

    private static String num(double x) {
        return String.format(Locale.ROOT, "%,.0f", x);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
