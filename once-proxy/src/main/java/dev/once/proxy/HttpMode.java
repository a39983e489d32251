package dev.once.proxy;

import dev.once.cache.Bypass;
import dev.once.cache.CacheResult;
import dev.once.cache.Expiry;
import dev.once.cache.OnceCache;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpURI;

/**
 * A route in http mode: RFC 9111 shared-cache semantics on top of once-cache, so a miss still costs
 * one upstream call per key and variant across replicas.
 *
 * <p>Storage. The base key of a URI ({@code GET} + path + sorted query, and the Authorization hash
 * unless turned off) holds the response, or, when responses vary, a <i>vary spec</i>: the Vary names
 * and a random epoch. Each variant lives under base key + epoch + the normalised values of the named
 * request headers. Purging the base key (a POST to the URI, say) retires every variant at once: the next
 * load draws a new epoch.
 *
 * <p>Freshness. once-cache keeps each response fresh for its RFC 9111 lifetime minus its age (an
 * {@link Expiry}), then keeps it a day more. An expired response is revalidated by the next request's
 * loader, which sees it as the previous value and sends its ETag / Last-Modified; a 304 freshens it.
 * {@code no-cache} responses are stored fresh for zero seconds: every use revalidates, and callers
 * waiting for one revalidation share its answer.
 */
final class HttpMode {
    /** RFC 9110 9.2.1: the safe methods; every other one (M-SEARCH too) may change the resource. */
    static final Set<String> SAFE = Set.of("GET", "HEAD", "OPTIONS", "TRACE");
    /** How long a response is kept after it expires, for revalidation and stale-if-error. */
    static final Duration RETAIN = Duration.ofDays(1);

    private static final List<String> CLIENT_CONDITIONALS =
            List.of("If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range");

    /** What to send: the response, what X-Once-Cache says, and whether it came through the cache. */
    record Answer(StoredResponse response, String outcome, boolean cached) {}

    /** A failed revalidation that stale-if-error allows to answer with the stored response. */
    static final class ServeStale extends RuntimeException {
        final transient StoredResponse stale;

        ServeStale(StoredResponse stale, String why) {
            super("serving a stale response: " + why, null, false, false);
            this.stale = stale;
        }
    }

    private final ProxyConfig config;
    private final Upstream upstream;

    HttpMode(ProxyConfig config, Upstream upstream) {
        this.config = config;
        this.upstream = upstream;
    }

    static Expiry<StoredResponse> expiry(Route route) {
        long routeStale = route.staleWhileRevalidate().toMillis();
        return new Expiry<>() {
            @Override
            public Duration freshFor(StoredResponse r) {
                if (r.isVarySpec()) return RETAIN;
                return Duration.ofMillis(Math.max(0, Rfc9111.remainingMillis(r, System.currentTimeMillis())));
            }

            @Override
            public Duration staleWhileRevalidate(StoredResponse r) {
                if (r.isVarySpec()) return Duration.ZERO;
                return Duration.ofMillis(Rfc9111.staleWhileRevalidateMillis(r, routeStale));
            }
        };
    }

    /** One request to a route in http mode. */
    Answer handle(
            OnceCache<StoredResponse> cache,
            String method,
            HttpURI uri,
            HttpFields headers,
            byte[] body,
            String client,
            String scheme) {
        Exchange x = new Exchange(cache, method, uri, headers, body, client, scheme);
        if (!SAFE.contains(method)) {
            StoredResponse r = x.forward();
            if (r.status() < 400) invalidate(cache, uri, headers, r);
            return new Answer(r, "BYPASS", false);
        }
        if (!method.equals("GET") && !method.equals("HEAD")) return x.pass();
        CacheControl req = x.req;
        if (req.has("no-store")) return x.pass();
        long now = System.currentTimeMillis();
        if (req.has("only-if-cached") || req.maxStale() >= 0) {
            Optional<StoredResponse> stored = stored(cache, x.base, headers).filter(s -> acceptable(req, s, now, true));
            if (stored.isPresent()) {
                return new Answer(stored.get(), Rfc9111.remainingMillis(stored.get(), now) > 0 ? "HIT" : "STALE", true);
            }
            if (req.has("only-if-cached")) {
                StoredResponse gateway = new StoredResponse(
                        504,
                        List.<String[]>of(new String[] {"Content-Type", "text/plain; charset=utf-8"}),
                        "only-if-cached: no stored response satisfies this request\n".getBytes());
                return new Answer(gateway, "BYPASS", false);
            }
        }
        try {
            CacheResult<StoredResponse> r = cache.lookup(x.base, previous -> x.load(x.base, true, previous));
            if (r.source() == CacheResult.Source.BYPASS) return new Answer(r.value(), "BYPASS", false);
            StoredResponse s = r.value();
            String outcome = outcome(r.source());
            String key = x.base;
            if (s.isVarySpec()) {
                key = variantKey(x.base, s, headers);
                String variantKey = key;
                CacheResult<StoredResponse> v =
                        cache.lookup(variantKey, previous -> x.load(variantKey, false, previous));
                if (v.source() == CacheResult.Source.BYPASS) return new Answer(v.value(), "BYPASS", false);
                s = v.value();
                if (outcome.equals("HIT") || outcome.equals("STALE")) outcome = outcome(v.source());
            }
            if (s.isVarySpec() || !Rfc9111.selectedBy(s, headers)) {
                // stored for other request headers than these (RFC 9111 4.1), or the upstream changed its
                // Vary between two loads: answer without the cache
                return x.pass();
            }
            boolean fromStore = outcome.equals("HIT") || outcome.equals("STALE");
            if (fromStore && !acceptable(req, s, System.currentTimeMillis(), false)) {
                return revalidateNow(x, key, s);
            }
            return new Answer(s, outcome, true);
        } catch (RuntimeException e) {
            ServeStale stale = find(e);
            if (stale == null) throw e;
            return new Answer(stale.stale, "STALE", true);
        }
    }

    /** The client wants fresher than stored (no-cache, max-age, min-fresh): validate now and store the result. */
    private Answer revalidateNow(Exchange x, String key, StoredResponse stored) {
        StoredResponse revalidated;
        try {
            revalidated = x.load(key, key.equals(x.base), stored);
        } catch (Bypass b) {
            return new Answer((StoredResponse) b.value(), "BYPASS", false);
        }
        x.cache.purge(key);
        x.cache.lookup(key, previous -> revalidated);
        if (revalidated.isVarySpec()) return x.pass();
        return new Answer(revalidated, "MISS", true);
    }

    /**
     * One client request on its way through the cache: what it asks, the key of its URI, and the two ways
     * it reaches the upstream (forwarded as it is, or loaded for the cache).
     */
    private final class Exchange {
        final OnceCache<StoredResponse> cache;
        final String method;
        final String pathQuery;
        final HttpFields headers;
        final byte[] body;
        final String client;
        final String scheme;
        final CacheControl req;
        final String base;

        Exchange(
                OnceCache<StoredResponse> cache,
                String method,
                HttpURI uri,
                HttpFields headers,
                byte[] body,
                String client,
                String scheme) {
            this.cache = cache;
            this.method = method;
            this.pathQuery = uri.getPathQuery();
            this.headers = headers;
            this.body = body;
            this.client = client;
            this.scheme = scheme;
            this.req = Rfc9111.requestDirectives(headers);
            this.base = baseKey(uri.getPath(), uri.getQuery(), headers, config.keyAuthorization());
        }

        /** The request as it came, to the upstream. */
        StoredResponse forward() {
            return upstream.forward(method, pathQuery, headers, body, client, scheme);
        }

        /** Answered without the cache. */
        Answer pass() {
            return new Answer(forward(), "BYPASS", false);
        }

        /** The cache's load of a key: a GET, conditional when there is a previous response; decides storage. */
        StoredResponse load(String key, boolean isBase, StoredResponse previous) {
            StoredResponse validated = previous != null && !previous.isVarySpec() ? previous : null;
            long requestTime = System.currentTimeMillis();
            StoredResponse fetched;
            try {
                // a HEAD is fetched as GET, so the stored answer serves both (nginx does the same)
                fetched = upstream.forward("GET", pathQuery, headers, new byte[0], client, scheme, h -> {
                    for (String c : CLIENT_CONDITIONALS) h.remove(c); // the cache validates its own copy
                    if (validated != null) {
                        String etag = validated.header("ETag");
                        String modified = validated.header("Last-Modified");
                        if (etag != null) h.put("If-None-Match", etag);
                        if (modified != null) h.put("If-Modified-Since", modified);
                    }
                });
            } catch (UpstreamFailure e) {
                // disconnected (unreachable, closed, timed out): RFC 9111 4.2.4 lets a cache serve a stale
                // response then, unless the response forbids it (must-revalidate, proxy-revalidate, ...)
                if (validated != null && !Rfc9111.staleForbidden(validated))
                    throw new ServeStale(validated, e.getMessage());
                throw e;
            }
            fetched = fetched.timed(requestTime, System.currentTimeMillis());
            if (fetched.streamed()) throw new Bypass(fetched, config.passThroughMemory());
            if (fetched.status() == 304 && validated != null) {
                StoredResponse freshened = validated
                        .withHeaders(Rfc9111.freshenedHeaders(validated, fetched))
                        .timed(fetched.requestTime(), fetched.responseTime());
                if (Rfc9111.notStorable(headers, freshened, false) == null) return freshened;
                throw new Bypass(freshened, Duration.ZERO);
            }
            if (Rfc9111.ERRORS.contains(fetched.status()) && staleIfError(validated)) {
                throw new ServeStale(validated, "the upstream answered " + fetched.status());
            }
            if (Rfc9111.notStorable(headers, fetched, false) != null) {
                throw new Bypass(fetched, config.passThroughMemory());
            }
            List<String> names = Rfc9111.varyNames(fetched);
            if (names.isEmpty()) return fetched;
            StoredResponse variant = fetched.withVariant(Rfc9111.variant(names, headers));
            if (!isBase) return variant;
            StoredResponse spec = StoredResponse.varySpec(
                    String.join(", ", names), UUID.randomUUID().toString(), System.currentTimeMillis());
            cache.lookup(variantKey(base, spec, headers), p -> variant);
            return spec;
        }

        private boolean staleIfError(StoredResponse stale) {
            if (stale == null) return false;
            long now = System.currentTimeMillis();
            long staleness = -Rfc9111.remainingMillis(stale, now);
            long allowed = Rfc9111.staleIfErrorMillis(stale, req);
            return allowed > 0 && staleness <= allowed;
        }
    }

    /** What is stored for the request, fresh or not, without loading. */
    private Optional<StoredResponse> stored(OnceCache<StoredResponse> cache, String base, HttpFields headers) {
        Optional<StoredResponse> s = cache.peek(base).map(CacheResult::value);
        if (s.isPresent() && s.get().isVarySpec()) {
            s = cache.peek(variantKey(base, s.get(), headers)).map(CacheResult::value);
        }
        return s.filter(r -> !r.isVarySpec() && Rfc9111.selectedBy(r, headers));
    }

    /**
     * RFC 9111 5.2.1: whether the client's request directives accept this stored response; with
     * {@code staleAllowed}, staleness up to max-stale is fine where the response permits it.
     */
    private static boolean acceptable(CacheControl req, StoredResponse s, long now, boolean staleAllowed) {
        if (req.isEmpty() && !staleAllowed) return true; // nothing asked: no header arithmetic on a plain hit
        if (req.has("no-cache")) return false;
        long age = Rfc9111.currentAgeMillis(s, now);
        long remaining = Rfc9111.lifetimeMillis(s) - age;
        long maxAge = req.seconds("max-age");
        if (maxAge >= 0 && age > maxAge * 1000) return false;
        long minFresh = req.seconds("min-fresh");
        if (minFresh >= 0 && remaining < minFresh * 1000) return false;
        if (remaining > 0) return true;
        if (!staleAllowed) return maxAge < 0 && minFresh < 0; // stale by SWR: fine unless the client set limits
        long maxStale = req.maxStale();
        return maxStale >= 0 && !Rfc9111.staleForbidden(s) && -remaining <= maxStale * 1000;
    }

    /**
     * RFC 9111 4.4: a non-error answer to an unsafe method (or one whose safety is unknown) invalidates
     * its URI and a same-origin Location / Content-Location.
     */
    private void invalidate(OnceCache<StoredResponse> cache, HttpURI uri, HttpFields headers, StoredResponse r) {
        List<String[]> targets = new ArrayList<>();
        targets.add(new String[] {uri.getPath(), uri.getQuery()});
        for (String name : List.of("Location", "Content-Location")) {
            String v = r.header(name);
            if (v == null) continue;
            try {
                URI u = URI.create(v.trim());
                String host = headers.get("Host");
                if (u.getHost() != null && (host == null || !sameAuthority(u, host))) continue; // another origin
                if (u.getRawPath() != null && !u.getRawPath().isEmpty())
                    targets.add(new String[] {u.getRawPath(), u.getRawQuery()});
            } catch (IllegalArgumentException bad) {
                // not a URI: nothing to invalidate
            }
        }
        for (String[] t : targets) {
            cache.purge(baseKey(t[0], t[1], headers, config.keyAuthorization()));
            if (config.keyAuthorization() && headers.contains("Authorization")) {
                cache.purge(baseKey(t[0], t[1], headers, false)); // the shared copy as well
            }
        }
    }

    private static boolean sameAuthority(URI u, String host) {
        String authority = u.getPort() < 0 ? u.getHost() : u.getHost() + ":" + u.getPort();
        return authority.equalsIgnoreCase(host.trim());
    }

    static String baseKey(String path, String query, HttpFields headers, boolean keyAuthorization) {
        return CacheKey.of("GET", path, query, List.of(), headers::getValuesList, new byte[0], false, keyAuthorization);
    }

    private static String variantKey(String base, StoredResponse spec, HttpFields headers) {
        return base + "\nvariant " + spec.variant() + "\n" + Rfc9111.variant(Rfc9111.varyNames(spec), headers);
    }

    private static String outcome(CacheResult.Source source) {
        return switch (source) {
            case HIT, NEAR_HIT -> "HIT";
            case MISS -> "MISS";
            case COALESCED -> "COALESCED";
            case STALE -> "STALE";
            case BYPASS -> "BYPASS";
        };
    }

    private static ServeStale find(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof ServeStale s) return s;
        return null;
    }
}
