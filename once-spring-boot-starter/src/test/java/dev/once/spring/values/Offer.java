package dev.once.spring.values;

import java.math.BigDecimal;
import java.time.Instant;

/** Another value type whose JSON has a {@link Quote}'s fields: each reads as the other. */
public record Offer(String symbol, BigDecimal price, Instant at) {}
