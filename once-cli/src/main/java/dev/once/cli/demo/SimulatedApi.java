package dev.once.cli.demo;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.Callback;

/** A paid API on loopback: every call takes {@code latencyMillis} and is counted (and would be billed). */
final class SimulatedApi implements AutoCloseable {
    private final Server server;
    private final AtomicInteger calls = new AtomicInteger();

    SimulatedApi(long latencyMillis) throws Exception {
        server = LoopbackServer.start(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                int n = calls.incrementAndGet();
                Thread.sleep(latencyMillis);
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
                String body = "{\"path\":\"" + request.getHttpURI().getPath() + "\",\"call\":" + n + "}";
                response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
                return true;
            }
        });
    }

    String url() {
        return "http://127.0.0.1:" + LoopbackServer.port(server);
    }

    int calls() {
        return calls.get();
    }

    void reset() {
        calls.set(0);
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }
}
