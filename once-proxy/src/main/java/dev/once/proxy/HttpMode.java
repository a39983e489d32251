package dev.once.proxy;

import dev.once.cache.Bypass;
import dev.once.cache.CacheResult;
import dev.once.cache.Expiry;
import dev.once.cache.OnceCache;
import dev.once.cache.internal.WarningGate;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A route in http mode: RFC 9111 shared-cache semantics on top of once-cache, so a miss still costs
 * one upstream call per key and variant across replicas.
 *
 * <p>Storage. The URI's key ({@link ProxyRequest#uriKey()}, credential parameters' values left out)
 * holds a random epoch ({@link UriRecord}). A request's answer lives under the URI key, the epoch, its
 * target with credential parameters digested, and the hashes of its credential headers; when the
 * origin's answers vary, that key holds a {@link VaryRecord} and each variant lives under it plus the
 * values of the named headers, each with its length. Purging the URI key (a
 * successful POST to the URI, say) retires every stored answer of the URI at once, for every
 * credential and variant: the next request draws a new epoch.
 *
 * <p>Freshness. once-cache keeps each response fresh for its RFC 9111 lifetime minus its age (an
 * {@link Expiry}), then keeps it a day more. An expired response is revalidated by the next request's
 * loader, which sees it as the previous value and sends its ETag / Last-Modified; a 304 freshens it.
 * {@code no-cache} responses are stored fresh for zero seconds: every use revalidates, and callers
 * waiting for one revalidation share its answer.
 */
final class HttpMode {
    private static final Logger log = LoggerFactory.getLogger(HttpMode.class);
    /** RFC 9110 9.2.1: the safe methods; every other one (M-SEARCH too) may change the resource. */
    static final Set<String> SAFE = Set.of("GET", "HEAD", "OPTIONS", "TRACE");
    /** How long a response is kept after it expires, for revalidation and stale-if-error; and a URI's epoch. */
    static final Duration RETAIN = Duration.ofDays(1);

    /** How long a URI keeps its epoch: longer than any answer's freshness, so epochs do not retire answers by age. */
    static final Duration EPOCH_LIFETIME = Duration.ofDays(365);

    private static final byte[] NO_BODY = new byte[0];

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
    private final Counter invalidationFailures;
    /**
     * Answer keys whose answer this replica found too large to store, lately. A HEAD or Range request for
     * one is forwarded as it came: fetched as the cache's GET, each was a whole paid answer passed
     * through or thrown away (5 HEADs, 5 full GETs of 20 MB; a Range for 10 bytes, 20 MB: helper-24).
     */
    private final com.github.benmanes.caffeine.cache.Cache<String, Boolean> tooLarge;

    /**
     * Loads running in this process for URIs whose epoch the store could not give (the store unreachable,
     * the URI not in memory), by answer key under {@link #OUTAGE}: identical requests meanwhile share one
     * upstream call per replica, as in api mode (each drew a random epoch before, and paid a call: 8
     * identical requests, 8 calls). Never stored, never read from the store or the near cache: a key
     * under an epoch that only this process knows, written while the store flapped back, was found again
     * in a later outage after another replica had invalidated it (helper-51).
     */
    private final java.util.concurrent.ConcurrentHashMap<String, java.util.concurrent.CompletableFuture<Cached>>
            outageLoads = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * URI keys whose invalidation could not reach the store, with their route's cache: retried every
     * {@link #PURGE_RETRY} until the store takes it, and meanwhile those URIs are answered here without
     * the cache. Without it, once the store answered again every replica served the answer from before
     * the change until it expired (helper-52). Other replicas may still serve it until the retry lands:
     * within about 20 ms of this replica reaching the store (a purge that failed while the store
     * answered is tried again every {@link #PURGE_RETRY}), plus the NOTIFY's way.
     */
    private final java.util.concurrent.ConcurrentHashMap<String, Unpurged> unpurged =
            new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * One failed invalidation of a URI, compared by identity: a success removes only the failure it
     * retried, never a newer one made while it ran (helper-53).
     */
    private static final class Unpurged {
        final OnceCache<Cached> cache;
        /** A purge of it is under way: requests for the URI meanwhile answer without the cache, no purge each. */
        final java.util.concurrent.atomic.AtomicBoolean purging = new java.util.concurrent.atomic.AtomicBoolean();

        Unpurged(OnceCache<Cached> cache) {
            this.cache = cache;
        }
    }

    /** The characters of the keys in {@link #unpurged}: what they hold in memory, about. */
    private final java.util.concurrent.atomic.AtomicLong unpurgedChars = new java.util.concurrent.atomic.AtomicLong();

    /**
     * Caches with more failed invalidations than {@link #unpurged} may hold: each is purged whole once
     * its store answers, and until then every request of its routes is answered without it. Letting one
     * invalidation go (as before) let its URI's answer from before the change be served after the outage
     * (helper-53: a flood of unsafe requests with long URIs, bounded only by count, could also hold
     * gigabytes here).
     */
    private final java.util.concurrent.ConcurrentHashMap<OnceCache<Cached>, Object> purgeWhole =
            new java.util.concurrent.ConcurrentHashMap<>();

    private final java.util.concurrent.atomic.AtomicBoolean retrying = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile boolean stopped;
    static final Duration PURGE_RETRY = Duration.ofMillis(500);
    /** More pending invalidations than this, or keys longer than {@link #maxUnpurgedChars} together, and the cache is purged whole instead. */
    static volatile int maxUnpurged = 100_000; // not final: for tests

    static volatile long maxUnpurgedChars = 8L << 20; // not final: for tests

    /** The epoch of the keys of {@link #outageLoads}: no stored key holds it (stored epochs are UUIDs). */
    private static final UriRecord OUTAGE = new UriRecord("outage");

    /** Each caching route's cache: an invalidation's Location may name another route's URI. */
    private final java.util.function.Function<Route, OnceCache<Cached>> caches;

    HttpMode(
            ProxyConfig config,
            Upstream upstream,
            MeterRegistry registry,
            java.util.function.Function<Route, OnceCache<Cached>> caches) {
        this.config = config;
        this.upstream = upstream;
        this.caches = caches;
        this.invalidationFailures = Counter.builder("once.proxy.invalidation.failures")
                .description("RFC 9111 invalidations that could not reach the store (the answer was still sent)")
                .register(registry);
        this.tooLarge = com.github.benmanes.caffeine.cache.Caffeine.newBuilder()
                .maximumSize(10_000)
                .expireAfterWrite(config.passThroughMemory().plusMinutes(1))
                .build();
    }

    static Expiry<Cached> expiry(Route route) {
        long routeStale = route.staleWhileRevalidate().toMillis();
        return new Expiry<>() {
            @Override
            public Duration freshFor(Cached c) {
                if (c instanceof UriRecord) return EPOCH_LIFETIME;
                if (!(c instanceof StoredResponse r)) return RETAIN;
                return Duration.ofMillis(Math.max(0, Rfc9111.remainingMillis(r, System.currentTimeMillis())));
            }

            @Override
            public Duration staleWhileRevalidate(Cached c) {
                if (!(c instanceof StoredResponse r)) return Duration.ZERO;
                return Duration.ofMillis(Rfc9111.staleWhileRevalidateMillis(r, routeStale));
            }
        };
    }

    /**
     * The answer when this process holds a fresh one in memory (the near cache) that the request takes
     * as it is, without blocking; null when the request must go through {@link #handle}: it carries
     * cache directives, a body or another method, or nothing fresh is held for its URI, credentials and
     * variant. A near-cache entry lives no longer than the answer's freshness, so what is found here is
     * what {@link #handle} would serve as a HIT.
     */
    static Reply fromMemory(OnceCache<Cached> cache, ProxyRequest x) {
        if ((!x.method.equals("GET") && !x.method.equals("HEAD")) || x.body.length > 0) return null;
        if (x.route.obeyRequestDirectives()
                && !Rfc9111.requestDirectives(x.headers).isEmpty()) return null;
        if (!(cache.nearValue(x.uriKey()).orElse(null) instanceof UriRecord uri)) return null;
        String key = x.answerKey(uri);
        Cached c = cache.nearValue(key).orElse(null);
        if (c instanceof VaryRecord vary)
            c = cache.nearValue(x.variantKey(key, vary)).orElse(null);
        if (!(c instanceof StoredResponse s) || !x.selects(s) || !sendableAsIs(s, x)) return null;
        return new Reply(s, Outcome.HIT, true);
    }

    /** Whether the stored answer's encoding reaches this client as it is (no decoding, no pass-through). */
    private static boolean sendableAsIs(StoredResponse s, ProxyRequest x) {
        String coding = s.header("Content-Encoding");
        if (coding == null || coding.isBlank() || coding.trim().equalsIgnoreCase("identity")) return true;
        // the client takes it, or its request forwards the same
        return HeaderRules.accepts(x.headers, coding.trim())
                || s.encodingAsked().equals(x.encodingAsked());
    }

    /** One request to a route in http mode. */
    Reply handle(OnceCache<Cached> cache, ProxyRequest x) {
        if (!SAFE.contains(x.method)) {
            Answer r;
            try {
                r = upstream.forward(x);
            } catch (UpstreamFailure e) {
                // no answer (a timeout, a connection lost): the upstream may have made the change all the
                // same, so the URI's answers go, as for a success; it kept them everywhere before (helper-55)
                invalidate(cache, x, null);
                throw e;
            }
            if (r.status() < 400) invalidate(cache, x, r);
            return Reply.passed(r);
        }
        // OPTIONS is not stored; a GET with a body is answered for its sender alone (the body is not keyed here)
        if ((!x.method.equals("GET") && !x.method.equals("HEAD")) || x.body.length > 0) return pass(x);
        CacheControl req = x.route.obeyRequestDirectives() ? Rfc9111.requestDirectives(x.headers) : CacheControl.NONE;
        if (req.has("no-store")) return pass(x);
        return new Exchange(cache, x, req).reply();
    }

    private Reply pass(ProxyRequest x) {
        return Reply.passed(upstream.forward(x));
    }

    /**
     * One request on its way through the cache. {@code own} is the answer this request's own upstream
     * call brought, whatever the cache then did with it: a pass-through, a fail-open load and an answer
     * that varies all reach their client from here, never through a type the cache stores.
     */
    private final class Exchange {
        final OnceCache<Cached> cache;
        final ProxyRequest x;
        final CacheControl req;
        volatile Answer own;

        Exchange(OnceCache<Cached> cache, ProxyRequest x, CacheControl req) {
            this.cache = cache;
            this.x = x;
            this.req = req;
        }

        Reply reply() {
            String uriKey = x.uriKey();
            // changed while the store was away: nothing stored is its answer yet
            if (!purgeWhole.isEmpty() && purgeWhole.containsKey(cache)) return duringOutage();
            Unpurged pending = unpurged.isEmpty() ? null : unpurged.get(uriKey);
            if (pending != null && !purgedNow(uriKey, pending)) return duringOutage();
            CacheResult<Cached> epoch =
                    cache.lookup(uriKey, () -> new UriRecord(UUID.randomUUID().toString()));
            if (epoch.source() == CacheResult.Source.BYPASS) return duringOutage();
            UriRecord uri = epoch.value() instanceof UriRecord u
                    ? u
                    : new UriRecord(UUID.randomUUID().toString());
            String key = x.answerKey(uri);
            long now = System.currentTimeMillis();
            if (req.has("only-if-cached") || req.maxStale() >= 0) {
                Optional<StoredResponse> stored = stored(key).filter(s -> acceptable(req, s, now, true));
                if (stored.isPresent()) {
                    boolean fresh = Rfc9111.remainingMillis(stored.get(), now) > 0;
                    return served(stored.get(), fresh ? Outcome.HIT : Outcome.STALE);
                }
                if (req.has("only-if-cached"))
                    return Reply.text(504, "only-if-cached: no stored response satisfies this request");
            }
            try {
                CacheResult<Cached> r = cache.lookup(key, previous -> load(key, true, previous));
                Outcome outcome = Outcome.of(r.source());
                if (outcome == Outcome.BYPASS) return bypassed(passed(r));
                Cached c = r.value();
                String at = key;
                if (c instanceof VaryRecord vary) {
                    at = x.variantKey(key, vary);
                    String variantKey = at;
                    CacheResult<Cached> v = cache.lookup(variantKey, previous -> load(variantKey, false, previous));
                    if (v.source() == CacheResult.Source.BYPASS) return bypassed(passed(v));
                    c = v.value();
                    // the answer is the variant, so its source decides, and a stored one is checked against
                    // this request's Cache-Control below, even when another request loaded the Vary record;
                    // unless this request's own load made both
                    if (outcome != Outcome.MISS) outcome = Outcome.of(v.source());
                }
                if (!(c instanceof StoredResponse s) || !x.selects(s)) {
                    // stored for other request headers than these (RFC 9111 4.1), or the upstream changed its
                    // Vary between two loads: answer without the cache
                    return pass(x);
                }
                if (outcome.fromStore() && !acceptable(req, s, System.currentTimeMillis(), false)) {
                    return revalidateNow(at, at.equals(key), s);
                }
                // this request's own upstream call made it: its client gets it whole (Set-Cookie included)
                if (outcome == Outcome.MISS && own instanceof StoredResponse mine)
                    return new Reply(mine, outcome, true);
                return served(s, outcome);
            } catch (RuntimeException e) {
                // the answer this request fetched, which memory could not hold for the others: its own
                if (own instanceof StreamedResponse s && s.overMemory()) return Reply.passed(s);
                ServeStale stale = find(e);
                if (stale == null) throw e;
                return served(stale.stale, Outcome.STALE);
            }
        }

        /**
         * A stored answer for this client. Keys leave the encoding out, so an answer the upstream gzipped
         * for one client may reach one that does not take gzip: the proxy decodes it (and weakens a strong
         * ETag, which named the encoded bytes). An encoding the proxy never asks for, and cannot decode,
         * goes only to a client that takes it; others are answered without the cache.
         */
        private Reply served(StoredResponse s, Outcome outcome) {
            if (sendableAsIs(s, x)) return new Reply(s, outcome, true);
            String coding = s.header("Content-Encoding");
            if (!HeaderRules.isGzip(coding)) return pass(x);
            try (var in = new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(s.body()))) {
                // bounded: a small gzip can stand for gigabytes; past the cache's own limit, ask upstream
                long limit = config.maxCachedResponseBytes();
                byte[] decoded = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
                if (decoded.length > limit) return pass(x);
                List<String[]> headers = new ArrayList<>(s.headers().size());
                for (String[] h : s.headers()) {
                    if (h[0].equalsIgnoreCase("Content-Encoding")) continue;
                    if (h[0].equalsIgnoreCase("ETag") && !h[1].trim().startsWith("W/"))
                        headers.add(new String[] {h[0], "W/" + h[1].trim()});
                    else headers.add(h);
                }
                return new Reply(s.withHeaders(headers).withBody(decoded), outcome, true);
            } catch (java.io.IOException e) {
                return pass(x); // not gzip after all
            }
        }

        /**
         * A value loaded without the store, as it is: a {@link Bypass}'s answer too large to store is a
         * {@link StreamedResponse}, never a {@link Cached}; read as the cache's type, it failed every such
         * request with a ClassCastException after the upstream was paid, and left its connection open
         * (helper-22). A fail-open load's is a {@link Cached}, a {@link VaryRecord} included.
         */
        private static Object passed(CacheResult<Cached> result) {
            return ((CacheResult<?>) result).value();
        }

        /**
         * Answered without the store: this request's own upstream answer, or, when it joined another
         * request's load in this process during an outage, that load's storable answer when it is one this
         * request selects; anything else is fetched for this request alone.
         */
        private Reply bypassed(Object shared) {
            if (own != null) return Reply.passed(own);
            if (shared instanceof VaryRecord vary && !vary.names().contains("*")) {
                // another request's fail-open load found answers that vary: this variant's requests share one
                return sharedDuringOutage(variantRound(x.answerKey(OUTAGE), vary.names()), false);
            }
            if (shared instanceof StoredResponse s && x.selects(s)) return served(s, Outcome.BYPASS);
            return pass(x);
        }

        /**
         * The store could not give the URI's epoch: the answer is loaded for this request, or shared with
         * the identical request whose load is running in this process ({@link HttpMode#outageLoads}), and
         * stored nowhere. A shared answer reaches only requests it may reach, as a fail-open load's does:
         * a storable answer the request selects; anything else is fetched for the request alone.
         */
        private Reply duringOutage() {
            if (req.has("only-if-cached"))
                return Reply.text(504, "only-if-cached: the cache's store cannot be reached");
            return sharedDuringOutage(x.answerKey(OUTAGE), true);
        }

        /**
         * One load per {@code key} at a time in this process, its answer shared with the requests it may
         * reach. When it varies and this request's variant is another, a second round keyed by the
         * variant ({@code first} false) shares one call among that variant's requests: each paid its own
         * before (helper-52: 40 requests in 2 languages, 21 calls).
         */
        private Reply sharedDuringOutage(String key, boolean first) {
            var mine = new java.util.concurrent.CompletableFuture<Cached>();
            var running = outageLoads.putIfAbsent(key, mine);
            if (running == null) {
                Cached loaded;
                try {
                    loaded = load(key, false, null); // not as the answer key: a Vary'd answer is stored nowhere
                } catch (Bypass pass) {
                    loaded = null; // its caller's alone
                } catch (RuntimeException | Error e) {
                    outageLoads.remove(key, mine);
                    mine.completeExceptionally(e);
                    if (own instanceof StreamedResponse s && s.overMemory()) return Reply.passed(s);
                    throw e;
                }
                outageLoads.remove(key, mine); // before completing: a later request loads anew
                mine.complete(loaded);
                return Reply.passed(own);
            }
            Cached shared;
            try {
                shared = running.join();
            } catch (java.util.concurrent.CompletionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r; // the upstream's failure, as in api mode
                throw e;
            }
            if (first && shared instanceof StoredResponse s && !x.selects(s)) {
                List<String> names = Rfc9111.varyNames(s);
                if (!names.isEmpty() && !names.contains("*"))
                    return sharedDuringOutage(variantRound(key, names), false);
            }
            return bypassed(shared);
        }

        /** The key of a variant's round during an outage: never stored, as the first round's is not. */
        private String variantRound(String key, List<String> names) {
            return key + "\noutage variant " + x.variant(names);
        }

        /** What is stored for the request, fresh or not, without loading. */
        private Optional<StoredResponse> stored(String key) {
            Optional<Cached> c = cache.peek(key).map(CacheResult::value);
            if (c.isPresent() && c.get() instanceof VaryRecord vary) {
                c = cache.peek(x.variantKey(key, vary)).map(CacheResult::value);
            }
            return c.filter(StoredResponse.class::isInstance)
                    .map(StoredResponse.class::cast)
                    .filter(x::selects);
        }

        /**
         * The client wants fresher than stored (no-cache, max-age, min-fresh): validate now and store the
         * result. Purge-then-load: a concurrent request may load the key once more in between.
         */
        private Reply revalidateNow(String key, boolean isAnswerKey, StoredResponse stored) {
            Cached revalidated;
            try {
                revalidated = load(key, isAnswerKey, stored);
            } catch (Bypass b) {
                return Reply.passed(own);
            }
            cache.purge(key);
            cache.lookup(key, previous -> revalidated);
            return new Reply(own, Outcome.MISS, true);
        }

        /** The cache's load of a key: a GET, conditional when there is a previous response; decides storage. */
        Cached load(String key, boolean isAnswerKey, Cached previous) {
            StoredResponse validated = previous instanceof StoredResponse p ? p : null;
            long requestTime = System.currentTimeMillis();
            if ((x.method.equals("HEAD") || x.headers.contains(org.eclipse.jetty.http.HttpHeader.RANGE))
                    && tooLarge.getIfPresent(key) != null) {
                own = upstream.forward(x); // as it came: a whole GET would not be stored either
                throw new Bypass(own, config.passThroughMemory());
            }
            Answer answer;
            try {
                // a HEAD is fetched as GET, so the stored answer serves both (nginx does the same)
                answer = upstream.forward(x, "GET", NO_BODY, h -> {
                    for (String c : HeaderRules.CONDITIONAL) h.remove(c); // the cache validates its own copy
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
            own = answer;
            if (answer instanceof StreamedResponse s && s.overMemory()) throw s.forOthers();
            if (answer instanceof StreamedResponse) tooLarge.put(key, Boolean.TRUE);
            if (!(answer instanceof StoredResponse whole) || !OnceProxy.fits(cache, whole))
                throw new Bypass(answer, config.passThroughMemory());
            StoredResponse fetched =
                    whole.timed(requestTime, System.currentTimeMillis()).askedWith(x.encodingAsked());
            own = fetched;
            if (fetched.status() == 304 && validated != null && !sameStrongValidator(validated, fetched)) {
                // RFC 9111 4.3.4: a 304 naming another strong validator updates nothing: fetch it whole
                return load(key, isAnswerKey, null);
            }
            if (fetched.status() == 304 && validated != null) {
                StoredResponse freshened = validated
                        .withHeaders(Rfc9111.freshenedHeaders(validated, fetched))
                        .timed(fetched.requestTime(), fetched.responseTime());
                if (!Rfc9111.varyNames(freshened).equals(Rfc9111.varyNames(validated))) {
                    // the 304 changes what the answer varies on: the stored one was not selected that way
                    return load(key, isAnswerKey, null);
                }
                own = freshened;
                if (Rfc9111.notStorable(x.forwarded, freshened, false) == null) return freshened.shareable();
                throw new Bypass(freshened, Duration.ZERO);
            }
            if (Rfc9111.ERRORS.contains(fetched.status()) && staleIfError(validated)) {
                throw new ServeStale(validated, "the upstream answered " + fetched.status());
            }
            if (Rfc9111.notStorable(x.forwarded, fetched, false) != null) {
                // the callers waiting for this load share it; the key passes through for the pass-through
                // memory only when the answer says so of the resource (no-store, private, a cookie...): an
                // error (5xx, 429) says nothing of the next answer, and remembered, it kept the key's identical
                // requests apart for 10 s, each paying a call (helper-47)
                boolean error = fetched.status() >= 500 || fetched.status() == 429;
                throw new Bypass(fetched, error ? Duration.ZERO : config.passThroughMemory());
            }
            List<String> names = Rfc9111.varyNames(fetched);
            if (names.isEmpty()) return fetched.shareable();
            StoredResponse variant = fetched.withVariant(x.variant(names));
            own = variant;
            if (!isAnswerKey) return variant.shareable();
            VaryRecord vary = new VaryRecord(names);
            // stored before the record, so waiters find it
            cache.lookup(x.variantKey(key, vary), p -> variant.shareable());
            return vary;
        }

        /** True unless the 304 carries a strong ETag that differs from the stored answer's. */
        private static boolean sameStrongValidator(StoredResponse stored, StoredResponse notModified) {
            String tag = notModified.header("ETag");
            if (tag == null || tag.trim().startsWith("W/")) return true;
            String mine = stored.header("ETag");
            return mine != null && mine.trim().equals(tag.trim());
        }

        private boolean staleIfError(StoredResponse stale) {
            if (stale == null) return false;
            long staleness = -Rfc9111.remainingMillis(stale, System.currentTimeMillis());
            long allowed = Rfc9111.staleIfErrorMillis(stale, req);
            return allowed > 0 && staleness <= allowed;
        }
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
     * RFC 9111 4.4: a non-error answer to an unsafe method (or one whose safety is unknown), or none at
     * all ({@code r} null), invalidates its URI and a same-origin Location / Content-Location
     * ({@link #locationTargets}), for every credential and variant (their
     * keys all hold the URI's epoch), in the cache of the route that serves each: a Location on another
     * route was purged in the request's own, where nothing held it (helper-53). A URI that no http-mode
     * route serves is not this shared cache's to invalidate (api mode keeps answers for their TTL). A
     * purge that cannot reach the store is logged and counted: the upstream's answer to a possibly
     * non-idempotent request still reaches the client.
     */
    private void invalidate(OnceCache<Cached> cache, ProxyRequest x, Answer r) {
        record Target(String pathQuery, OnceCache<Cached> cache) {}
        List<Target> targets = new ArrayList<>();
        targets.add(new Target(x.pathQuery(), cache));
        for (String name : List.of("Location", "Content-Location")) {
            String v = r == null ? null : header(r, name);
            if (v == null) continue;
            for (String pathQuery : locationTargets(v, x)) {
                int q = pathQuery.indexOf('?');
                Route route = config.route(q < 0 ? pathQuery : pathQuery.substring(0, q));
                OnceCache<Cached> its = route == null || !route.http() ? null : caches.apply(route);
                if (its != null) targets.add(new Target(pathQuery, its));
            }
        }
        for (Target target : targets) {
            String uriKey = x.uriKey(target.pathQuery());
            // a request after this one must not join a load of the URI that began before it (helper-53)
            String outagePrefix = uriKey + "\nepoch " + OUTAGE.epoch();
            outageLoads.keySet().removeIf(k -> k.startsWith(outagePrefix));
            try {
                target.cache().purge(uriKey);
            } catch (RuntimeException e) {
                invalidationFailures.increment();
                retryLater(target.cache(), uriKey);
                // at most one warning a second: a flood of unsafe requests during an outage wrote 30 KB a
                // request, and the key in the failure's message held a query credential's plain digest
                if (invalidationWarning.pass())
                    log.warn(
                            "could not invalidate {} after {} ({}); retried until the store takes it, and answered"
                                    + " without the cache here meanwhile (more such failures this second are not"
                                    + " logged; once_proxy_invalidation_failures_total counts them)",
                            ProxyRequest.loggedTarget(shortened(target.pathQuery())),
                            x.method,
                            Errors.withCause(e));
            }
        }
    }

    private final WarningGate invalidationWarning = WarningGate.perSecond();

    private static String shortened(String target) {
        return target.length() <= 200 ? target : target.substring(0, 200) + "...";
    }

    /**
     * The URIs, in the proxy's own paths (with their queries), that a Location or Content-Location
     * value names on this origin; none for another origin or what is not a URI. The value may name the
     * URI as the client sees it (the client's Host, default ports taken as such) or as the upstream sees
     * it: the proxy forwards the upstream's Host, so an upstream that builds absolute URLs from it names
     * itself, and under the upstream URL's base path (helper-55: an absolute Location naming the
     * upstream, a client's own Host, {@code :80} against none, and {@code ../} above the root all
     * invalidated nothing). Both readings are purged where they differ: a purge too many costs a fetch,
     * one too few serves an answer from before a change.
     */
    private List<String> locationTargets(String value, ProxyRequest x) {
        List<String> out = new ArrayList<>(2);
        URI u;
        try {
            u = URI.create(encodedAsABrowserWould(value.trim()));
        } catch (IllegalArgumentException bad) {
            return out; // not a URI: nothing to invalidate
        }
        if (u.getRawPath() == null || u.getRawPath().isEmpty()) return out;
        boolean asTheClientSeesIt = u.getHost() == null || sameAuthority(u, x.headers.get("Host"));
        String basePath = upstream.basePath();
        boolean asTheUpstreamSeesIt = u.getHost() == null ? !basePath.isEmpty() : sameAuthority(u, config.upstream());
        if (asTheClientSeesIt) add(out, resolved(x.path, u.getRawPath()), u.getRawQuery());
        if (asTheUpstreamSeesIt) {
            String p = resolved(basePath + x.path, u.getRawPath()); // a resolved path starts with "/"
            if (p != null && p.startsWith(basePath + "/")) add(out, p.substring(basePath.length()), u.getRawQuery());
        }
        return out;
    }

    /**
     * A Location as a browser reads it (the WHATWG URL parser): what may not stand in a URI (a space, a
     * control, a non-ASCII character, {@code "<>\^`{|}}) percent-encoded, the rest as it is (helper-55:
     * raw UTF-8 or a raw space in a Location invalidated nothing). A header's value reaches the proxy a
     * character per byte, so a character up to 0xFF is the byte the upstream sent; one above (no such
     * byte) is encoded as its UTF-8.
     */
    static String encodedAsABrowserWould(String value) {
        StringBuilder b = null;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean allowed = c > 0x20 && c < 0x7F && "\"<>\\^`{|}".indexOf(c) < 0;
            if (b == null) {
                if (allowed) continue;
                b = new StringBuilder(value.length() + 16).append(value, 0, i);
            }
            if (allowed) {
                b.append(c);
            } else if (c <= 0xFF) {
                ProxyRequest.percent(b, c);
            } else {
                i = ProxyRequest.percentUtf8(b, value, i);
            }
        }
        return b == null ? value : b.toString();
    }

    private static void add(List<String> out, String path, String query) {
        if (path == null) return;
        String target = query == null ? path : path + "?" + query;
        if (!out.contains(target)) out.add(target);
    }

    /** {@code ref} resolved against the path {@code base}, dot segments removed (RFC 3986 5.2.4: none above the root); null when it will not do. */
    private static String resolved(String base, String ref) {
        try {
            String p = URI.create(base).resolve(ref).getRawPath();
            if (p == null) return null;
            while (p.startsWith("/../")) p = p.substring(3);
            if (p.equals("/..")) p = "/";
            return ProxyRequest.normalisePath(p);
        } catch (IllegalArgumentException bad) {
            return null;
        }
    }

    /**
     * Purges a URI whose invalidation is pending; true when the store took it. One purge at a time per
     * pending invalidation: requests that find one under way answer without the cache (false), instead of
     * each sending its own (a hot URI at recovery sent one per request).
     */
    private boolean purgedNow(String uriKey, Unpurged pending) {
        if (!pending.purging.compareAndSet(false, true)) return false;
        try {
            pending.cache.purge(uriKey);
        } catch (RuntimeException stillAway) {
            return false;
        } finally {
            pending.purging.set(false);
        }
        forget(uriKey, pending);
        return true;
    }

    /** Drops a pending invalidation that was written (or covered by a whole purge), unless a newer one replaced it. */
    private void forget(String uriKey, Unpurged pending) {
        if (unpurged.remove(uriKey, pending)) unpurgedChars.addAndGet(-uriKey.length());
    }

    private void retryLater(OnceCache<Cached> cache, String uriKey) {
        if (stopped) return;
        if (unpurged.size() >= maxUnpurged || unpurgedChars.get() + uriKey.length() > maxUnpurgedChars) {
            // a new token each time: a whole purge already under way may have deleted before this change
            if (purgeWhole.put(cache, new Object()) == null)
                log.warn(
                        "more invalidations wait for the store than are kept ({} URIs, {} characters): the"
                                + " route's whole cache is purged once the store answers, and answered without the"
                                + " cache until then",
                        maxUnpurged,
                        maxUnpurgedChars);
        } else if (unpurged.put(uriKey, new Unpurged(cache)) == null) {
            unpurgedChars.addAndGet(uriKey.length());
        }
        startRetrying();
    }

    /**
     * Purges a cache whose invalidations overflowed, whole; then the pending invalidations made before
     * the purge began are done, and so is the whole purge unless another overflow asked for one since.
     * True when the store took it.
     */
    private boolean purgedWhole(OnceCache<Cached> cache) {
        Object asked = purgeWhole.get(cache);
        java.util.Map<String, Unpurged> before = new java.util.HashMap<>();
        unpurged.forEach((k, v) -> {
            if (v.cache == cache) before.put(k, v);
        });
        try {
            cache.purgeAll();
        } catch (RuntimeException stillAway) {
            return false;
        }
        purgeWhole.remove(cache, asked);
        before.forEach(this::forget);
        return true;
    }

    /**
     * One pass over the pending invalidations, whole purges first, each tried only where its store
     * answers (else not yet, and cheaply), until {@code deadlineNanos} ({@link System#nanoTime()}).
     */
    private void tryPending(long deadlineNanos) {
        for (OnceCache<Cached> cache : purgeWhole.keySet()) {
            if (System.nanoTime() - deadlineNanos >= 0) return;
            if (cache.storeAvailable() && purgedWhole(cache))
                log.warn("a route's cache was purged whole: more invalidations had waited for the store than are kept");
        }
        for (var pending : unpurged.entrySet()) {
            if (System.nanoTime() - deadlineNanos >= 0) return;
            if (pending.getValue().cache.storeAvailable()) purgedNow(pending.getKey(), pending.getValue());
        }
    }

    /** Starts the runner of {@link #retry} unless one runs. */
    private void startRetrying() {
        if (retrying.compareAndSet(false, true))
            Thread.ofVirtual().name("once-invalidation-retry").start(this::retry);
    }

    /** Retries the pending invalidations until none is left or the proxy stops. */
    private void retry() {
        try {
            while ((!unpurged.isEmpty() || !purgeWhole.isEmpty()) && !stopped) {
                awaitTurn();
                int before = unpurged.size();
                tryPending(System.nanoTime() + Long.MAX_VALUE / 2); // no deadline
                if (unpurged.size() < before)
                    log.warn(
                            "invalidations that waited for the store: {} written, {} still waiting",
                            before - unpurged.size(),
                            unpurged.size());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            retrying.set(false);
            // one added between the loop's last look and now: retried by a new runner
            if ((!unpurged.isEmpty() || !purgeWhole.isEmpty()) && !stopped) startRetrying();
        }
    }

    /** How often the retrier looks whether a store that did not answer answers again (a volatile read each). */
    private static final long WATCH_MILLIS = 20;

    /**
     * Waits {@link #PURGE_RETRY}, or less: until a route's store that did not answer answers again. The
     * pending invalidations then go at once: helper-58 saw another replica serve the old answer for
     * 0.55 s after the database was back, this replica's retry coming up to 0.5 s after its own store did.
     */
    private void awaitTurn() throws InterruptedException {
        List<OnceCache<Cached>> away = new ArrayList<>();
        for (Route route : config.routes()) {
            OnceCache<Cached> c = route.http() ? caches.apply(route) : null;
            if (c != null && !c.storeAvailable()) away.add(c);
        }
        long until = System.nanoTime() + PURGE_RETRY.toNanos();
        while (System.nanoTime() - until < 0) {
            Thread.sleep(WATCH_MILLIS);
            for (OnceCache<Cached> c : away) if (c.storeAvailable()) return;
        }
    }

    /** How long a stopping proxy tries its pending invalidations once more. */
    static final Duration LAST_TRY = Duration.ofSeconds(1);

    /**
     * The proxy stops: pending invalidations are tried once more where the store answers (for at most
     * {@link #LAST_TRY}: they were dropped at once, and other replicas kept serving the old answers:
     * helper-55), then let go, said once with how many.
     */
    void stop() {
        tryPending(System.nanoTime() + LAST_TRY.toNanos());
        stopped = true;
        if (!unpurged.isEmpty() || !purgeWhole.isEmpty())
            log.warn(
                    "{} invalidations{} could not reach the store before the proxy stopped; their URIs' stored"
                            + " answers stay until they expire, unless purged (POST /-/purge on a replica whose"
                            + " store answers): {}",
                    unpurged.size(),
                    purgeWhole.isEmpty() ? "" : " and " + purgeWhole.size() + " whole purges of a route's cache",
                    lostUris());
        unpurged.clear();
        unpurgedChars.set(0);
        purgeWhole.clear();
    }

    /** How many of the invalidations a stopping proxy lets go its warning names. */
    static final int LOST_URIS_NAMED = 10;

    /**
     * The URIs whose invalidations a stopping proxy lets go, as logged elsewhere (credential values
     * masked), the first {@link #LOST_URIS_NAMED}: the count alone told an operator nothing to act on.
     */
    private String lostUris() {
        List<String> uris = new ArrayList<>();
        for (String uriKey : unpurged.keySet()) {
            if (uris.size() == LOST_URIS_NAMED) {
                uris.add("...");
                break;
            }
            uris.add(ProxyRequest.loggedTarget(shortened(ProxyRequest.targetOf(uriKey))));
        }
        return uris.isEmpty() ? "no URI (whole purges only)" : String.join(" ", uris);
    }

    private static String header(Answer a, String name) {
        for (String[] h : a.headers()) if (h[0].equalsIgnoreCase(name)) return h[1];
        return null;
    }

    /** Whether {@code u} names the authority of a Host header: a port left out is the scheme's default on either side. */
    private static boolean sameAuthority(URI u, String host) {
        if (host == null || u.getHost() == null) return false;
        String h = host.trim();
        int port = -1;
        int colon = h.lastIndexOf(':');
        if (colon > h.lastIndexOf(']')) {
            try {
                port = Integer.parseInt(h.substring(colon + 1));
            } catch (NumberFormatException e) {
                return false;
            }
            h = h.substring(0, colon);
        }
        return h.equalsIgnoreCase(u.getHost()) && (port < 0 || port == portOf(u));
    }

    /** Whether {@code u} names the upstream's scheme-less authority (host and port, defaults applied). */
    private static boolean sameAuthority(URI u, URI upstream) {
        return u.getHost() != null && u.getHost().equalsIgnoreCase(upstream.getHost()) && portOf(u) == portOf(upstream);
    }

    private static int portOf(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    private static ServeStale find(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof ServeStale s) return s;
        return null;
    }
}
