package dev.once.cache;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The key hash every cache lookup computes (SHA-256, hex): Once's own, against a fresh
 * {@code MessageDigest.getInstance} per call and a clone of a prototype, the two ways that do not
 * depend on a thread-local (a new virtual thread per request starts with an empty one).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class KeyHashBench {
    private final String key = "GET /v1/quotes?symbol=AAPL&venue=XNAS\nauthorization-sha256: 3f1a";
    private MessageDigest prototype;
    private final KeyHash quotes = new KeyHash("quotes");

    @org.openjdk.jmh.annotations.Setup
    public void setup() throws Exception {
        prototype = MessageDigest.getInstance("SHA-256");
    }

    @Benchmark
    public String once() { // clones a prototype digest (a thread-local before: 134 ns)
        return quotes.of(key);
    }

    @Benchmark
    public String getInstancePerCall() throws Exception {
        return HexFormat.of()
                .formatHex(MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
    }

    @Benchmark
    public String clonePrototype() throws Exception {
        return HexFormat.of()
                .formatHex(((MessageDigest) prototype.clone()).digest(key.getBytes(StandardCharsets.UTF_8)));
    }
}
