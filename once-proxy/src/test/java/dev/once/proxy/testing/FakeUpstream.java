package dev.once.proxy.testing;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A paid API stand-in on loopback: answers after {@code latencyMillis}, counts calls per path and
 * query. Paths: {@code /cookie} sets a cookie, {@code /nostore} says no-store, {@code /private} says
 * private, {@code /auth} echoes Authorization, {@code /headers} echoes the headers it got, {@code
 * /status/N} answers N, {@code /sleep/N} waits N ms, {@code /bytes/N} answers N bytes, paths under {@code /fresh/} say {@code
 * Cache-Control: max-age=60} (for http mode); anything else echoes its path.
 */
public final class FakeUpstream implements AutoCloseable {
    private final Server server;
    private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    private final AtomicInteger total = new AtomicInteger();

    public FakeUpstream(long latencyMillis) throws Exception {
        this(0, latencyMillis);
    }

    public FakeUpstream(int port, long latencyMillis) throws Exception {
        server = loopback(port, new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                String path = request.getHttpURI().getPath();
                String target = request.getHttpURI().getPathQuery();
                int n = calls.computeIfAbsent(target, k -> new AtomicInteger()).incrementAndGet();
                total.incrementAndGet();
                long wait = path.startsWith("/sleep/") ? Long.parseLong(path.substring(7)) : latencyMillis;
                Thread.sleep(wait);
                int status = path.startsWith("/status/") ? Integer.parseInt(path.substring(8)) : 200;
                String body = "upstream " + target + " call " + n;
                if (path.equals("/cookie")) response.getHeaders().add(HttpHeader.SET_COOKIE, "session=" + n);
                if (path.equals("/nostore")) response.getHeaders().add(HttpHeader.CACHE_CONTROL, "no-store");
                if (path.equals("/private")) response.getHeaders().add(HttpHeader.CACHE_CONTROL, "private, max-age=60");
                if (path.startsWith("/fresh/")) response.getHeaders().add(HttpHeader.CACHE_CONTROL, "max-age=60");
                if (path.equals("/auth"))
                    body = "auth=" + request.getHeaders().get(HttpHeader.AUTHORIZATION) + " call " + n;
                if (path.equals("/headers")) body = request.getHeaders().toString();
                if (path.equals("/big")) body = "x".repeat(2 << 20);
                if (path.startsWith("/bytes/")) body = "x".repeat(Integer.parseInt(path.substring(7)));
                if (path.startsWith("/fresh/bytes/")) body = "x".repeat(Integer.parseInt(path.substring(13)));
                response.setStatus(status);
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain");
                response.getHeaders().put("X-Upstream-Call", Integer.toString(n));
                response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
                return true;
            }
        });
    }

    /** A started Jetty server on 127.0.0.1 (port 0: a free one) handling requests on virtual threads. */
    public static Server loopback(int port, Handler handler) throws Exception {
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setVirtualThreadsExecutor(Executors.newVirtualThreadPerTaskExecutor());
        Server server = new Server(threads);
        org.eclipse.jetty.server.HttpConfiguration http = new org.eclipse.jetty.server.HttpConfiguration();
        http.setHeaderCacheCaseSensitive(true); // echo header values exactly as sent (Jetty's default does not)
        http.setRequestHeaderSize(64 * 1024); // takes whatever a proxy in front of it may forward
        ServerConnector connector =
                new ServerConnector(server, new org.eclipse.jetty.server.HttpConnectionFactory(http));
        connector.setHost("127.0.0.1");
        connector.setPort(port);
        server.addConnector(connector);
        server.setHandler(handler);
        server.start();
        return server;
    }

    public int port() {
        return ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    }

    public String url() {
        return "http://127.0.0.1:" + port();
    }

    /** Calls for one path and query. */
    public int calls(String pathQuery) {
        AtomicInteger n = calls.get(pathQuery);
        return n == null ? 0 : n.get();
    }

    public int totalCalls() {
        return total.get();
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }
}
