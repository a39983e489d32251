package dev.once.proxy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
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

/** What a proxy hit computes besides I/O: the cache key, and the stored response's codec. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ProxyHotPathBench {
    private final Map<String, List<String>> headers =
            Map.of("accept", List.of("application/json"), "authorization", List.of("Bearer sk-live-0123456789abcdef"));
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
        response = new StoredResponse(200, h, "x".repeat(1024).getBytes(), null, 1024);
        encoded = StoredResponse.CODEC.encode(response);
    }

    @Benchmark
    public String cacheKeyWithAuthorization() {
        return CacheKey.of(
                "GET",
                "/v1/quotes",
                "venue=XNAS&symbol=AAPL",
                List.of("accept"),
                headers::get,
                new byte[0],
                false,
                true);
    }

    @Benchmark
    public String cacheKeyPlain() {
        return CacheKey.of(
                "GET", "/v1/quotes", "venue=XNAS&symbol=AAPL", List.of(), headers::get, new byte[0], false, false);
    }

    @Benchmark
    public byte[] storedResponseEncode() {
        return StoredResponse.CODEC.encode(response);
    }

    @Benchmark
    public StoredResponse storedResponseDecode() {
        return StoredResponse.CODEC.decode(encoded);
    }
}
