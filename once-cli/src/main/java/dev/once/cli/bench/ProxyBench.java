package dev.once.cli.bench;

import dev.once.cli.demo.LoopbackServer;
import dev.once.proxy.OnceProxy;
import dev.once.proxy.ProxyConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.Callback;

/**
 * One {@code once serve} replica (in this process, on the bench's database) serving one hot key at 64
 * connections, with its near cache and from the table alone, against nginx's {@code proxy_cache} with one
 * worker and with {@code worker_processes auto} on the same upstream, all loaded by wrk, alternated in
 * one run. Without wrk, Java's HTTP client loads the replica alone; without
 * nginx there is no baseline. Either is said in a note.
 */
final class ProxyBench {
    static final int CONNECTIONS = 64;
    private static final byte[] BODY = "x".repeat(1024).getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    /** nginx's cache in front of the upstream (%s), as the nginx docs configure it, with its cache lock. */
    static final String NGINX_CACHE = """
            proxy_pass %s;
                  proxy_cache zone;
                  proxy_cache_valid 200 10m;
                  proxy_cache_lock on;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                  add_header X-Cache $upstream_cache_status;""";

    private final BenchTarget target;
    private final Settings settings;
    private final Results results;

    ProxyBench(BenchTarget target, Settings settings, Results results) {
        this.target = target;
        this.settings = settings;
        this.results = results;
    }

    void run() throws Exception {
        Server upstream = LoopbackServer.start(new Handler.Abstract() {
            @Override
            public boolean handle(org.eclipse.jetty.server.Request request, Response response, Callback callback) {
                response.getHeaders().put("Content-Type", "text/plain");
                response.write(true, ByteBuffer.wrap(BODY), callback);
                return true;
            }
        });
        String origin = "http://127.0.0.1:" + LoopbackServer.port(upstream);
        String ns = "bench-proxy-" + ThreadLocalRandom.current().nextInt(1_000_000);
        ProxyConfig.Builder config =
                ProxyConfig.builder(URI.create(origin)).host("127.0.0.1").port(0);
        List<Nginx> nginx = new ArrayList<>();
        try (OnceProxy near = OnceProxy.start(config.namespace(ns).build(), target.pool());
                OnceProxy table = OnceProxy.start(
                        config.namespace(ns + "-table").nearCacheEntries(0).build(), target.pool())) {
            String once = "http://127.0.0.1:" + near.port() + "/hot";
            String onceTable = "http://127.0.0.1:" + table.port() + "/hot";
            Optional<Path> wrk = Tools.find("wrk");
            if (wrk.isEmpty()) {
                note("wrk not found: the proxy is loaded by Java's HTTP client, without nginx"
                        + " (Debian: apt-get install wrk nginx-light)");
                javaLoad(once);
                return;
            }
            Optional<Path> nginxBinary = Tools.find("nginx");
            String nginxOne = null;
            String nginxAuto = null;
            if (nginxBinary.isEmpty()) {
                note(
                        "nginx not found: the proxy is measured without its nginx baseline (Debian: apt-get install nginx-light)");
            } else {
                nginx.add(Nginx.start(nginxBinary.get(), "1", NGINX_CACHE.formatted(origin)));
                nginxOne = nginx.get(0).base + "/hot";
                nginx.add(Nginx.start(nginxBinary.get(), "auto", NGINX_CACHE.formatted(origin)));
                nginxAuto = nginx.get(1).base + "/hot";
            }
            // a measurement of hits must measure hits: each server first shows it answers from its cache
            expectHit(once, "X-Once-Cache");
            expectHit(onceTable, "X-Once-Cache");
            if (nginxOne != null) {
                expectHit(nginxOne, "X-Cache");
                expectHit(nginxAuto, "X-Cache");
            }
            List<String> names = new ArrayList<>(List.of("once serve, near cache on", "once serve, near cache off"));
            List<String> urls = new ArrayList<>(List.of(once, onceTable));
            if (nginxOne != null) {
                names.addAll(List.of("nginx proxy_cache, 1 worker", "nginx proxy_cache, worker_processes auto"));
                urls.addAll(List.of(nginxOne, nginxAuto));
            }
            settings.progress("proxy hits, %d connections: warm-up ...", CONNECTIONS);
            for (String url : urls) wrk(wrk.get(), url, Math.max(6_000, settings.warmupMillis())); // JIT
            List<List<Double>> ops = new ArrayList<>();
            String[] last = new String[urls.size()];
            for (int i = 0; i < urls.size(); i++) ops.add(new ArrayList<>());
            for (int r = 0; r < settings.repetitions(); r++) {
                StringBuilder line = new StringBuilder();
                for (int i = 0; i < urls.size(); i++) { // alternated, so drift on a shared machine hits all alike
                    last[i] = wrk(wrk.get(), urls.get(i), settings.repetitionMillis());
                    ops.get(i).add(Tools.number(last[i], "^Requests/sec:\\s+([0-9.]+)"));
                    line.append(String.format(
                            ", %s %,.0f/s", names.get(i), ops.get(i).get(r)));
                }
                settings.progress("  rep %d/%d%s", r + 1, settings.repetitions(), line);
            }
            for (int i = 0; i < urls.size(); i++) latency(names.get(i), ops.get(i), last[i]);
            String name = "proxy hit, " + CONNECTIONS + " connections";
            if (nginxOne != null) {
                results.pairs.add(new Results.Pair(
                        name, CONNECTIONS, "once serve (near cache)", "nginx, 1 worker", ops.get(0), ops.get(2), 1.2));
                results.pairs.add(new Results.Pair(
                        name, CONNECTIONS, "once serve (near cache)", "nginx, auto", ops.get(0), ops.get(3), 1.0));
                results.pairs.add(new Results.Pair(
                        name + ", near cache off",
                        CONNECTIONS,
                        "once serve (table)",
                        "nginx, 1 worker",
                        ops.get(1),
                        ops.get(2),
                        Results.NO_TARGET));
            }
        } finally {
            for (Nginx n : nginx) n.close();
            upstream.stop();
        }
    }

    /** A measurement of hits must measure hits: two requests, and the second must say HIT. */
    private static void expectHit(String url, String header) throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        HttpRequest get = HttpRequest.newBuilder(URI.create(url)).build();
        client.send(get, HttpResponse.BodyHandlers.discarding());
        HttpResponse<Void> second = client.send(get, HttpResponse.BodyHandlers.discarding());
        String status = second.headers().firstValue(header).orElse("(none)");
        if (second.statusCode() != 200 || !status.startsWith("HIT")) {
            throw new IllegalStateException(url + " does not serve the hot key from its cache: status "
                    + second.statusCode() + ", " + header + ": " + status);
        }
    }

    private void note(String note) {
        results.notes.add(note);
        settings.progress("%s", note);
    }

    private void latency(String name, List<Double> ops, String lastWrk) throws IOException {
        results.latencies.add(new Results.Latency(
                name,
                CONNECTIONS,
                Stats.median(ops),
                Tools.wrkMillis(lastWrk, "50%"),
                Tools.wrkMillis(lastWrk, "99%")));
    }

    private static String wrk(Path wrk, String url, long millis) throws Exception {
        long seconds = Math.max(1, Math.round(millis / 1000.0));
        return Tools.run(
                List.of(
                        wrk.toString(),
                        "-t" + Math.min(2, Runtime.getRuntime().availableProcessors()),
                        "-c" + CONNECTIONS,
                        "-d" + seconds + "s",
                        "--latency",
                        url),
                Map.of(),
                seconds + 30);
    }

    /** Java's HTTP client on 64 threads: throughput of the replica alone. */
    private void javaLoad(String url) throws Exception {
        HttpClient client = HttpClient.newBuilder().build();
        HttpRequest get = HttpRequest.newBuilder(URI.create(url)).build();
        Throughput.Op op = (t, i) -> {
            HttpResponse<byte[]> r = client.send(get, HttpResponse.BodyHandlers.ofByteArray());
            if (r.statusCode() != 200) throw new IllegalStateException("the proxy answered " + r.statusCode());
        };
        settings.progress("proxy hit, %d threads (Java client): warm-up ...", CONNECTIONS);
        Throughput.measure(CONNECTIONS, settings.warmupMillis(), op);
        List<Double> ops = new ArrayList<>();
        for (int r = 0; r < settings.repetitions(); r++) {
            ops.add(Throughput.measure(CONNECTIONS, settings.repetitionMillis(), op));
            settings.progress("  rep %d/%d: once serve %,.0f/s", r + 1, settings.repetitions(), ops.get(r));
        }
        results.latencies.add(new Results.Latency(
                "once serve (near cache on), Java client", CONNECTIONS, Stats.median(ops), Double.NaN, Double.NaN));
    }
}
