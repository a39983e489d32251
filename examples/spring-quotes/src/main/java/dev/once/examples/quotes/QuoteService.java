package dev.once.examples.quotes;

import java.io.IOException;
import org.springframework.cache.annotation.Cacheable;
import org.springframework.stereotype.Service;

@Service
public class QuoteService {
    private final PaidApi api;

    public QuoteService(PaidApi api) {
        this.api = api;
    }

    /** sync = true: Spring hands the call to Cache.get(key, loader), which once-cache runs once per key cluster-wide. */
    @Cacheable(cacheNames = "quotes", sync = true)
    public Quote quote(String symbol) throws IOException, InterruptedException {
        return api.quote(symbol);
    }
}
