package dev.once.cli.bench;

import dev.once.cli.demo.LoopbackServer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.Callback;

/**
 * The proxy-waiters bench's floor: the cheapest coalescing proxy one can write on the same parts, with
 * no database and no rules. A GET's path is its key; the first request for a key in this process calls
 * the upstream (Jetty's client, asynchronously), the others wait on the same future, and every request
 * is answered from that future's completion, with no thread of its own. Answers stay in a map for good
 * (the bench's keys are new in every burst). Its replicas do not coordinate, so a key costs one upstream
 * call per replica. What {@code once serve} adds over it is the price of the claim protocol, the
 * proxy's rules and its threads; what it adds over a direct call is the price of one more HTTP hop on
 * the machine. {@code /-/metrics} gives only the JIT's time, for the bench's warm-up.
 */
public final class BareProxy {
    private BareProxy() {}

    /** {@code BareProxy <upstream origin>}: listens on a free port of 127.0.0.1 and says so on stdout. */
    public static void main(String[] args) throws Exception {
        String origin = args[0];
        HttpClient client = new HttpClient();
        client.setMaxConnectionsPerDestination(256);
        client.start();
        ConcurrentHashMap<String, CompletableFuture<byte[]>> answers = new ConcurrentHashMap<>();
        // as once serve: a selector per core (and the listen backlog LoopbackServer asks for)
        Server server = LoopbackServer.start(
                new Handler.Abstract.NonBlocking() {
                    @Override
                    public boolean handle(Request request, Response response, Callback callback) {
                        String path = request.getHttpURI().getPath();
                        if (metrics(path, response, callback)) return true;
                        CompletableFuture<byte[]> mine = new CompletableFuture<>();
                        CompletableFuture<byte[]> had = answers.putIfAbsent(path, mine);
                        if (had == null) {
                            client.newRequest(origin + path).send(new BufferingResponseListener() {
                                @Override
                                public void onComplete(org.eclipse.jetty.client.Result result) {
                                    if (result.isFailed()) mine.completeExceptionally(result.getFailure());
                                    else mine.complete(getContent());
                                }
                            });
                        }
                        (had == null ? mine : had).whenComplete((body, failure) -> {
                            if (failure != null) callback.failed(failure);
                            else write(response, callback, null, body);
                        });
                        return true;
                    }
                },
                Runtime.getRuntime().availableProcessors());
        System.out.println("listening on http://127.0.0.1:" + LoopbackServer.port(server));
        System.out.flush();
        server.join();
    }

    /** {@code /-/metrics}: only the JIT's time, for the bench's warm-up; false for any other path. */
    static boolean metrics(String path, Response response, Callback callback) {
        if (!path.equals("/-/metrics")) return false;
        long jit = java.lang.management.ManagementFactory.getCompilationMXBean().getTotalCompilationTime();
        write(response, callback, "jvm_compilation_time_ms_total " + jit + "\n", null);
        return true;
    }

    /** A text answer, or a stored answer's body as JSON. */
    static void write(Response response, Callback callback, String text, byte[] body) {
        response.getHeaders().put("Content-Type", text != null ? "text/plain" : "application/json");
        byte[] bytes = text != null ? text.getBytes(StandardCharsets.UTF_8) : body;
        response.write(true, ByteBuffer.wrap(bytes), callback);
    }
}
