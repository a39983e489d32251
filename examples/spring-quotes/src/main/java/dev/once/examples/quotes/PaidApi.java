package dev.once.examples.quotes;

import java.io.IOException;
import java.math.BigDecimal;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/** The slow, paid upstream: {@code GET {quotes.upstream}/quote/{symbol}} answers {@code SYMBOL PRICE CALL}. */
@Component
public class PaidApi {
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String upstream;

    public PaidApi(@Value("${quotes.upstream}") String upstream) {
        this.upstream = upstream;
    }

    public Quote quote(String symbol) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(
                        URI.create(upstream + "/quote/" + URLEncoder.encode(symbol, StandardCharsets.UTF_8)))
                .timeout(Duration.ofSeconds(30))
                .build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200)
            throw new IOException("the paid API answered " + response.statusCode() + " for " + symbol);
        String[] parts = response.body().strip().split(" ");
        return new Quote(parts[0], new BigDecimal(parts[1]), Long.parseLong(parts[2]));
    }
}
