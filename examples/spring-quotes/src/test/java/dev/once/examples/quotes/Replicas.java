package dev.once.examples.quotes;

import dev.once.jdbc.testing.JavaProcess;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Instances of the example application, each a JVM of its own, on one database and one paid API. */
final class Replicas implements AutoCloseable {
    final List<Process> processes = new ArrayList<>();
    final List<Integer> ports = new ArrayList<>();
    final List<Path> outputs = new ArrayList<>();

    Replicas(int count, Path dir, String dbUrl, String upstream, String... extraArgs) throws IOException {
        for (int i = 0; i < count; i++) {
            int port = freePort();
            Path out = dir.resolve("replica-" + i + ".log");
            List<String> args = new ArrayList<>(List.of(
                    "--server.port=" + port,
                    "--spring.datasource.url=" + dbUrl,
                    "--spring.datasource.username=postgres",
                    "--quotes.upstream=" + upstream,
                    "--spring.main.banner-mode=off"));
            args.addAll(List.of(extraArgs));
            // e.g. -Dexample.replica.args="--once.cache.store-timeout=1s" to try other settings
            String more = System.getProperty("example.replica.args", "").strip();
            if (!more.isEmpty()) args.addAll(List.of(more.split("\\s+")));
            processes.add(JavaProcess.start(QuotesApplication.class, out, args.toArray(String[]::new)));
            ports.add(port);
            outputs.add(out);
        }
    }

    /** Waits until every instance answers its health endpoint. */
    void awaitUp(HttpClient http, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (int i = 0; i < processes.size(); i++) {
            while (true) {
                if (!processes.get(i).isAlive())
                    throw new AssertionError("replica " + i + " exited:\n" + Files.readString(outputs.get(i)));
                try {
                    HttpResponse<String> r = http.send(
                            HttpRequest.newBuilder(URI.create(base(i) + "/actuator/health"))
                                    .timeout(Duration.ofSeconds(5))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) break;
                } catch (IOException notYet) {
                    // starting
                }
                if (System.nanoTime() > deadline)
                    throw new AssertionError("replica " + i + " did not start:\n" + Files.readString(outputs.get(i)));
                Thread.sleep(200);
            }
        }
    }

    /**
     * One request per replica on a key of its own, so the burst meets warm JVMs (class loading and the
     * first compilations take seconds on a loaded 2-core machine; production replicas are warm).
     */
    void warmUp(HttpClient http) throws Exception {
        for (int i = 0; i < processes.size(); i++) {
            for (int k = 0; k < 3; k++) {
                http.send(
                        HttpRequest.newBuilder(URI.create(base(i) + "/quotes/warmup-" + i + "-" + k))
                                .timeout(Duration.ofSeconds(60))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
            }
        }
    }

    String base(int i) {
        return "http://127.0.0.1:" + ports.get(i);
    }

    /** kill -9 */
    void kill(int i) throws InterruptedException {
        processes.get(i).destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : processes) p.destroy();
        for (Process p : processes) {
            if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
