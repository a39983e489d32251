package dev.once.cli.bench;

import dev.once.cli.OnceCommand;
import dev.once.cli.WorkerProcess;
import dev.once.cli.demo.LoopbackServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.Callback;

/**
 * Coalesced waiters through the proxy: {@value #REPLICAS} {@code once serve} processes on the bench's
 * database in front of an upstream that takes {@value #UPSTREAM_MILLIS} ms; a burst is 50 new
 * keys × 12 identical requests (or the shape {@code --burst} gives), all sent at once and spread over the replicas. The
 * same driver then sends the same burst straight to the upstream: the proxy's cost is the difference of
 * the two latency distributions, measured alternately in one run. The first burst after the replicas
 * start (cold JIT, cold connections) is reported on its own. {@value #REPLICAS} {@link BareProxy}
 * processes take their turn in every round too: the floor, one more HTTP hop with in-process coalescing
 * and nothing else, so that the report tells the hop's price on the machine from the protocol's; on
 * PostgreSQL {@value #REPLICAS} {@link FloorProxy} processes too: the least coordination through the
 * database that keeps one upstream call per key, so that it tells the database's price from once serve's.
 */
final class ProxyWaitersBench {
    static final int REPLICAS = 3;
    static final long UPSTREAM_MILLIS = 100;
    /** The replicas' near caches: full after 20 bursts, the least warm-up there is. */
    static final int NEAR_CACHE_ENTRIES = 1_000;

    private static final Pattern LISTENING = Pattern.compile("listening on http://[^:]+:(\\d+)");

    private final BenchTarget target;
    private final Settings settings;
    private final Results results;
    /** A burst's new keys, and the identical requests sent for each. */
    private final int keys;

    private final int perKey;

    ProxyWaitersBench(BenchTarget target, Settings settings, Results results) {
        this.target = target;
        this.settings = settings;
        this.results = results;
        this.keys = settings.waiterKeys();
        this.perKey = settings.waiterRequestsPerKey();
    }

    /**
     * A burst's latencies (ms), the coalesced ones among them, and the errors; and where they went: per key,
     * from the release to its first upstream call ({@code toUpstream}), and per request, from the upstream's
     * answer (its call plus {@value #UPSTREAM_MILLIS} ms) to the request's last byte ({@code fromUpstream}).
     */
    private record Burst(
            List<Double> all, List<Double> coalesced, int errors, List<Double> toUpstream, List<Double> fromUpstream) {}

    /** The protocol floor's scratch table on PostgreSQL, while it exists. */
    private String floorTable;

    /** When each upstream path was first called (nanoTime, this JVM's clock, as the bursts'): taken by {@link #burst}. */
    private final Map<String, Long> firstCalls = new ConcurrentHashMap<>();

    void run() throws Exception {
        Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        // The paid API thinking, on a timer: answered from Jetty's own threads, never queued behind the
        // driver's virtual threads in this JVM (a real API runs elsewhere), for both sides of the comparison
        java.util.concurrent.ScheduledExecutorService thinking = Executors.newSingleThreadScheduledExecutor();
        Server upstream = LoopbackServer.start(new Handler.Abstract.NonBlocking() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                String path = request.getHttpURI().getPath();
                calls.computeIfAbsent(path, k -> new AtomicInteger()).incrementAndGet();
                firstCalls.putIfAbsent(path, System.nanoTime());
                thinking.schedule(
                        () -> {
                            response.getHeaders().put("Content-Type", "application/json");
                            response.write(
                                    true,
                                    ByteBuffer.wrap(("{\"answer\":\"" + path + "\"}").getBytes(StandardCharsets.UTF_8)),
                                    callback);
                        },
                        UPSTREAM_MILLIS,
                        TimeUnit.MILLISECONDS);
                return true;
            }
        });
        String origin = "http://127.0.0.1:" + LoopbackServer.port(upstream);
        String namespace = "bench-proxy-wait-" + ThreadLocalRandom.current().nextInt(1_000_000);
        List<Side> sides = new ArrayList<>();
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
        HttpClient client = HttpClient.newBuilder()
                .executor(threads)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        try {
            settings.progress(
                    "proxy waiters: starting %d once serve processes on %s, upstream %d ms, bursts of %d new keys x %d"
                            + " identical requests ...",
                    REPLICAS, target.description(), UPSTREAM_MILLIS, keys, perKey);
            results.notes.add("proxy waiters: bursts of " + keys + " new keys x " + perKey + " identical requests, "
                    + UPSTREAM_MILLIS + " ms upstream");
            // the driver (and the upstream, in this JVM) warm before the replicas start: the first burst
            // measures cold replicas, not a cold driver (which alone took 0.5 s to send the first burst)
            int warm = Math.max(3, settings.burstRounds() / 5); // 20 in a full run, 4 in a quick one
            for (int w = 0; w < warm; w++) burst(client, threads, List.of(origin), "direct-pre-" + w);
            java.nio.file.Path logs = java.nio.file.Files.createTempDirectory("once-bench-replicas");
            // before any other replica starts, so that both first bursts meet an idle machine
            Burst aotFirst = null;
            if (Runtime.version().feature() < 25 || !WorkerProcess.fromOneJar()) {
                settings.progress(
                        "  no first burst from a JDK AOT cache: it needs a JDK 25+ (this is %d) and the bench run from"
                                + " once.jar",
                        Runtime.version().feature());
            } else {
                aotFirst = aotFirstBurst(client, threads, origin, namespace, logs);
            }
            sides.add(new Side(REPLICAS + " x once serve", "", null, List.of()));
            if (settings.compares()) {
                String build = settings.compareWith() == null
                        ? "this build"
                        : settings.compareWith().getFileName().toString();
                String options = settings.compareJvmOptions().isEmpty()
                        ? ""
                        : " under " + String.join(" ", settings.compareJvmOptions());
                sides.add(new Side(
                        REPLICAS + " x once serve, compared build (" + build + options + ")",
                        "b-",
                        settings.compareWith(),
                        settings.compareJvmOptions()));
                settings.progress(
                        "  and %d more from %s%s, their bursts alternated with these", REPLICAS, build, options);
            }
            Side bare =
                    new Side(REPLICAS + " x bare coalescing proxy, no database (the floor)", "bare-", null, List.of());
            sides.add(bare);
            settings.progress(
                    "  and %d bare coalescing proxies without a database (the floor of one more HTTP hop)", REPLICAS);
            Side floor = null;
            if (target.url().startsWith("jdbc:postgresql:")) {
                floorTable = "once_floor_" + ThreadLocalRandom.current().nextInt(1_000_000);
                try (java.sql.Connection c = target.pool().getConnection();
                        java.sql.Statement s = c.createStatement()) {
                    s.execute("CREATE TABLE " + floorTable + " (k text PRIMARY KEY, v text)");
                }
                target.created(floorTable);
                floor = new Side(
                        REPLICAS + " x minimal database coalescing proxy (the protocol's floor)",
                        "floor-",
                        null,
                        List.of());
                sides.add(floor);
                settings.progress(
                        "  and %d minimal coalescing proxies on the database (the floor of coordinating through it:"
                                + " a statement per key and process, a write with its NOTIFY per key)",
                        REPLICAS);
            } else {
                results.notes.add("proxy waiters: the protocol's floor (minimal database coalescing proxies) is"
                        + " measured on PostgreSQL only: it waits on LISTEN/NOTIFY");
            }
            addNginx(sides, origin);
            for (Side side : sides) { // all start at once, then each says its port
                if (side.nginx != null) continue;
                for (int i = 0; i < REPLICAS; i++) {
                    side.logs.add(logs.resolve("replica-" + side.prefix + i + ".log"));
                    side.replicas.add(
                            side == bare
                                    ? bareReplica(origin, side.logs.get(i))
                                    : side == floor
                                            ? floorReplica(origin, floorTable, side.logs.get(i))
                                            : replica(
                                                    side.jar,
                                                    side.jvmOptions,
                                                    origin,
                                                    namespace + "-" + side.prefix,
                                                    side.logs.get(i)));
                }
            }
            for (Side side : sides) {
                if (side.nginx != null) side.bases.add(side.nginx.base);
                else
                    for (int i = 0; i < REPLICAS; i++)
                        side.bases.add("http://127.0.0.1:" + port(side.replicas.get(i), side.logs.get(i)));
            }
            settings.progress("  replicas' logs in %s", logs);
            int rounds = Math.max(3, settings.burstRounds() / 4);
            int errors = 0;
            for (Side side : sides) {
                if (!side.onceServe()) continue; // cold, it tells nothing of once serve
                side.first = firstBurst(client, threads, side.bases, side.prefix + "first", side.tag());
                errors += side.first.errors();
            }
            warmUp(client, threads, sides, origin, warm);
            List<Long> self = List.of(ProcessHandle.current().pid());
            double[] cpuDirect = new double[3]; // machine, replicas, this JVM (driver and upstream)
            for (Side side : sides) {
                side.before = side.onceServe() ? phases(client, side.bases) : Map.of();
                side.jitBefore = side.nginx == null ? replicasJitMillis(client, side.bases) : 0;
                side.threadsBefore = CpuTime.byThread(side.pids());
            }
            List<Double> direct = new ArrayList<>();
            List<Double> directTo = new ArrayList<>();
            List<Double> directFrom = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                StringBuilder line = new StringBuilder(String.format("  round %d/%d:", r + 1, rounds));
                Map<Side, Burst> round = new java.util.IdentityHashMap<>();
                // with two builds, each goes first in every other round
                for (int k = 0; k < sides.size(); k++) {
                    Side side = sides.get((k + r) % sides.size());
                    double[] c0 = cpu(side.pids(), self);
                    Burst b = burst(client, threads, side.bases, side.prefix + "r" + r);
                    double[] c1 = cpu(side.pids(), self);
                    for (int i = 0; i < 3; i++) side.cpu[i] += c1[i] - c0[i];
                    side.all.addAll(b.all());
                    side.coalesced.addAll(b.coalesced());
                    side.toUpstream.addAll(b.toUpstream());
                    side.fromUpstream.addAll(b.fromUpstream());
                    errors += b.errors();
                    round.put(side, b);
                }
                double[] c1 = cpu(List.of(), self);
                Burst d = burst(client, threads, List.of(origin), "direct-r" + r);
                double[] c2 = cpu(List.of(), self);
                for (int i = 0; i < 3; i++) cpuDirect[i] += c2[i] - c1[i];
                direct.addAll(d.all());
                directTo.addAll(d.toUpstream());
                directFrom.addAll(d.fromUpstream());
                errors += d.errors();
                for (Side side : sides) {
                    line.append(String.format(
                            " %s p50 %.0f ms p99 %.0f ms,",
                            side.label(),
                            Stats.percentile(round.get(side).all(), 50),
                            Stats.percentile(round.get(side).all(), 99)));
                }
                line.append(String.format(
                        " direct p50 %.0f ms p99 %.0f ms",
                        Stats.percentile(d.all(), 50), Stats.percentile(d.all(), 99)));
                settings.progress("%s", line);
            }
            StringBuilder split = new StringBuilder("proxy waiters, measured rounds, where the time went, p50 / p99 ms:"
                    + " from the burst's release to a key's first upstream call, then from the upstream's answer to"
                    + " a request's last byte:");
            for (Side side : sides)
                split.append(String.format(
                        " %s %.1f / %.1f, %.1f / %.1f;",
                        side.label(),
                        Stats.percentile(side.toUpstream, 50),
                        Stats.percentile(side.toUpstream, 99),
                        Stats.percentile(side.fromUpstream, 50),
                        Stats.percentile(side.fromUpstream, 99)));
            split.append(String.format(
                    " direct %.1f / %.1f, %.1f / %.1f",
                    Stats.percentile(directTo, 50),
                    Stats.percentile(directTo, 99),
                    Stats.percentile(directFrom, 50),
                    Stats.percentile(directFrom, 99)));
            results.notes.add(split.toString());
            settings.progress("  %s", split);
            for (Side side : sides) {
                if (side.onceServe()) note("measured rounds" + side.tag(), side.before, phases(client, side.bases));
                // the settling test ends the warm-up at a lull: C2 may still be at work in the measured rounds
                double jit = side.nginx == null ? (replicasJitMillis(client, side.bases) - side.jitBefore) / rounds : 0;
                if (CpuTime.available()) {
                    String cpu = String.format(
                            "proxy waiters%s, CPU time per burst (mean over the measured rounds, /proc): through %s %.0f"
                                    + " ms on the machine (its processes %.0f, of which JIT compilation %.0f;"
                                    + " driver and upstream %.0f, the rest: the database and others %.0f); straight to"
                                    + " the upstream %.0f ms (driver and upstream %.0f)",
                            side.tag(),
                            side.label(),
                            side.cpu[0] / rounds,
                            side.cpu[1] / rounds,
                            jit,
                            side.cpu[2] / rounds,
                            (side.cpu[0] - side.cpu[1] - side.cpu[2]) / rounds,
                            cpuDirect[0] / rounds,
                            cpuDirect[2] / rounds);
                    results.notes.add(cpu);
                    settings.progress("  %s", cpu);
                    String kinds = byThread(side, rounds);
                    if (kinds != null) {
                        results.notes.add(kinds);
                        settings.progress("  %s", kinds);
                    }
                }
            }
            for (Side side : sides) {
                if (!side.onceServe()) continue; // after the builds' rows, with no first-burst row
                double called = callsPerKey(side, calls, rounds);
                results.bursts.add(new Results.Burst(
                        "proxy waiters",
                        side.mode,
                        REPLICAS,
                        keys * perKey / REPLICAS,
                        rounds,
                        UPSTREAM_MILLIS,
                        called,
                        side.coalesced,
                        side.all));
                results.bursts.add(new Results.Burst(
                        "proxy waiters",
                        side.mode + ", first burst after start",
                        REPLICAS,
                        keys * perKey / REPLICAS,
                        1,
                        UPSTREAM_MILLIS,
                        callsPerKey(calls, "/" + side.prefix + "first/"),
                        side.first.coalesced(),
                        side.first.all()));
            }
            for (Side side : sides) {
                if (side.onceServe()) continue;
                results.bursts.add(new Results.Burst(
                        "proxy waiters",
                        side.mode,
                        side.bases.size(),
                        keys * perKey / side.bases.size(),
                        rounds,
                        UPSTREAM_MILLIS,
                        callsPerKey(side, calls, rounds),
                        side.coalesced,
                        side.all));
            }
            if (aotFirst != null) {
                results.bursts.add(new Results.Burst(
                        "proxy waiters",
                        REPLICAS + " x once serve from a JDK AOT cache, first burst after start",
                        REPLICAS,
                        keys * perKey / REPLICAS,
                        1,
                        UPSTREAM_MILLIS,
                        callsPerKey(calls, "/aot-first/"),
                        aotFirst.coalesced(),
                        aotFirst.all()));
            }
            results.bursts.add(new Results.Burst(
                    "proxy waiters",
                    "same driver, straight to the upstream",
                    1,
                    keys * perKey,
                    rounds,
                    UPSTREAM_MILLIS,
                    perKey,
                    direct,
                    direct));
            if (errors > 0) results.notes.add("proxy waiters: " + errors + " requests failed (see above)");
        } finally {
            for (Side side : sides) for (Process p : side.replicas) p.destroy();
            for (Side side : sides) if (side.nginx != null) side.nginx.close();
            for (Side side : sides) {
                for (Process p : side.replicas) {
                    if (!p.waitFor(15, TimeUnit.SECONDS)) p.destroyForcibly();
                }
            }
            threads.shutdownNow();
            upstream.stop();
            thinking.shutdownNow();
            if (floorTable != null) {
                try (java.sql.Connection c = target.pool().getConnection();
                        java.sql.Statement s = c.createStatement()) {
                    s.execute("DROP TABLE IF EXISTS " + floorTable);
                    target.dropped(floorTable);
                } catch (java.sql.SQLException e) {
                    settings.progress("  could not drop %s (drop it by hand): %s", floorTable, e.getMessage());
                }
            }
        }
    }

    /**
     * nginx twice, where it is installed: its own coalescing ({@code proxy_cache_lock}, one server: its
     * lock is per cache, so replicas would not share it), and one more HTTP hop through the reverse proxy
     * most teams run, every request passed on. Missing or failing to start, it is a note, not a failure.
     */
    private void addNginx(List<Side> sides, String origin) throws InterruptedException {
        java.util.Optional<java.nio.file.Path> nginx = Tools.find("nginx");
        String why = null;
        if (nginx.isEmpty()) {
            why =
                    "nginx not found, so its cache lock and its hop are not measured (Debian: apt-get install nginx-light)";
        } else {
            try {
                sides.add(new Side(
                        "nginx proxy_cache_lock, one server (worker_processes auto)",
                        "nginx-lock-",
                        Nginx.start(nginx.get(), "auto", ProxyBench.NGINX_CACHE.formatted(origin))));
                sides.add(new Side(
                        "nginx, one more HTTP hop, no cache (worker_processes auto)",
                        "nginx-hop-",
                        Nginx.start(
                                nginx.get(),
                                "auto",
                                "upstream api { server " + origin.substring("http://".length()) + "; keepalive 256; }",
                                """
                                proxy_pass http://api;
                                      proxy_http_version 1.1;
                                      proxy_set_header Connection "";""")));
                settings.progress("  and nginx twice: its cache lock, and a plain hop without a cache");
            } catch (java.io.IOException e) {
                why = "nginx could not be started, so its cache lock and its hop are not measured: " + e.getMessage();
            }
        }
        if (why != null) {
            results.notes.add("proxy waiters: " + why);
            settings.progress("  %s", why);
        }
    }

    /** The first burst after the replicas at {@code bases} started: printed, and noted with its phases. */
    private Burst firstBurst(HttpClient client, ExecutorService threads, List<String> bases, String name, String tag)
            throws Exception {
        Map<String, double[]> cold = phases(client, bases);
        Burst first = burst(client, threads, bases, name);
        settings.progress(
                "  first burst after start%s: p50 %.0f ms, p99 %.0f ms",
                tag, Stats.percentile(first.all(), 50), Stats.percentile(first.all(), 99));
        note("first burst after start" + tag, cold, phases(client, bases));
        return first;
    }

    /**
     * JDK 25+: the first burst of {@value #REPLICAS} replicas started from an AOT cache (JEP 483/515), as
     * the {@code ./once} launcher does with {@code ONCE_AOT_CACHE}: a training run ({@code once serve
     * --warm-up 2000 --exit-after-warm-up} under {@code -XX:AOTCacheOutput}), then the replicas under
     * {@code -XX:AOTCache}, one burst, stopped. Null, with a note, when the training failed.
     */
    private Burst aotFirstBurst(
            HttpClient client, ExecutorService threads, String origin, String namespace, java.nio.file.Path logs)
            throws Exception {
        java.nio.file.Path cache = logs.resolve("once.aot");
        java.nio.file.Path trainingLog = logs.resolve("aot-training.log");
        settings.progress("  training a JDK AOT cache (once serve --warm-up 2000 --exit-after-warm-up) ...");
        long t0 = System.nanoTime();
        Process training = replica(
                null,
                List.of("-Xlog:aot*=error,cds*=error", "-XX:AOTCacheOutput=" + cache),
                origin,
                namespace + "-aot-training",
                trainingLog,
                "--warm-up",
                "2000",
                "--exit-after-warm-up");
        boolean ended = training.waitFor(10, TimeUnit.MINUTES);
        if (!ended) training.destroyForcibly();
        if (!ended || training.exitValue() != 0 || !java.nio.file.Files.exists(cache)) {
            String why = "proxy waiters: the AOT cache could not be trained; its first burst is not measured (log: "
                    + trainingLog + ")";
            results.notes.add(why);
            settings.progress("  %s", why);
            return null;
        }
        settings.progress(
                "  trained in %.0f s; starting %d replicas from it", (System.nanoTime() - t0) / 1e9, REPLICAS);
        List<Process> replicas = new ArrayList<>();
        try {
            List<java.nio.file.Path> aotLogs = new ArrayList<>();
            for (int i = 0; i < REPLICAS; i++) {
                aotLogs.add(logs.resolve("replica-aot-" + i + ".log"));
                replicas.add(
                        replica(null, List.of("-XX:AOTCache=" + cache), origin, namespace + "-aot", aotLogs.get(i)));
            }
            List<String> bases = new ArrayList<>();
            for (int i = 0; i < REPLICAS; i++) bases.add("http://127.0.0.1:" + port(replicas.get(i), aotLogs.get(i)));
            return firstBurst(client, threads, bases, "aot-first", ", from the AOT cache");
        } finally {
            for (Process p : replicas) p.destroy();
            for (Process p : replicas) if (!p.waitFor(15, TimeUnit.SECONDS)) p.destroyForcibly();
        }
    }

    /**
     * One build's replicas: this one, or with {@code --compare-with} another {@code once.jar}, started
     * the same way on its own namespace, its bursts alternated with this build's in the same run, so that
     * both meet the same machine (on a shared 2-core machine, separate runs of one build differed by 10 ms
     * at the p50).
     */
    private static final class Side {
        final String mode;
        final String prefix;
        final java.nio.file.Path jar;
        /** nginx, for its sides: one server where once serve has {@value #REPLICAS} replicas. */
        final Nginx nginx;

        final List<Process> replicas = new ArrayList<>();
        final List<java.nio.file.Path> logs = new ArrayList<>();
        final List<String> bases = new ArrayList<>();
        final List<Double> all = new ArrayList<>();
        final List<Double> coalesced = new ArrayList<>();
        final List<Double> toUpstream = new ArrayList<>();
        final List<Double> fromUpstream = new ArrayList<>();
        final double[] cpu = new double[3];
        Burst first;
        Map<String, double[]> before;
        /** The replicas' JIT compilation time when the measured rounds began, ms. */
        double jitBefore;
        /** The replicas' CPU by kind of thread before the measured rounds ({@link CpuTime#byThread}). */
        Map<String, Double> threadsBefore = Map.of();

        /** More options for the replicas' JVMs ({@code --compare-jvm-options}). */
        final List<String> jvmOptions;

        Side(String mode, String prefix, java.nio.file.Path jar, List<String> jvmOptions) {
            this.mode = mode;
            this.prefix = prefix;
            this.jar = jar;
            this.jvmOptions = jvmOptions;
            this.nginx = null;
        }

        Side(String mode, String prefix, Nginx nginx) {
            this.mode = mode;
            this.prefix = prefix;
            this.jar = null;
            this.jvmOptions = List.of();
            this.nginx = nginx;
        }

        /** once serve replicas, of this build or the compared one: they have phases and a first burst. */
        boolean onceServe() {
            return nginx == null && !prefix.equals("bare-") && !prefix.equals("floor-");
        }

        List<Long> pids() {
            return nginx != null
                    ? nginx.pids()
                    : replicas.stream().map(Process::pid).toList();
        }

        String tag() {
            return prefix.isEmpty() ? "" : " (" + label() + ")";
        }

        String label() {
            return switch (prefix) {
                case "" -> "once serve";
                case "bare-" -> "bare proxy";
                case "floor-" -> "protocol floor";
                case "nginx-lock-" -> "nginx cache lock";
                case "nginx-hop-" -> "nginx hop";
                default -> "compared build";
            };
        }
    }

    /**
     * Warms the replicas and the driver until the JIT has settled: at least {@code min} pairs of bursts,
     * then until the JIT time of the replicas and of this JVM grew by less than {@value #SETTLED_JIT_MILLIS}
     * ms per build (3 replicas) over the last {@value #SETTLE_WINDOW} pairs, at most 400 pairs in a full run, 80 in a
     * quick one (with {@code --compare-with}, 6 replicas on 2 cores had not settled after 400 by the
     * threshold of 3). Unsettled, the
     * measured rounds were mostly C2 at work: 54–70% of a replica's CPU after 20 bursts (async-profiler),
     * which alone put 20 ms on the p50. Not recorded.
     */
    private void warmUp(HttpClient client, ExecutorService threads, List<Side> sides, String origin, int min)
            throws Exception {
        List<String> bases = new ArrayList<>();
        for (Side side : sides) if (side.nginx == null) bases.addAll(side.bases);
        long jvms = sides.stream().filter(s -> s.nginx == null).count();
        settings.progress("  warming up until the JIT settles (at least %d bursts each) ...", min);
        List<Double> jit = new ArrayList<>();
        int max = 4 * settings.burstRounds(); // 400 in a full run (it settled after 181 and 242), 80 quick
        for (int w = 0; w < max; w++) {
            for (Side side : sides) {
                // nginx has no JIT: a few bursts open the driver's connections to it
                if (side.nginx == null || w < min) burst(client, threads, side.bases, side.prefix + "warm-" + w);
            }
            burst(client, threads, List.of(origin), "direct-warm-" + w);
            jit.add(jitMillis(client, bases));
            int n = jit.size();
            if (n > SETTLE_WINDOW
                    && jit.get(n - 1) - jit.get(n - 1 - SETTLE_WINDOW) < SETTLED_JIT_MILLIS * jvms
                    && n >= min) {
                settings.progress("  JIT settled after %d bursts each", n);
                return;
            }
            if (n % 20 == 0)
                settings.progress(
                        "  %d bursts each; JIT time still growing: %.0f ms over the last %d",
                        n, jit.get(n - 1) - jit.get(n - 1 - SETTLE_WINDOW), SETTLE_WINDOW);
        }
        settings.progress("  the JIT had not settled after %d bursts each; measuring anyway", max);
        results.notes.add("proxy waiters: the JIT had not settled after " + max + " warm-up bursts");
    }

    /**
     * The replicas' CPU per round over the measured rounds by kind of thread, largest first (a round
     * holds the other sides' and the driver's bursts too: the replicas idle meanwhile, and idle is not
     * free); null
     * where {@code /proc} has no per-thread times.
     */
    private static String byThread(Side side, int rounds) {
        Map<String, Double> after = CpuTime.byThread(side.pids());
        if (after.isEmpty()) return null;
        StringBuilder line = new StringBuilder(
                "proxy waiters" + side.tag() + ", the replicas' CPU per round by thread (ms, /proc schedstat):");
        after.entrySet().stream()
                .map(e -> Map.entry(
                        e.getKey(), (e.getValue() - side.threadsBefore.getOrDefault(e.getKey(), 0.0)) / rounds))
                .filter(e -> e.getValue() >= 0.5)
                .sorted((a, b) -> Double.compare(b.getValue(), a.getValue()))
                .forEach(e -> line.append(String.format(" %s %.1f;", e.getKey(), e.getValue())));
        return line.toString();
    }

    /** Where a request's time went between two readings of the phases, as a note in the report. */
    private void note(String what, Map<String, double[]> before, Map<String, double[]> after) {
        StringBuilder where = new StringBuilder("proxy waiters, " + what
                + ", where a request's time went (mean, all replicas; /-/metrics once.proxy.phase and"
                + " once.cache.phase):");
        for (var e : after.entrySet()) {
            double[] b = before.getOrDefault(e.getKey(), new double[2]);
            double n = e.getValue()[1] - b[1];
            if (n <= 0) continue;
            where.append(String.format(" %s %.1f ms (%,.0f);", e.getKey(), (e.getValue()[0] - b[0]) * 1000 / n, n));
        }
        results.notes.add(where.toString());
        settings.progress("  %s", where);
    }

    /** CPU time so far, ms: the machine's, the replicas', this JVM's. */
    private static double[] cpu(List<Long> replicas, List<Long> self) {
        return new double[] {CpuTime.machineMillis(), CpuTime.processMillis(replicas), CpuTime.processMillis(self)};
    }

    /** What the ./once launcher gives {@code once serve} as its least heap, where the JVM may have 512 MB or more. */
    static final String HEAP_FLOOR = "256m";

    private static final int SETTLE_WINDOW = 5;
    private static final double SETTLED_JIT_MILLIS = 50;

    /** JIT compilation time so far, ms: the replicas' (from /-/metrics) and this JVM's. */
    private static double jitMillis(HttpClient client, List<String> bases) throws Exception {
        return java.lang.management.ManagementFactory.getCompilationMXBean().getTotalCompilationTime()
                + replicasJitMillis(client, bases);
    }

    /** The replicas' JIT compilation time so far, ms, from their /-/metrics. */
    private static double replicasJitMillis(HttpClient client, List<String> bases) throws Exception {
        double total = 0;
        for (String base : bases) {
            Matcher m = JIT.matcher(metrics(client, base));
            if (m.find()) total += Double.parseDouble(m.group(1));
        }
        return total;
    }

    private static final Pattern JIT =
            Pattern.compile("^jvm_compilation_time_ms_total(?:\\{[^}]*})? ([0-9.eE+-]+)$", Pattern.MULTILINE);

    private static String metrics(HttpClient client, String base) throws Exception {
        return client.send(
                        HttpRequest.newBuilder(URI.create(base + "/-/metrics"))
                                .header("Authorization", "Bearer " + ADMIN_TOKEN)
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
    }

    private static final Pattern PHASE = Pattern.compile(
            "^once_(proxy|cache)_phase_seconds_(sum|count)\\{[^}]*phase=\"(\\w+)\"[^}]*} ([0-9.eE+-]+)$",
            Pattern.MULTILINE);

    /** Each phase's total seconds and count, summed over the replicas' /-/metrics. */
    private static Map<String, double[]> phases(HttpClient client, List<String> bases) throws Exception {
        Map<String, double[]> out = new java.util.TreeMap<>();
        for (String base : bases) {
            Matcher m = PHASE.matcher(metrics(client, base));
            while (m.find()) {
                double[] v = out.computeIfAbsent(m.group(1) + " " + m.group(3), k -> new double[2]);
                v[m.group(2).equals("sum") ? 0 : 1] += Double.parseDouble(m.group(4));
            }
        }
        return out;
    }

    /** Upstream calls per key over a side's measured rounds. */
    private double callsPerKey(Side side, Map<String, AtomicInteger> calls, int rounds) {
        double sum = 0;
        for (int r = 0; r < rounds; r++) sum += callsPerKey(calls, "/" + side.prefix + "r" + r + "/");
        return sum / rounds;
    }

    /** Upstream calls per key for the keys under one burst's path prefix. */
    private double callsPerKey(Map<String, AtomicInteger> calls, String prefix) {
        int n = 0;
        for (var e : calls.entrySet())
            if (e.getKey().startsWith(prefix)) n += e.getValue().get();
        return (double) n / keys;
    }

    /**
     * {@link #keys} keys × {@link #perKey} requests released at once; request j of key k goes to base
     * (k + j) mod bases, so every key reaches every replica. Latency is from the release to the last byte.
     */
    private Burst burst(HttpClient client, ExecutorService threads, List<String> bases, String name) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<double[]>> answers = new ArrayList<>();
        long[] released = new long[1];
        for (int k = 0; k < keys; k++) {
            int key = k;
            for (int j = 0; j < perKey; j++) {
                URI uri = URI.create(bases.get((k + j) % bases.size()) + "/" + name + "/quote-" + k);
                HttpRequest get = HttpRequest.newBuilder(uri)
                        .timeout(Duration.ofSeconds(30))
                        .build();
                answers.add(threads.submit(() -> {
                    go.await();
                    long t0 = System.nanoTime();
                    HttpResponse<byte[]> r = client.send(get, HttpResponse.BodyHandlers.ofByteArray());
                    long end = System.nanoTime();
                    double ms = (end - t0) / 1e6;
                    boolean coalesced = "COALESCED"
                            .equals(r.headers().firstValue("X-Once-Cache").orElse(""));
                    if (r.statusCode() != 200) {
                        throw new IllegalStateException(uri + " answered " + r.statusCode() + ": "
                                + new String(r.body(), StandardCharsets.UTF_8).strip());
                    }
                    return new double[] {ms, coalesced ? 1 : 0, key, (end - released[0]) / 1e6};
                }));
            }
        }
        released[0] = System.nanoTime();
        go.countDown();
        List<Double> all = new ArrayList<>();
        List<double[]> answered = new ArrayList<>();
        List<Double> coalesced = new ArrayList<>();
        int errors = 0;
        for (Future<double[]> f : answers) {
            try {
                double[] a = f.get(60, TimeUnit.SECONDS);
                all.add(a[0]);
                if (a[1] == 1) coalesced.add(a[0]);
                answered.add(a);
            } catch (java.util.concurrent.ExecutionException e) {
                errors++;
                if (errors == 1)
                    settings.progress(
                            "  a request of burst %s failed: %s",
                            name, e.getCause().getMessage());
            }
        }
        if (all.isEmpty()) throw new IllegalStateException("every request of burst " + name + " failed; see above");
        double[] firstCall = new double[keys];
        List<Double> toUpstream = new ArrayList<>();
        for (int k = 0; k < keys; k++) {
            Long at = firstCalls.remove("/" + name + "/quote-" + k);
            firstCall[k] = at == null ? Double.NaN : (at - released[0]) / 1e6;
            if (at != null) toUpstream.add(firstCall[k]);
        }
        List<Double> fromUpstream = new ArrayList<>();
        for (double[] a : answered) {
            double call = firstCall[(int) a[2]];
            if (!Double.isNaN(call)) fromUpstream.add(a[3] - call - UPSTREAM_MILLIS);
        }
        return new Burst(all, coalesced, errors, toUpstream, fromUpstream);
    }

    /** A replica of this build, or of the {@code once.jar} given (another build, started with the same JVM). */
    private Process replica(java.nio.file.Path jar, String origin, String namespace, java.nio.file.Path log)
            throws Exception {
        return replica(jar, List.of(), origin, namespace, log);
    }

    /** The same with options for its JVM (this build only) and more arguments for {@code once serve}. */
    private Process replica(
            java.nio.file.Path jar,
            List<String> jvmOptions,
            String origin,
            String namespace,
            java.nio.file.Path log,
            String... more)
            throws Exception {
        List<String> args = new ArrayList<>(List.of(
                "serve",
                "--db",
                target.url(),
                "--upstream",
                origin,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--namespace",
                namespace,
                "--ttl",
                "10m",
                // Full before the measured rounds, as a replica's near cache is in service under new keys:
                // with the default 10,000 entries (50 new ones per burst) eviction began after about 200
                // bursts, at the end of the warm-up, and its JIT and GC work fell in the measured rounds
                "--near-cache",
                Integer.toString(NEAR_CACHE_ENTRIES)));
        if (target.user() != null) args.addAll(List.of("--user", target.user()));
        args.addAll(List.of(more));
        // the heap floor the ./once launcher gives serve: without it G1 kept the replicas' heap at 65-83 MB
        // of the 256 MB allowed, and paused for 130-218 young collections and 50-94 remarks in 3 minutes
        // (12-23 ms each), against 34-36 and 1 with it; options given to the compared replicas come after
        List<String> jvm = new ArrayList<>();
        // not beside heap options of the compared replicas' own: -Xmx128m after it, the JVM refused to start
        if (jvmOptions.stream().noneMatch(o -> o.matches("-Xm[sx].*|.*(HeapSize|RAMPercentage|MaxRAM).*")))
            jvm.add("-Xms" + HEAP_FLOOR);
        jvm.addAll(jvmOptions);
        ProcessBuilder pb = jar == null
                ? WorkerProcess.of(OnceCommand.class, target.password(), jvm, args.toArray(String[]::new))
                : WorkerProcess.ofJar(jar, target.password(), jvm, args.toArray(String[]::new));
        // /-/metrics answers only to the admin token (older builds compared here ignore it)
        pb.environment().put("ONCE_ADMIN_TOKEN", ADMIN_TOKEN);
        pb.redirectErrorStream(true);
        pb.redirectOutput(log.toFile());
        return pb.start();
    }

    /** The replicas' admin token, this run's own, sent by the scrapes of their /-/metrics. */
    private static final String ADMIN_TOKEN = adminToken();

    private static String adminToken() {
        byte[] b = new byte[16];
        new java.security.SecureRandom().nextBytes(b);
        return java.util.HexFormat.of().formatHex(b);
    }

    /** A {@link BareProxy} in front of the upstream: the floor the replicas are measured against. */
    private static Process bareReplica(String origin, java.nio.file.Path log) throws Exception {
        ProcessBuilder pb = WorkerProcess.of(BareProxy.class, null, origin);
        pb.redirectErrorStream(true);
        pb.redirectOutput(log.toFile());
        return pb.start();
    }

    /** A {@link FloorProxy} on the bench's PostgreSQL: the floor of coordinating through the database. */
    private Process floorReplica(String origin, String table, java.nio.file.Path log) throws Exception {
        ProcessBuilder pb = WorkerProcess.of(
                FloorProxy.class,
                target.password(),
                origin,
                target.url(),
                target.user() == null ? "" : target.user(),
                table);
        pb.redirectErrorStream(true);
        pb.redirectOutput(log.toFile());
        return pb.start();
    }

    /** The port a replica says, in its log, that it listens on. */
    private static int port(Process p, java.nio.file.Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String said = java.nio.file.Files.readString(log);
            Matcher m = LISTENING.matcher(said);
            if (m.find()) return Integer.parseInt(m.group(1));
            if (!p.isAlive())
                throw new IllegalStateException("a once serve replica ended before it listened:\n" + said);
            Thread.sleep(50);
        }
        throw new IllegalStateException("a once serve replica did not listen within 60 s; its log: " + log);
    }
}
