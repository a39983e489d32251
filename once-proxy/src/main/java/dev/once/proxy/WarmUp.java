package dev.once.proxy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * Runs a configuration's request path before its proxy listens, so that the first burst a new replica
 * takes is not served by the interpreter: two proxies with the same routes and store, on a scratch
 * namespace, in front of a stub upstream on loopback (the real upstream is never called), take
 * requests for new keys four at a time, each key from both (misses, claims, loads, stores, local and
 * cross-process waiters, hits); their rows are purged before and after. Measured with the
 * proxy-waiters bench (two alternated quick pairs): the first burst after start at p50 330 and 404 ms
 * with 400 requests, 967 and 955 ms without.
 */
final class WarmUp {
    private static final int AT_ONCE = 8;
    private static final int PER_KEY = 4;

    private WarmUp() {}

    /**
     * The scratch namespace: the same for every start of a configured namespace, so a warm-up cut short
     * (a crash, SIGTERM, a purge that failed) leaves rows that the next start's warm-up removes; short, so
     * any namespace the proxy takes has one; never a namespace the proxy itself would make (those end in a
     * route's prefix, which starts with a slash, after a space).
     */
    static String scratchNamespace(String namespace) {
        return "once-warm-up "
                + ProxyRequest.sha256(namespace.getBytes(StandardCharsets.UTF_8))
                        .substring(0, 16);
    }

    static OnceProxy.WarmUpReport run(ProxyConfig config, DataSource dataSource, int requests, Duration budget)
            throws Exception {
        if (requests <= 0) return new OnceProxy.WarmUpReport(0, 0, 0, false, null);
        long deadline = System.nanoTime() + budget.toNanos();
        Server stub = stub();
        int port = ((ServerConnector) stub.getConnectors()[0]).getLocalPort();
        ProxyConfig scratch = new ProxyConfig(
                URI.create("http://127.0.0.1:" + port),
                "127.0.0.1",
                0,
                config.routes(),
                null, // no admin endpoint to guard: the rows are purged through the caches themselves
                config.maxRequestBodyBytes(),
                config.maxRequestHeaderBytes(),
                config.maxCachedResponseBytes(),
                config.connectTimeout(),
                config.upstreamTimeout(),
                config.passThroughMemory(),
                Duration.ofSeconds(1),
                config.keyAuthorization(),
                false,
                scratchNamespace(config.namespace()),
                config.nearCacheEntries(),
                config.nearCacheBytes(),
                config.answerMemoryBytes(),
                config.credentialHeaders(),
                config.maxUpstreamConnections(),
                config.maxQueuedUpstreamRequests(),
                config.maxClientConnections(),
                0, // its clients are its own, all on loopback
                config.requestHeaderTimeout(),
                config.keySecret()); // the same path: an HMAC per credential when the real one has a secret
        AtomicInteger answered = new AtomicInteger();
        AtomicInteger cached = new AtomicInteger();
        AtomicInteger sent = new AtomicInteger();
        String problem = null;
        try (OnceProxy a = OnceProxy.start(scratch, dataSource);
                OnceProxy b = OnceProxy.start(scratch, dataSource);
                ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
                HttpClient client = HttpClient.newBuilder().executor(threads).build()) {
            try {
                a.purgeAll(); // rows an earlier warm-up of this namespace left (cut short)
                List<Integer> ports = List.of(a.port(), b.port());
                List<String> prefixes = new ArrayList<>();
                for (Route r : config.routes()) prefixes.add(r.prefix().endsWith("/") ? r.prefix() : r.prefix() + "/");
                AtomicInteger next = new AtomicInteger();
                List<Future<?>> workers = new ArrayList<>();
                for (int w = 0; w < AT_ONCE; w++) {
                    workers.add(threads.submit(() -> {
                        for (int i = next.getAndIncrement(); i < requests; i = next.getAndIncrement()) {
                            if (System.nanoTime() > deadline) return null;
                            int key = i / PER_KEY;
                            String path = prefixes.get(key % prefixes.size()) + "once-warm-up/" + key;
                            sent.incrementAndGet();
                            try { // a prefix is in a path's normal form, a legal URI path (ProxyConfig)
                                URI uri = URI.create("http://127.0.0.1:" + ports.get(i % 2) + path);
                                HttpResponse<Void> r = client.send(
                                        HttpRequest.newBuilder(uri)
                                                .timeout(Duration.ofSeconds(5))
                                                .build(),
                                        HttpResponse.BodyHandlers.discarding());
                                if (r.statusCode() != 200) continue;
                                answered.incrementAndGet();
                                if (!"BYPASS"
                                        .equals(r.headers()
                                                .firstValue("X-Once-Cache")
                                                .orElse("BYPASS"))) cached.incrementAndGet();
                            } catch (java.io.IOException | IllegalArgumentException e) {
                                // one request less warmed; the others go on
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : workers) f.get();
            } finally {
                try {
                    a.purgeAll(); // the scratch rows go (b shares them, and its near cache closes with it)
                } catch (RuntimeException e) {
                    problem = "its scratch rows (namespace " + scratch.namespace()
                            + ") could not be purged; the next start's warm-up removes them: " + e.getMessage();
                }
            }
        } finally {
            stub.stop();
        }
        return new OnceProxy.WarmUpReport(requests, answered.get(), cached.get(), sent.get() < requests, problem);
    }

    /** A small JSON answer, cacheable for a minute, straight from the I/O thread. */
    private static Server stub() throws Exception {
        QueuedThreadPool threads = new QueuedThreadPool(16, 2);
        threads.setName("once-warm-up-stub");
        Server server = new Server(threads);
        ServerConnector connector = new ServerConnector(server, 1, 1);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract.NonBlocking() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
                response.getHeaders().put(HttpHeader.CACHE_CONTROL, "max-age=60");
                String body = "{\"warm-up\":\"" + request.getHttpURI().getPath() + "\"}";
                response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
                return true;
            }
        });
        server.start();
        return server;
    }
}
