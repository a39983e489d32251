package dev.once.proxy;

import dev.once.cache.CacheResult;

/** What the proxy did with a request, as {@code X-Once-Cache} tells the client. */
enum Outcome {
    /** Answered from the cache. */
    HIT,
    /** This request's upstream call made the answer, now stored. */
    MISS,
    /** Another request's upstream call, in this replica or another, made the answer. */
    COALESCED,
    /** An expired answer, served while one replica refreshes it (or allowed by the client or the origin). */
    STALE,
    /** Answered without the cache: not cacheable, refused, or the store is unreachable (fail-open). */
    BYPASS;

    /** {@code X-Once-Cache} saying this, encoded once. */
    final org.eclipse.jetty.http.HttpField field =
            new org.eclipse.jetty.http.PreEncodedHttpField(ProxyHandler.X_ONCE_CACHE, name());

    static Outcome of(CacheResult.Source source) {
        return switch (source) {
            case HIT, NEAR_HIT -> HIT;
            case MISS -> MISS;
            case COALESCED -> COALESCED;
            case STALE -> STALE;
            case BYPASS -> BYPASS;
        };
    }

    /** Whether the answer came out of the store rather than from an upstream call made for it. */
    boolean fromStore() {
        return this == HIT || this == STALE;
    }
}
