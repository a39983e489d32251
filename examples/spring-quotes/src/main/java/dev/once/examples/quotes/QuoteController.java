package dev.once.examples.quotes;

import java.io.IOException;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

@RestController
public class QuoteController {
    private final QuoteService quotes;

    public QuoteController(QuoteService quotes) {
        this.quotes = quotes;
    }

    @GetMapping("/quotes/{symbol}")
    public Quote quote(@PathVariable("symbol") String symbol) throws IOException, InterruptedException {
        return quotes.quote(symbol);
    }
}
