import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpServer;

/**
 * The image, run as a user would: 3 containers of it on one PostgreSQL in front of a slow fake API.
 *
 * <ol>
 *   <li>{@code KEYS} keys x {@code BURST} identical requests, released together and spread over the three
 *       containers: the API must see exactly one call per key, and every caller the same answer;
 *   <li>the same requests again: all from the cache, no new call;
 *   <li>SIGTERM mid-load: slow requests in flight on container 1 while containers 2 and 3 keep serving;
 *       container 1 is sent SIGTERM; its health must stop answering 200, every one of its in-flight
 *       requests must finish with its answer, and it must exit 0.
 * </ol>
 *
 * Run by deploy/image.sh with once.jar on the class path (for the PostgreSQL driver):
 * {@code java -cp once-cli/target/once.jar deploy/ImageCheck.java IMAGE}. Environment: {@code ONCE_CHECK_DB_URL}
 * (default {@code jdbc:postgresql://127.0.0.1:5432/test}), {@code ONCE_CHECK_DB_USER} (default {@code postgres}),
 * {@code ONCE_CHECK_DB_PASSWORD}, {@code PODMAN} (default {@code podman --runtime runc}). Prints one
 * {@code RESULT} line with the figures and exits 0 when every assertion held, 1 when one did not.
 */
public class ImageCheck {
    static final int REPLICAS = 3, KEYS = 10, BURST = 12, IN_FLIGHT = 9;
    static final int FAST_MS = 500, SLOW_MS = 4000;

    static final String RUN = Long.toString(System.currentTimeMillis() % 100_000_000L, 36);
    static final List<String> PODMAN = List.of(env("PODMAN", "podman --runtime runc").split(" +"));
    static final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    static final AtomicInteger inFlightAtApi = new AtomicInteger();
    static final List<String> failures = new ArrayList<>();
    static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    public static void main(String[] args) throws Exception {
        String image = args[0];
        String dbUrl = env("ONCE_CHECK_DB_URL", "jdbc:postgresql://127.0.0.1:5432/test");
        String dbUser = env("ONCE_CHECK_DB_USER", "postgres");
        String dbPassword = env("ONCE_CHECK_DB_PASSWORD", "");
        String schema = "once_check_" + RUN;
        try (Connection c = DriverManager.getConnection(dbUrl, dbUser, dbPassword); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
        }
        HttpServer api = fakeApi();
        List<String> names = new ArrayList<>();
        int[] ports = new int[REPLICAS];
        try {
            // 1. three containers on one database and one upstream
            for (int i = 0; i < REPLICAS; i++) {
                ports[i] = freePort();
                names.add("once-check-" + RUN + "-" + (i + 1));
                // as deploy/kubernetes.yaml runs it: read-only root (tmpfs /tmp), no capabilities
                podman("run", "-d", "--network", "host", "--name", names.get(i),
                        "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                        "-e", "ONCE_PORT=" + ports[i],
                        "-e", "ONCE_UPSTREAM=http://127.0.0.1:" + api.getAddress().getPort(),
                        "-e", "ONCE_DB_URL=" + dbUrl + (dbUrl.contains("?") ? "&" : "?") + "currentSchema=" + schema,
                        "-e", "ONCE_DB_USER=" + dbUser,
                        "-e", "ONCE_DB_PASSWORD=" + dbPassword,
                        "-e", "ONCE_TTL=10m",
                        "-e", "ONCE_DRAIN=20s",
                        image);
            }
            long started = System.nanoTime();
            double[] healthySeconds = new double[REPLICAS];
            for (int i = 0; i < REPLICAS; i++) healthySeconds[i] = awaitHealthy(names.get(i), started);
            System.out.printf("healthy after %.1f s, %.1f s, %.1f s (podman healthcheck run: the image's HEALTHCHECK)%n",
                    healthySeconds[0], healthySeconds[1], healthySeconds[2]);

            // 2. identical requests released together, spread over the three
            Map<String, Integer> outcomes = new TreeMap<>();
            burst(ports, "fast", outcomes);
            int fastCalls = sum("/fast/");
            check(fastCalls == KEYS, "upstream calls for " + KEYS + " keys x " + BURST + " requests: " + fastCalls
                    + " (per key " + perKey("/fast/") + ")");
            System.out.println("burst: " + KEYS * BURST + " requests over " + REPLICAS + " containers, " + fastCalls
                    + " upstream calls for " + KEYS + " keys, X-Once-Cache " + outcomes);
            Map<String, Integer> again = new TreeMap<>();
            burst(ports, "fast", again);
            check(sum("/fast/") == KEYS, "the repeated burst called the upstream " + (sum("/fast/") - KEYS) + " more times");
            check(again.getOrDefault("HIT", 0) == KEYS * BURST, "repeated burst outcomes " + again + ", expected all HIT");

            // 3. SIGTERM mid-load
            int finished = sigtermMidLoad(names.get(0), ports);

            System.out.printf(
                    "RESULT replicas=%d keys=%d requests=%d upstream_calls=%d calls_per_key=%.2f healthy_s=%.1f,%.1f,%.1f"
                            + " in_flight=%d in_flight_finished=%d failures=%d%n",
                    REPLICAS, KEYS, KEYS * BURST, fastCalls, fastCalls / (double) KEYS,
                    healthySeconds[0], healthySeconds[1], healthySeconds[2], IN_FLIGHT, finished, failures.size());
        } catch (Exception e) {
            failures.add("the check itself failed: " + e);
            e.printStackTrace();
        } finally {
            api.stop(0);
            if (!failures.isEmpty()) {
                for (String name : names) System.out.println("--- logs of " + name + ":\n" + podmanOut("logs", name));
            }
            for (String name : names) podmanOut("rm", "-f", "-t", "0", name);
            try (Connection c = DriverManager.getConnection(dbUrl, dbUser, dbPassword);
                    Statement s = c.createStatement()) {
                s.execute("DROP SCHEMA " + schema + " CASCADE");
            }
        }
        failures.forEach(f -> System.out.println("FAILED: " + f));
        System.out.println(failures.isEmpty() ? "image check: OK" : "image check: FAILED");
        System.exit(failures.isEmpty() ? 0 : 1);
    }

    /** KEYS x BURST identical requests released at once, request i of a key to container i % 3. */
    static void burst(int[] ports, String kind, Map<String, Integer> outcomes) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<HttpResponse<String>>> answers = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int k = 0; k < KEYS; k++) {
                for (int i = 0; i < BURST; i++) {
                    String path = "/" + kind + "/" + RUN + "-" + k;
                    int port = ports[i % ports.length];
                    keys.add(path);
                    answers.add(threads.submit(() -> {
                        go.await();
                        return get(port, path, Duration.ofSeconds(30));
                    }));
                }
            }
            go.countDown();
        }
        Map<String, String> bodies = new ConcurrentHashMap<>();
        java.util.Set<String> differing = new java.util.HashSet<>();
        for (int n = 0; n < answers.size(); n++) {
            HttpResponse<String> r = answers.get(n).get();
            check(r.statusCode() == 200, keys.get(n) + " answered " + r.statusCode() + ": " + r.body());
            String first = bodies.putIfAbsent(keys.get(n), r.body());
            if (first != null && !first.equals(r.body()) && differing.add(keys.get(n))) {
                check(false, keys.get(n) + " answered differently: " + first.strip() + " / " + r.body().strip());
            }
            outcomes.merge(r.headers().firstValue("X-Once-Cache").orElse("none"), 1, Integer::sum);
        }
    }

    /**
     * Slow requests in flight on one container, load on the two others, SIGTERM to the first: its
     * in-flight requests finish, its health stops answering 200, it exits 0. Returns how many finished.
     */
    static int sigtermMidLoad(String name, int[] ports) throws Exception {
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<HttpResponse<String>>> slow = new ArrayList<>();
            for (int i = 0; i < IN_FLIGHT; i++) {
                String path = "/slow/" + RUN + "-" + i;
                slow.add(threads.submit(() -> get(ports[0], path, Duration.ofSeconds(60))));
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (inFlightAtApi.get() < IN_FLIGHT && System.nanoTime() < deadline) Thread.sleep(20);
            check(inFlightAtApi.get() == IN_FLIGHT, "only " + inFlightAtApi.get() + " slow calls reached the API");
            List<Future<HttpResponse<String>>> others = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                String path = "/fast/" + RUN + "-other-" + (i % 6);
                int port = ports[1 + i % 2];
                others.add(threads.submit(() -> get(port, path, Duration.ofSeconds(30))));
            }

            long termAt = System.nanoTime();
            podman("kill", "--signal", "TERM", name);
            boolean unready = false;
            while (!unready && !slow.get(0).isDone()) {
                unready = healthStatus(ports[0]) != 200;
                if (!unready) Thread.sleep(50);
            }
            check(unready, name + "'s /-/health still answered 200 while it drained");

            int finished = 0;
            for (int i = 0; i < IN_FLIGHT; i++) {
                try {
                    HttpResponse<String> r = slow.get(i).get();
                    if (r.statusCode() == 200 && r.body().startsWith("answer for /slow/" + RUN + "-" + i + " ")) finished++;
                    else failures.add("in-flight request " + i + " answered " + r.statusCode() + ": " + r.body());
                } catch (Exception e) {
                    failures.add("in-flight request " + i + " failed: " + e.getCause());
                }
            }
            String exit = podmanOut("wait", name).strip();
            double drained = (System.nanoTime() - termAt) / 1e9;
            check(finished == IN_FLIGHT, "in-flight requests finished after SIGTERM: " + finished + " of " + IN_FLIGHT);
            check(exit.equals("0"), name + " exited with " + exit + " after SIGTERM, expected 0");
            String logs = podmanOut("logs", name);
            check(logs.contains("stopping, finishing in-flight requests"), name + "'s log does not say it drained");
            int othersOk = 0;
            for (Future<HttpResponse<String>> f : others) if (f.get().statusCode() == 200) othersOk++;
            check(othersOk == others.size(), "the other containers answered " + othersOk + " of " + others.size());
            System.out.printf("SIGTERM: %d of %d in-flight requests finished, exit %s after %.1f s; health unready: %s;"
                    + " the other two containers answered %d of %d during it%n",
                    finished, IN_FLIGHT, exit, drained, unready, othersOk, others.size());
            return finished;
        }
    }

    /** Seconds from {@code started} until the image's HEALTHCHECK passes (podman healthcheck run). */
    static double awaitHealthy(String name, long started) throws Exception {
        long deadline = started + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            Process p = new ProcessBuilder(cmd("healthcheck", "run", name)).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            if (p.waitFor() == 0) return (System.nanoTime() - started) / 1e9;
            Thread.sleep(200);
        }
        throw new IllegalStateException(name + " not healthy within 90 s; logs:\n" + podmanOut("logs", name));
    }

    static HttpServer fakeApi() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            int n = calls.computeIfAbsent(path, k -> new AtomicInteger()).incrementAndGet();
            boolean slow = path.startsWith("/slow/");
            if (slow) inFlightAtApi.incrementAndGet();
            try {
                Thread.sleep(slow ? SLOW_MS : FAST_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            byte[] body = ("answer for " + path + " #" + n + "\n").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        return server;
    }

    static HttpResponse<String> get(int port, String path, Duration timeout) throws Exception {
        return http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(timeout).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static int healthStatus(int port) {
        try {
            return get(port, "/-/health", Duration.ofSeconds(1)).statusCode();
        } catch (Exception e) {
            return -1; // refused: the listener is closed
        }
    }

    static int sum(String prefix) {
        return calls.entrySet().stream()
                .filter(e -> e.getKey().startsWith(prefix) && !e.getKey().contains("-other-"))
                .mapToInt(e -> e.getValue().get())
                .sum();
    }

    static Map<String, Integer> perKey(String prefix) {
        Map<String, Integer> m = new TreeMap<>();
        calls.forEach((k, v) -> {
            if (k.startsWith(prefix) && !k.contains("-other-")) m.put(k, v.get());
        });
        return m;
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            failures.add(what);
            System.out.println("FAILED: " + what);
        }
    }

    static void podman(String... args) throws Exception {
        Process p = new ProcessBuilder(cmd(args)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IllegalStateException(String.join(" ", cmd(args)) + " failed:\n" + out);
    }

    static String podmanOut(String... args) {
        try {
            Process p = new ProcessBuilder(cmd(args)).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return out;
        } catch (Exception e) {
            return e.toString();
        }
    }

    static List<String> cmd(String... args) {
        List<String> c = new ArrayList<>(PODMAN);
        c.addAll(List.of(args));
        return c;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }
}
