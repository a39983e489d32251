package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.JavaProcess;
import dev.once.jdbc.testing.TestDatabases;
import dev.once.proxy.testing.FakeUpstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code once serve} as real processes, over real HTTP, in front of a counting fake upstream. */
class ServeProcessTest {
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @TempDir
    Path dir;

    private Process serve(String name, Path workDir, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of("serve", "--host", "127.0.0.1"));
        all.addAll(List.of(args));
        return JavaProcess.start(OnceCommand.class, dir.resolve(name + ".log"), workDir, all.toArray(String[]::new));
    }

    /** What a replica says, in its log, once it listens: the port it got ({@code --port 0}). */
    private static final java.util.regex.Pattern LISTENING =
            java.util.regex.Pattern.compile("listening on http://[^:/]+:(\\d+)");

    /**
     * Waits until the replica listens and returns its port. Each replica asks for port 0: a port picked
     * free beforehand was taken by another process during a replica's 5 s warm-up in one CI run.
     */
    private int awaitListening(String name) throws Exception {
        long deadline = System.currentTimeMillis() + 90_000;
        Path log = dir.resolve(name + ".log");
        while (true) {
            if (Files.exists(log)) {
                java.util.regex.Matcher m = LISTENING.matcher(Files.readString(log));
                if (m.find()) return Integer.parseInt(m.group(1));
            }
            assertThat(System.currentTimeMillis())
                    .as(name + " started: " + (Files.exists(log) ? Files.readString(log) : ""))
                    .isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    /** api mode: the route's TTL; http mode: the upstream's max-age=60 (FakeUpstream's /fresh/ paths). */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"api", "http"})
    void serve_threeReplicasOnePostgres_oneUpstreamCallPerKey(String mode) throws Exception {
        String prefix = mode.equals("http") ? "/fresh/quote/" : "/quote/";
        int replicas = 3;
        int keys = 50;
        int perKey = 12;
        String ns = TestDatabases.newTable("serve");
        try (FakeUpstream upstream = new FakeUpstream(100)) {
            List<Process> ps = new ArrayList<>();
            int[] ports = new int[replicas];
            try {
                for (int r = 0; r < replicas; r++) {
                    ps.add(serve(
                            "replica-" + r,
                            null,
                            "--upstream",
                            upstream.url(),
                            "--port",
                            "0",
                            "--db",
                            TestDatabases.url(Db.POSTGRES),
                            "--namespace",
                            ns,
                            "--mode",
                            mode));
                }
                for (int r = 0; r < replicas; r++) ports[r] = awaitListening("replica-" + r);
                // each replica warmed its request path up before it listened (--warm-up, default 400), against a
                // stub: the configured upstream was not called
                for (int r = 0; r < replicas; r++)
                    assertThat(Files.readString(dir.resolve("replica-" + r + ".log")))
                            .contains("warmed up in")
                            .doesNotContain("warm-up skipped")
                            .doesNotContain(" 0 of 400 requests through the cache");
                assertThat(upstream.totalCalls())
                        .as("upstream calls made by the warm-ups")
                        .isZero();
                for (int r = 0; r < replicas; r++) {
                    assertThat(http.send(
                                            HttpRequest.newBuilder(
                                                            URI.create("http://127.0.0.1:" + ports[r] + "/warm-up"))
                                                    .build(),
                                            HttpResponse.BodyHandlers.ofString())
                                    .statusCode())
                            .isEqualTo(200);
                }
                int warmupCalls = upstream.totalCalls();
                AtomicInteger errors = new AtomicInteger();
                List<Double> latencies = Collections.synchronizedList(new ArrayList<>());
                for (int k = 0; k < keys; k++) { // each key: a burst of 12 identical requests over the 3 replicas
                    List<CompletableFuture<Void>> burst = new ArrayList<>();
                    for (int i = 0; i < perKey; i++) {
                        URI u = URI.create("http://127.0.0.1:" + ports[i % replicas] + prefix + k);
                        long start = System.nanoTime();
                        burst.add(http.sendAsync(
                                        HttpRequest.newBuilder(u).build(), HttpResponse.BodyHandlers.ofString())
                                .thenAccept(resp -> {
                                    latencies.add((System.nanoTime() - start) / 1e6);
                                    if (resp.statusCode() != 200 || !resp.body().startsWith("upstream " + prefix))
                                        errors.incrementAndGet();
                                })
                                .exceptionally(e -> {
                                    errors.incrementAndGet();
                                    return null;
                                }));
                    }
                    CompletableFuture.allOf(burst.toArray(CompletableFuture[]::new))
                            .get(60, TimeUnit.SECONDS);
                }
                List<Double> sorted = new ArrayList<>(latencies);
                Collections.sort(sorted);
                System.out.printf(
                        "serve 3 replicas, mode %s: %d requests, upstream calls %d, errors %d, p50 %.1f ms, p99 %.1f ms%n",
                        mode,
                        sorted.size(),
                        upstream.totalCalls() - warmupCalls,
                        errors.get(),
                        sorted.get(sorted.size() / 2),
                        sorted.get((int) Math.ceil(sorted.size() * 0.99) - 1));
                assertThat(errors).hasValue(0);
                assertThat(sorted).hasSize(keys * perKey);
                assertThat(upstream.totalCalls() - warmupCalls).isEqualTo(keys);
                for (int k = 0; k < keys; k++)
                    assertThat(upstream.calls(prefix + k)).isEqualTo(1);
            } finally {
                ps.forEach(Process::destroyForcibly);
            }
        }
    }

    @Test
    void serve_sigterm_finishesInFlightRequestThenExitsZero() throws Exception {
        try (FakeUpstream upstream = new FakeUpstream(10)) {
            Process p = serve("drain", dir, "--upstream", upstream.url(), "--port", "0");
            try {
                int port = awaitListening("drain");
                CompletableFuture<HttpResponse<String>> slow = http.sendAsync(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/sleep/1500"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                Thread.sleep(400);
                p.destroy(); // SIGTERM
                HttpResponse<String> r = slow.get(30, TimeUnit.SECONDS);
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
                assertThat(p.exitValue())
                        .as(Files.readString(dir.resolve("drain.log")))
                        .isZero();
                assertThat(Files.readString(dir.resolve("drain.log")))
                        .contains("stopping")
                        .contains("stopped");
            } finally {
                p.destroyForcibly();
            }
        }
    }

    /**
     * A replica started while its database is down (a restart during an outage) listens and passes
     * requests through, saying so, where it exited with "cannot connect" and would have crash-looped
     * (helper-47). A database that answers and refuses (no such database) still stops the start.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"refusing connections", "silent"})
    void serve_databaseDownAtStart_listensAndPassesThrough_aRefusalStillStops(String down) throws Exception {
        // a closed port refuses; a server that accepts and never says a word times out (10 s)
        dev.once.jdbc.testing.SilentServer silent = new dev.once.jdbc.testing.SilentServer();
        int closed = silent.port();
        if (down.equals("refusing connections")) silent.close();
        try (silent;
                FakeUpstream upstream = new FakeUpstream(10)) {
            Process p = serve(
                    "down",
                    dir,
                    "--upstream",
                    upstream.url(),
                    "--port",
                    "0",
                    "--db",
                    "jdbc:postgresql://127.0.0.1:" + closed + "/app",
                    "--user",
                    "app");
            try {
                URI u = URI.create("http://127.0.0.1:" + awaitListening("down") + "/through");
                for (int i = 0; i < 2; i++) {
                    HttpResponse<String> r =
                            http.send(HttpRequest.newBuilder(u).build(), HttpResponse.BodyHandlers.ofString());
                    assertThat(r.statusCode()).isEqualTo(200);
                    assertThat(r.headers().firstValue("X-Once-Cache")).contains("BYPASS");
                }
                assertThat(upstream.calls("/through")).isEqualTo(2);
                assertThat(Files.readString(dir.resolve("down.log")))
                        .contains("cannot connect to jdbc:postgresql://127.0.0.1:" + closed + "/app")
                        .contains(down.equals("silent") ? "no answer within 10 s" : "refused")
                        .contains("starting without the cache")
                        .contains("warm-up skipped: the database cannot be reached");
                p.destroy();
                assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
                assertThat(p.exitValue()).isZero();
            } finally {
                p.destroyForcibly();
            }

            if (down.equals("silent")) return; // the refusal below once is enough
            String refusing = TestDatabases.url(Db.POSTGRES).replaceFirst("/postgres(\\?|$)", "/no_such_database$1");
            assertThat(refusing).contains("/no_such_database");
            Process r = serve("refused", dir, "--upstream", upstream.url(), "--port", "0", "--db", refusing);
            try {
                assertThat(r.waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(r.exitValue()).isEqualTo(2);
                assertThat(Files.readString(dir.resolve("refused.log")))
                        .contains("cannot connect to")
                        .contains("no_such_database")
                        .doesNotContain("listening on")
                        .doesNotContain("\tat ");
            } finally {
                r.destroyForcibly();
            }
        }
    }

    @Test
    void serve_embeddedDefault_keepsItsCacheAcrossRestarts() throws Exception {
        try (FakeUpstream upstream = new FakeUpstream(10)) {
            for (int run = 0; run < 2; run++) {
                Process p = serve("run-" + run, dir, "--upstream", upstream.url(), "--port", "0");
                try {
                    URI u = URI.create("http://127.0.0.1:" + awaitListening("run-" + run) + "/kept");
                    HttpResponse<String> r =
                            http.send(HttpRequest.newBuilder(u).build(), HttpResponse.BodyHandlers.ofString());
                    assertThat(r.headers().firstValue("X-Once-Cache")).contains(run == 0 ? "MISS" : "HIT");
                    p.destroy();
                    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
                } finally {
                    p.destroyForcibly();
                }
            }
            assertThat(upstream.calls("/kept")).isEqualTo(1);
            assertThat(dir.resolve("once-data/once.db")).exists();
        }
    }

    /**
     * The training run of an AOT cache: the warm-up goes through the store against the local stub, the
     * configured upstream is never called, and the command exits 0 without listening.
     */
    @Test
    void serve_exitAfterWarmUp_warmsThroughTheStoreCallsNoUpstreamExitsZeroWithoutListening() throws Exception {
        try (FakeUpstream upstream = new FakeUpstream(10)) {
            RacecheckCommandTest.Run run = RacecheckCommandTest.once(
                    "serve",
                    "--upstream",
                    upstream.url(),
                    "--db",
                    "jdbc:sqlite:" + dir.resolve("training.db"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--warm-up",
                    "40",
                    "--exit-after-warm-up");
            assertThat(run.exit()).as(run.out() + run.err()).isZero();
            assertThat(run.out())
                    .contains("warmed up in", "40 of 40 requests through the cache")
                    .contains("exiting after the warm-up")
                    .doesNotContain("listening on");
            assertThat(upstream.totalCalls()).isZero();
        }
        RacecheckCommandTest.Run nothing =
                RacecheckCommandTest.once("serve", "--upstream", "http://x", "--warm-up", "0", "--exit-after-warm-up");
        assertThat(nothing.exit()).isEqualTo(2);
        assertThat(nothing.err())
                .contains("--exit-after-warm-up needs a warm-up")
                .doesNotContain("\tat ");
    }

    @Test
    void serve_badInput_oneLineExitTwo() throws Exception {
        RacecheckCommandTest.Run noUpstream = RacecheckCommandTest.once("serve", "--port", "1");
        assertThat(noUpstream.exit()).isEqualTo(2);
        assertThat(noUpstream.err()).contains("--upstream is required").doesNotContain("\tat ");

        RacecheckCommandTest.Run mode = RacecheckCommandTest.once("serve", "--upstream", "http://x", "--mode", "rfc");
        assertThat(mode.exit()).isEqualTo(2);
        assertThat(mode.err()).contains("--mode must be api or http, not rfc");

        // bad files: each one line, exit 2, before anything starts; hostile or careless values from helper-23
        java.util.Map<String, String> files = new java.util.LinkedHashMap<>();
        files.put("upstream: http://x\nroutes:\n  - prefix: /a\n    mode: rfc\n", "route /a: mode must be api or http");
        files.put("upstream: http://x\nroutes:\n  - prefix: /a\n    tll: 10m\n", "unknown key 'tll'");
        files.put(
                "upstream: http://x\ncredentialHeaders: [api_key]\n",
                "the header name 'api_key' holds a character other than letters, digits and '-'");
        files.put("upstream: http://x\nmaxClientConnections: 0\n", "client connections must be at least 1, not 0");
        files.put(
                "upstream: http://x\nmaxConnectionsPerAddress: -1\n",
                "connections per address must be 0 (no limit) or more, not -1");
        // a fraction was read as its whole part: 0.9 turned the limit off (helper-29)
        files.put(
                "upstream: http://x\nmaxConnectionsPerAddress: 0.9\n",
                "key 'maxConnectionsPerAddress': expected a whole number");
        files.put("upstream: http://x\naccessLog: [1]\n", "key 'accessLog': expected true or false");
        // the options the file holds as the command line's (it refused them as unknown keys, helper-29)
        files.put("upstream: http://x\nnamespace: \" lead\"\n", "namespace must not begin or end with white space");
        files.put("upstream: http://x\nnearCacheBytes: lots\n", "--near-cache-bytes");
        files.put("upstream: http://x\nanswerMemory: lots\n", "--answer-memory");
        files.put("upstream: http://x\ndrain: forever\n", "--drain");
        // the route's cache namespace is the proxy's and the prefix: both named, not "namespace ..." alone
        files.put(
                "upstream: http://x\nroutes:\n  - prefix: \"/v1 \"\n",
                "route /v1  can never be reached: requests are routed by their path's normal form; write it as"
                        + " /v1%20");
        files.put(
                "upstream: http://x\nroutes:\n  - prefix: /a\n    ttl: 99999999999999d\n",
                "ttl must be at most 100 years");
        files.put(
                "upstream: http://x\nroutes:\n  - prefix: /a\n    ttl: 99999999999999999999d\n", "too long a duration");
        files.put(
                "upstream: http://x\nroutes:\n  - prefix: /a\n    methods: [GET, DELETE]\n",
                "method DELETE cannot be cached");
        files.put(
                "upstream: http://x\nroutes:\n  - prefix: /a\n    statuses: [200, 0]\n",
                "status 0 is not a final status");
        files.put("upstream: http://x\nadminToken: secret\nadminToken: \"\"\n", "Duplicate field 'adminToken'");
        files.put("upstream: http://x\nroutes: [null]\n", "every route needs a prefix");
        files.put("upstream: http://x\nmaxResponseBytes: 100000000000\n", "must be at most half the heap");
        files.put("upstream: http://x\nkeySecret: changeme\n", "the key secret must be at least 16 characters");
        files.put("upstream: http://x\nrequestHeaderTimeout: 0s\n", "the request header timeout must be at least 1 ms");
        // a value of the wrong shape is said in the file's words, not Jackson's names for Java types
        files.put("upstream: http://x\nroutes: abc\n", "key 'routes': expected a list (one '- ' line per item)");
        files.put(
                "upstream: http://x\nroutes:\n  - 1\n",
                "key 'routes[0]': expected a route's keys (prefix: ..., ttl: ...)");
        files.put(
                "upstream: http://x\ncredentialHeaders: {a: 1}\n",
                "key 'credentialHeaders': expected a list (one '- ' line per item)");
        files.put(
                "- upstream\n- db\n",
                "expected keys and their values (upstream: ..., routes: ...), not a list or a value");
        files.put(
                "upstream: http://x\nbogus: 1\n", "unknown key 'bogus' (line 2); known keys: [accessLog, adminToken,");
        int n = 0;
        for (var e : files.entrySet()) {
            Path f = dir.resolve("bad-" + n++ + ".yaml");
            Files.writeString(f, e.getKey());
            RacecheckCommandTest.Run r = RacecheckCommandTest.once("serve", "--config", f.toString());
            assertThat(r.exit()).as(e.getKey()).isEqualTo(2);
            assertThat(r.err())
                    .as(e.getKey())
                    .contains(e.getValue())
                    .doesNotContain("\tat ")
                    .doesNotContain("java.")
                    .doesNotContain("dev.once")
                    .doesNotContain("JsonToken");
        }

        RacecheckCommandTest.Run size =
                RacecheckCommandTest.once("serve", "--upstream", "http://x", "--near-cache-bytes", "lots");
        assertThat(size.exit()).isEqualTo(2);
        assertThat(size.err()).contains("--near-cache-bytes must be a size such as 64MB");
    }

    @Test
    void bytes_plainOrWithAUnit() {
        assertThat(ServeCommand.bytes("1048576", "x")).isEqualTo(1L << 20);
        assertThat(ServeCommand.bytes("64MB", "x")).isEqualTo(64L << 20);
        assertThat(ServeCommand.bytes(" 512 kb", "x")).isEqualTo(512L << 10);
        assertThat(ServeCommand.bytes("2GB", "x")).isEqualTo(2L << 30);
        assertThat(ServeCommand.bytes("100B", "x")).isEqualTo(100);
        for (String bad : List.of("0", "-1MB", "MB", "1.5MB", "1TB", "99999999999GB"))
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServeCommand.bytes(bad, "--near-cache-bytes"))
                    .as(bad)
                    .hasMessageContaining("--near-cache-bytes must be a size");
    }
}
