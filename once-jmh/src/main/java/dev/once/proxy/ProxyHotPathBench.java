package dev.once.proxy;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpFields;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** What a proxy hit computes besides I/O: the forwarded request and its key, and the stored response's codec. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ProxyHotPathBench {
    private final HttpFields headers = HttpFields.build()
            .add("Accept", "application/json")
            .add("Authorization", "Bearer sk-live-0123456789abcdef")
            .add("User-Agent", "bench/1.0")
            .asImmutable();
    private final ProxyConfig config =
            ProxyConfig.builder(URI.create("https://api.example.com")).build();
    private final String policy = config.keyPolicy(config.route("/v1/quotes"));
    private ProxyRequest request;
    private StoredResponse response;
    private byte[] encoded;

    @Setup
    public void setup() {
        List<String[]> h = new ArrayList<>();
        h.add(new String[] {"Content-Type", "application/json"});
        h.add(new String[] {"Cache-Control", "max-age=60"});
        h.add(new String[] {"ETag", "\"5f2a-17\""});
        h.add(new String[] {"Date", "Wed, 25 Nov 2026 11:00:00 GMT"});
        h.add(new String[] {"X-Request-Id", "c0ffee00-1234-5678-9abc-def012345678"});
        h.add(new String[] {"Vary", "Accept"});
        response = new StoredResponse(200, h, "x".repeat(1024).getBytes());
        encoded = Cached.CODEC.encode(response);
        request = newRequest();
    }

    private ProxyRequest newRequest() {
        Route route = config.route("/v1/quotes");
        return ProxyRequest.of(
                config,
                route,
                config.origin(),
                policy,
                new CredentialDigest(null),
                "GET",
                "/v1/quotes",
                "venue=XNAS&symbol=AAPL",
                headers,
                new byte[0],
                "127.0.0.1",
                "http");
    }

    /** The request as forwarded: header rules, route. */
    @Benchmark
    public ProxyRequest proxyRequest() {
        return newRequest();
    }

    /** api mode's key: every keyed header, the Authorization hashed. */
    @Benchmark
    public String apiKeyWithAuthorization() {
        return request.key();
    }

    @Benchmark
    public byte[] storedResponseEncode() {
        return Cached.CODEC.encode(response);
    }

    @Benchmark
    public Cached storedResponseDecode() {
        return Cached.CODEC.decode(encoded);
    }
}
