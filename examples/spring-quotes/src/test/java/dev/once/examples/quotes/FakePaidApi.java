package dev.once.examples.quotes;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** The slow paid API, in the test's JVM: counts every call per symbol before it answers. */
final class FakePaidApi implements AutoCloseable {
    private final HttpServer server;
    private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    private final Map<String, Long> delays = new ConcurrentHashMap<>();
    private final AtomicLong callNumber = new AtomicLong();
    private final long defaultDelayMillis;

    FakePaidApi(long defaultDelayMillis) throws IOException {
        this.defaultDelayMillis = defaultDelayMillis;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 1000);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/quote/", exchange -> {
            String symbol = exchange.getRequestURI().getPath().substring("/quote/".length());
            calls.computeIfAbsent(symbol, s -> new AtomicInteger()).incrementAndGet();
            long call = callNumber.incrementAndGet();
            try {
                Thread.sleep(delays.getOrDefault(symbol, defaultDelayMillis));
                byte[] body = (symbol + " " + (100 + symbol.length()) + ".25 " + call).getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            } catch (InterruptedException | IOException e) {
                // the caller went away (a killed replica)
            } finally {
                exchange.close();
            }
        });
        server.start();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    void delay(String symbol, long millis) {
        delays.put(symbol, millis);
    }

    int calls(String symbol) {
        AtomicInteger n = calls.get(symbol);
        return n == null ? 0 : n.get();
    }

    int totalCalls(String prefix) {
        return calls.entrySet().stream()
                .filter(e -> e.getKey().startsWith(prefix))
                .mapToInt(e -> e.getValue().get())
                .sum();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
