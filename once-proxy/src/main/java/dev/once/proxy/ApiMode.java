package dev.once.proxy;

import dev.once.cache.Bypass;
import dev.once.cache.CacheResult;
import dev.once.cache.OnceCache;
import java.util.Locale;

/**
 * A route in api mode: the route's TTL decides, for paid APIs whose answers carry no cache headers.
 * The key is the whole request as forwarded ({@link ProxyRequest#key()}); answers marked {@code
 * no-store} or {@code private}, or setting a cookie, are passed through unless the route says
 * otherwise; a client's conditional or range request is answered for that client alone.
 */
final class ApiMode {
    private final ProxyConfig config;
    private final Upstream upstream;

    ApiMode(ProxyConfig config, Upstream upstream) {
        this.config = config;
        this.upstream = upstream;
    }

    Reply handle(OnceCache<Cached> cache, ProxyRequest x) {
        if (!x.route.methods().contains(x.method) || x.conditional()) return Reply.passed(upstream.forward(x));
        Answer[] own = new Answer[1]; // this caller's upstream answer, whatever the cache did with it
        CacheResult<Cached> result;
        try {
            result = cache.lookup(x.key(), () -> {
                Answer a = upstream.forward(x);
                own[0] = a;
                if (a instanceof StoredResponse r && storable(x, r) && OnceProxy.fits(cache, r))
                    return r.shareable(); // its cookie is its client's
                if (a instanceof StreamedResponse s && s.overMemory()) throw s.forOthers();
                throw new Bypass(a, config.passThroughMemory());
            });
        } catch (RuntimeException e) {
            // the answer this request fetched, which memory could not hold for the others: its own
            if (own[0] instanceof StreamedResponse s && s.overMemory()) return new Reply(s, Outcome.BYPASS, false);
            throw e;
        }
        Outcome outcome = Outcome.of(result.source());
        // this caller's own upstream answer when it made one; else another caller's storable answer, which
        // it shares as it would a stored one (a load during an outage is shared within the process)
        Answer answer = own[0] != null && (outcome == Outcome.BYPASS || outcome == Outcome.MISS)
                ? own[0]
                : (StoredResponse) result.value();
        return new Reply(answer, outcome, false);
    }

    /**
     * The answer when this process holds it in memory (the near cache), without blocking; null when the
     * request must go through {@link #handle}.
     */
    static Reply fromMemory(OnceCache<Cached> cache, ProxyRequest x) {
        if (!x.route.methods().contains(x.method) || x.conditional()) return null;
        return cache.nearValue(x.key())
                .map(c -> new Reply((StoredResponse) c, Outcome.HIT, false))
                .orElse(null);
    }

    /**
     * The route's statuses, and never no-store, private or Set-Cookie answers unless the route says so;
     * never an answer whose Vary names {@code *} or a header the key leaves out (the proxy's {@code
     * X-Forwarded-For}, a tracing or neutral header): api mode keys every other forwarded header, but an
     * upstream that allow-lists client addresses and says {@code Vary: X-Forwarded-For} had its answer for
     * one address served to every other (helper-60).
     */
    static boolean storable(ProxyRequest x, StoredResponse r) {
        Route route = x.route;
        if (!route.statuses().contains(r.status())) return false;
        for (String name : Rfc9111.varyNames(r)) if (name.equals("*") || x.forwardedUnkeyed(name)) return false;
        if (route.cachePrivate()) return true;
        if (r.header("Set-Cookie") != null) return false;
        for (String cc : r.headerValues("Cache-Control")) {
            String v = cc.toLowerCase(Locale.ROOT);
            if (v.contains("no-store") || v.contains("private")) return false;
        }
        return true;
    }
}
