package dev.once.spring.values;

import java.math.BigDecimal;
import java.time.Instant;

/** A value type in the allowed package of the tests' caches. */
public record Quote(String symbol, BigDecimal price, Instant at) {}
