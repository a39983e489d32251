package dev.once.proxy;

/**
 * http mode: the epoch of one URI. Every answer of the URI, for every credential, encoding and variant,
 * is stored under a key that contains it, so purging this one record (RFC 9111 4.4 invalidation)
 * retires them all: the next request draws a new epoch and misses.
 */
record UriRecord(String epoch) implements Cached {}
