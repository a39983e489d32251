package dev.once.cache;

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

/** once-cache's codecs on a typical API answer (about 300 bytes of JSON). */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CodecBench {
    public record Quote(String symbol, double price, long volume, List<String> venues, Map<String, String> meta) {}

    private final Codec<Quote> json = Codec.json(Quote.class);
    private final Codec<String> string = Codec.string();
    private Quote quote;
    private byte[] quoteBytes;
    private String text;
    private byte[] textBytes;

    @Setup
    public void setup() {
        quote = new Quote(
                "AAPL",
                190.25,
                51_234_567,
                List.of("XNAS", "XNYS", "BATS"),
                Map.of("currency", "USD", "source", "paid-api", "as_of", "2026-11-25T11:00:00Z"));
        quoteBytes = json.encode(quote);
        text = new String(quoteBytes, java.nio.charset.StandardCharsets.UTF_8);
        textBytes = string.encode(text);
    }

    @Benchmark
    public byte[] jsonEncode() {
        return json.encode(quote);
    }

    @Benchmark
    public Quote jsonDecode() {
        return json.decode(quoteBytes);
    }

    @Benchmark
    public byte[] stringEncode() {
        return string.encode(text);
    }

    @Benchmark
    public String stringDecode() {
        return string.decode(textBytes);
    }
}
