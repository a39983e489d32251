package dev.once.proxy;

import dev.once.cache.Bypass;
import dev.once.cache.CacheResult;
import dev.once.cache.OnceCache;
import dev.once.cache.internal.WarningGate;
import java.time.Duration;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A route in api mode: the route's TTL decides, for paid APIs whose answers carry no cache headers.
 * The key is the whole request as forwarded ({@link ProxyRequest#key()}); answers marked {@code
 * no-store} or {@code private}, or setting a cookie, are passed through unless the route says
 * otherwise; a client's conditional or range request is answered for that client alone.
 */
final class ApiMode {
    private static final Logger log = LoggerFactory.getLogger(ApiMode.class);
    private final ProxyConfig config;
    /**
     * An upstream whose answers vary on a header the key leaves out never has one cached; said once a
     * minute, since only {@code X-Once-Cache: BYPASS} showed it (helper-61: the docs' own {@code neutral:
     * [User-Agent]} beside an upstream's {@code Vary: User-Agent}).
     */
    private final WarningGate varyWarning = WarningGate.every(Duration.ofMinutes(1));

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
                if (a instanceof StoredResponse r) {
                    if (storable(x, r) && OnceProxy.fits(cache, r)) return r.shareable(); // its cookie is its client's
                    warnIfVaryLeftOut(x, r);
                }
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
        if (varyLeftOut(x, r) != null) return false;
        if (route.cachePrivate()) return true;
        if (r.header("Set-Cookie") != null) return false;
        for (String cc : r.headerValues("Cache-Control")) {
            String v = cc.toLowerCase(Locale.ROOT);
            if (v.contains("no-store") || v.contains("private")) return false;
        }
        return true;
    }

    /** The first member of the answer's Vary that the key leaves out ({@code *} included), or null. */
    static String varyLeftOut(ProxyRequest x, StoredResponse r) {
        for (String name : Rfc9111.varyNames(r)) if (name.equals("*") || x.forwardedUnkeyed(name)) return name;
        return null;
    }

    private void warnIfVaryLeftOut(ProxyRequest x, StoredResponse r) {
        String name = varyLeftOut(x, r);
        if (name == null || !x.route.statuses().contains(r.status()) || !varyWarning.pass()) return;
        String why = name.equals("*")
                ? "'Vary: *' (or a member that names no header the proxy forwards)"
                : x.route.neutral().contains(name)
                        ? "'" + name + "', a header the route's neutral list leaves out of the key; if answers differ"
                                + " by it, remove it from that list"
                        : HeaderRules.NEUTRAL.contains(name)
                                ? "'" + name + "', a header no key holds (the client's address, a tracing id)"
                                : "'" + name + "', a credential shared under keyAuthorization: false; if answers"
                                        + " differ by caller, drop that setting";
        log.warn(
                "api mode: answers for {} {} are passed through, never cached, each such request paying an"
                        + " upstream call (said at most once a minute): the upstream's Vary names {}",
                x.method,
                ProxyRequest.loggedTarget(x.path),
                why);
    }
}
