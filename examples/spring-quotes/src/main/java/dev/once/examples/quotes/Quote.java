package dev.once.examples.quotes;

import java.math.BigDecimal;

/** A quote as the paid API answered it; {@code call} numbers the API's answers, so callers can tell them apart. */
public record Quote(String symbol, BigDecimal price, long call) {}
