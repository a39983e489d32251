package dev.once.cli.demo;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.once.proxy.OnceProxy;
import dev.once.proxy.ProxyConfig;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;

/** Runs the three strategies against one simulated API and prints the comparison. */
public final class Demo {
    private final String url;
    private final String user;
    private final DataSource admin;
    private final PrintWriter out;
    private final HttpClient http =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    public Demo(String url, String user, DataSource admin, PrintWriter out) {
        this.url = url;
        this.user = user;
        this.admin = admin;
        this.out = out;
    }

    record Row(String strategy, int requests, int errors, int upstreamCalls, int keys, double p50, double p99) {}

    public void run(int keys, int burst, int replicas, long latencyMillis) throws Exception {
        List<Row> rows = new ArrayList<>();
        try (SimulatedApi api = new SimulatedApi(latencyMillis)) {
            say("simulated paid API at %s, %d ms per call", api.url(), latencyMillis);
            for (String strategy : List.of("cache-aside", "on-conflict", "once")) {
                rows.add(strategy(strategy, api, keys, burst, replicas));
            }
        }
        out.println();
        out.printf(
                "%d keys x %d identical requests at once, spread over %d replicas; API latency %d ms%n",
                keys, burst, replicas, latencyMillis);
        out.printf(
                "%-12s %9s %7s %15s %14s %9s %9s%n",
                "strategy", "requests", "errors", "upstream calls", "calls per key", "p50 ms", "p99 ms");
        for (Row r : rows) {
            out.printf(
                    "%-12s %9d %7d %15d %14.2f %9.1f %9.1f%n",
                    r.strategy, r.requests, r.errors, r.upstreamCalls, (double) r.upstreamCalls / r.keys, r.p50, r.p99);
        }
        out.println();
        out.println("cache-aside pays for every racer and fails all but one with a duplicate-key error;");
        out.println("ON CONFLICT DO NOTHING hides the error, not the cost; once pays once per key.");
        out.flush();
    }

    private Row strategy(String strategy, SimulatedApi api, int keys, int burst, int replicas) throws Exception {
        say("%s: starting %d replicas ...", strategy, replicas);
        String table = "demo_" + strategy.replace('-', '_') + "_"
                + ThreadLocalRandom.current().nextInt(1_000_000);
        List<AutoCloseable> open = new ArrayList<>();
        List<Integer> ports = new ArrayList<>();
        try {
            if (!strategy.equals("once")) {
                try (Connection c = admin.getConnection();
                        Statement s = c.createStatement()) {
                    s.execute("CREATE TABLE " + table + " (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
                }
            }
            for (int r = 0; r < replicas; r++) {
                HikariDataSource pool = pool(burst + 2);
                open.add(pool);
                if (strategy.equals("once")) {
                    OnceProxy proxy = OnceProxy.start(
                            ProxyConfig.builder(URI.create(api.url()))
                                    .host("127.0.0.1")
                                    .port(0)
                                    .namespace(table)
                                    .build(),
                            pool);
                    open.add(0, proxy);
                    ports.add(proxy.port());
                } else {
                    CacheAsideReplica replica =
                            new CacheAsideReplica(pool, table, api.url(), strategy.equals("on-conflict"));
                    open.add(0, replica);
                    ports.add(replica.port());
                }
            }
            fire(ports, "/warm-up", burst, new AtomicInteger(), new ArrayList<>()); // JIT and connections
            api.reset();
            AtomicInteger errors = new AtomicInteger();
            List<Double> latencies = Collections.synchronizedList(new ArrayList<>());
            for (int k = 0; k < keys; k++) {
                fire(ports, "/v1/price/" + k, burst, errors, latencies);
                if ((k + 1) % 10 == 0)
                    say("%s: %d/%d keys, upstream calls so far %d", strategy, k + 1, keys, api.calls());
            }
            List<Double> sorted = new ArrayList<>(latencies);
            Collections.sort(sorted);
            return new Row(
                    strategy,
                    sorted.size(),
                    errors.get(),
                    api.calls(),
                    keys,
                    percentile(sorted, 50),
                    percentile(sorted, 99));
        } finally {
            for (AutoCloseable c : open) c.close();
        }
    }

    private void fire(List<Integer> ports, String path, int burst, AtomicInteger errors, List<Double> latencies)
            throws Exception {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (int i = 0; i < burst; i++) {
            URI u = URI.create("http://127.0.0.1:" + ports.get(i % ports.size()) + path);
            long start = System.nanoTime();
            all.add(http.sendAsync(
                            HttpRequest.newBuilder(u)
                                    .timeout(Duration.ofSeconds(30))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString())
                    .thenAccept(r -> {
                        latencies.add((System.nanoTime() - start) / 1e6);
                        if (r.statusCode() != 200) errors.incrementAndGet();
                    })
                    .exceptionally(e -> {
                        errors.incrementAndGet();
                        return null;
                    }));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    }

    private HikariDataSource pool(int size) {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(url);
        if (user != null) c.setUsername(user);
        c.setMaximumPoolSize(size);
        c.setMinimumIdle(0);
        return new HikariDataSource(c);
    }

    private static double percentile(List<Double> sorted, double p) {
        if (sorted.isEmpty()) return Double.NaN;
        return sorted.get(Math.max(0, (int) Math.ceil(sorted.size() * p / 100) - 1));
    }

    private void say(String format, Object... args) {
        out.printf(format + "%n", args);
        out.flush();
    }
}
