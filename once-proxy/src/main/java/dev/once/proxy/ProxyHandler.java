package dev.once.proxy;

import dev.once.cache.CacheLoadException;
import dev.once.cache.OnceCache;
import dev.once.cache.internal.WarningGate;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's request path, top to bottom: refuse what would make it an open proxy (CONNECT, TRACE,
 * absolute-form targets) and answer {@code OPTIONS *} itself; serve the admin endpoints under {@code
 * /-/}; build the {@link ProxyRequest} once (normalised path, forwarded headers, keys); let the route's
 * mode ({@link ApiMode}, {@link HttpMode}) or a plain forward produce a {@link Reply}; write it. Every
 * answer says what happened in {@code X-Once-Cache} ({@link Outcome}).
 */
final class ProxyHandler extends Handler.Abstract.NonBlocking {
    static final String X_ONCE_CACHE = "X-Once-Cache";
    private static final Logger access = LoggerFactory.getLogger("dev.once.proxy.access");
    private static final Logger log = LoggerFactory.getLogger(ProxyHandler.class);

    private final ProxyConfig config;
    private final Upstream upstream;
    private final Map<Route, OnceCache<Cached>> caches;
    private final PrometheusMeterRegistry registry;
    private final BooleanSupplier databaseUp;
    private final ApiMode apiMode;
    /** The upstream as keys name it, computed once ({@link ProxyConfig#origin}). */
    private final String origin;
    /** Each route's key policy, computed once ({@link ProxyConfig#keyPolicy}); none for unrouted paths. */
    private final Map<Route, String> policies = new java.util.IdentityHashMap<>();
    /** How credentials appear in keys: by the config's key secret, made once. */
    private final CredentialDigest digest;

    private final HttpMode httpMode;
    /**
     * Where a request that was not answered from memory spends its time, {@code once.proxy.phase} by
     * phase: {@code intake} (proxied requests), from the start of its parsing to the handler's start
     * (Jetty parses and calls the handler in one go, so this is parsing, and the wait for the rest of a
     * split header; not the time its bytes waited in the kernel or for a thread to read them); {@code
     * dispatch}, from the handler's start to
     * its virtual thread running; {@code reply}, the cache or the upstream producing the answer; {@code
     * write}, handing it to the connection.
     */
    private final Timer intakePhase;

    private final Timer dispatchPhase;

    private final Timer replyPhase;
    private final Timer writePhase;
    /** Where requests that may block continue: a virtual thread each. */
    private final java.util.concurrent.Executor executor;
    /** The replica's budget for answers in flight, here for those being written. */
    private final AnswerMemory memory;

    ProxyHandler(
            ProxyConfig config,
            Upstream upstream,
            Map<Route, OnceCache<Cached>> caches,
            PrometheusMeterRegistry registry,
            BooleanSupplier databaseUp,
            java.util.concurrent.Executor executor,
            AnswerMemory memory) {
        this.executor = executor;
        this.memory = memory;
        this.intakePhase = phase(registry, "intake");
        this.dispatchPhase = phase(registry, "dispatch");
        this.replyPhase = phase(registry, "reply");
        this.writePhase = phase(registry, "write");
        this.config = config;
        this.upstream = upstream;
        this.caches = caches;
        this.registry = registry;
        this.databaseUp = databaseUp;
        this.origin = config.origin();
        this.digest = new CredentialDigest(config.keySecret());
        this.apiMode = new ApiMode(config, upstream);
        for (Route r : caches.keySet()) policies.put(r, config.keyPolicy(r));
        this.httpMode = new HttpMode(config, upstream, registry, caches::get);
    }

    @Override
    protected void doStop() throws Exception {
        httpMode.stop();
        super.doStop();
    }

    /**
     * Runs on the connection's I/O thread ({@link InvocationType#NON_BLOCKING}): what can be answered
     * without blocking (refusals, an answer held in the near cache) is written here; everything that may
     * block (a body to read, the database, the upstream, the health probe) continues on a virtual thread.
     * A near-cache hit thus costs no thread hand-off and no selector wake-up.
     */
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        long start = System.nanoTime();
        String method = request.getMethod();
        HttpURI uri = request.getHttpURI();
        String status;
        if (method.equals("CONNECT")) {
            status = text(response, callback, 405, "CONNECT is refused: this is a reverse proxy, not an open proxy");
        } else if (!method.equals(method.toUpperCase(java.util.Locale.ROOT))) {
            // methods are case-sensitive (RFC 9110 9.1) and the upstream client would upper-case it
            status =
                    text(response, callback, 501, "method " + method + " is not supported: methods are case-sensitive");
        } else if (method.equals("TRACE")) {
            status = text(response, callback, 405, "TRACE is refused: it would echo other hops' headers");
        } else if (OriginFormOnly.REFUSED_PATH.equals(uri.getPath())) {
            status =
                    text(response, callback, 400, "absolute-form request targets are refused: this is a reverse proxy");
        } else if (OriginFormOnly.ASTERISK_PATH.equals(uri.getPath())) {
            status = method.equals("OPTIONS")
                    ? write(request, response, callback, Reply.passed(new StoredResponse(200, List.of(), new byte[0])))
                    : text(response, callback, 400, "an asterisk-form target is for OPTIONS only");
        } else {
            String path = ProxyRequest.normalisePath(uri.getPath()); // routed, keyed and forwarded alike
            if (path == null) {
                status = text(response, callback, 400, "bad request path: it cannot be normalised");
            } else if (path.startsWith("/-/")) {
                blocking(request, start, callback, () -> admin(request, response, callback, path));
                return true;
            } else if (authorized(request)) {
                // a scraper left on Prometheus's default /metrics sent the admin token to the upstream, and
                // the answer was stored (helper-78): the proxy's own secret never goes there
                status = text(
                        response,
                        callback,
                        400,
                        "this request carries the proxy's admin token, which is never sent upstream; the admin"
                                + " endpoints are GET /-/health, GET /-/metrics and POST /-/purge");
            } else {
                proxy(request, response, callback, start, method, path, uri.getQuery());
                return true;
            }
        }
        log(request, start, status);
        return true;
    }

    /** Continues the request on a virtual thread; whatever it throws fails the request (Jetty answers 500). */
    private void blocking(Request request, long start, Callback callback, java.util.concurrent.Callable<String> work) {
        try {
            executor.execute(() -> {
                dispatchPhase.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                try {
                    log(request, start, work.call());
                } catch (Throwable t) {
                    callback.failed(t);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            callback.failed(stopping);
        }
    }

    private void log(Request request, long start, String status) {
        if (!config.accessLog()) return;
        access.info(
                "{} {} {} {} {}ms",
                Request.getRemoteAddr(request),
                request.getMethod(),
                ProxyRequest.loggedTarget(request.getHttpURI().getPathQuery()),
                status,
                (System.nanoTime() - start) / 1_000_000);
    }

    private void proxy(
            Request request,
            Response response,
            Callback callback,
            long start,
            String method,
            String path,
            String query) {
        long begin = request.getBeginNanoTime(); // set as parsing starts, per request
        if (begin != 0 && start - begin >= 0) intakePhase.record(start - begin, TimeUnit.NANOSECONDS);
        HttpFields h = request.getHeaders();
        if (h.contains(HttpHeader.TRANSFER_ENCODING) || parseLong(h.get(HttpHeader.CONTENT_LENGTH)) > 0) {
            blocking(request, start, callback, () -> {
                String lengthHeader = h.get(HttpHeader.CONTENT_LENGTH);
                long[] held = {0}; // the answer memory this body holds, given back when the request is answered
                try {
                    byte[] body = lengthHeader != null && parseLong(lengthHeader) > config.maxRequestBodyBytes()
                            ? null
                            : readBody(request, held);
                    if (body == REFUSED) return overMemory(response, callback);
                    if (body == null) {
                        return text(
                                response,
                                callback,
                                413,
                                "request body over " + config.maxRequestBodyBytes() + " bytes");
                    }
                    return proxy(request, response, callback, method, path, query, body);
                } finally {
                    memory.give(held[0]);
                }
            });
            return;
        }
        // HTTP/1.1 framing: no length and no chunking is no body. Reading anyway costs a read-interest round
        // through the selector per request (the largest item of a hit's profile once).
        Route route = config.route(path);
        ProxyRequest x = request(request, route, method, path, query, EMPTY);
        OnceCache<Cached> cache = x == null || route == null ? null : caches.get(route);
        Reply held = cache == null ? null : route.http() ? HttpMode.fromMemory(cache, x) : ApiMode.fromMemory(cache, x);
        if (held != null) {
            log(request, start, write(request, response, callback, held));
        } else {
            blocking(request, start, callback, () -> answer(request, response, callback, x));
        }
    }

    private String proxy(
            Request request,
            Response response,
            Callback callback,
            String method,
            String path,
            String query,
            byte[] body) {
        return answer(request, response, callback, request(request, config.route(path), method, path, query, body));
    }

    private String answer(Request request, Response response, Callback callback, ProxyRequest x) {
        if (x == null) return text(response, callback, 400, "bad request target: bytes that are not UTF-8");
        long asked = System.nanoTime();
        Reply reply = reply(x);
        long answered = System.nanoTime();
        replyPhase.record(answered - asked, TimeUnit.NANOSECONDS);
        // what the upstream reads took stays counted until the answer itself is (ProxyRequest.held)
        Runnable handedOn = () -> memory.give(x.held.getAndSet(0));
        try {
            String status = write(request, response, callback, reply, handedOn);
            writePhase.record(System.nanoTime() - answered, TimeUnit.NANOSECONDS);
            return status;
        } finally {
            handedOn.run();
        }
    }

    private ProxyRequest request(Request request, Route route, String method, String path, String query, byte[] body) {
        return ProxyRequest.of(
                config,
                route,
                origin,
                policies.get(route),
                digest,
                method,
                path,
                query,
                request.getHeaders(),
                body,
                Request.getRemoteAddr(request),
                request.isSecure() ? "https" : "http");
    }

    /** The answer to a proxied request: through its route's mode, or forwarded as it is. */
    private Reply reply(ProxyRequest x) {
        OnceCache<Cached> cache = x.route == null ? null : caches.get(x.route);
        try {
            if (cache == null) return Reply.passed(upstream.forward(x));
            return x.route.http() ? httpMode.handle(cache, x) : apiMode.handle(cache, x);
        } catch (UpstreamFailure e) {
            return failure(e);
        } catch (CacheLoadException e) {
            UpstreamFailure cause = find(e);
            if (cause == null) cause = UpstreamFailure.fromElsewhere(e.getMessage());
            if (cause != null) return failure(cause);
            // not the upstream's failure (that is found above): the loader may never have run, as when the
            // store refuses a statement (a role without rights on the table), so the upstream is not blamed.
            // Said on /-/health for a while, and logged once a second at most: a table with the wrong columns
            // made every request fail and logged 460 lines a second, while the health said "caching"
            // (helper-59)
            lastStoreFailure = System.nanoTime();
            if (storeWarning.pass())
                log.warn(
                        "no answer for {} {}: {} (more such failures this second are not logged; /-/health says"
                                + " \"cache\":\"failing\" for {} s after the last)",
                        x.method,
                        ProxyRequest.loggedTarget(x.path),
                        CredentialDigest.masked(e.getMessage()),
                        STORE_FAILING.toSeconds());
            return Reply.text(502, "no answer: the cache's store or the upstream failed; see the proxy's log");
        }
    }

    /** How long /-/health says "failing" after a request the cache's store failed (not an outage). */
    static final java.time.Duration STORE_FAILING = java.time.Duration.ofSeconds(10);

    private final WarningGate storeWarning = WarningGate.perSecond();
    private volatile long lastStoreFailure = System.nanoTime() - STORE_FAILING.toNanos() - 1;

    private static Reply failure(UpstreamFailure e) {
        Reply r = Reply.text(e.status, e.getMessage());
        if (e.status != 503) return r;
        StoredResponse s = (StoredResponse) r.answer();
        List<String[]> headers = new java.util.ArrayList<>(s.headers());
        headers.add(new String[] {"Retry-After", "1"});
        return Reply.passed(s.withHeaders(headers));
    }

    private String write(Request request, Response response, Callback callback, Reply reply) {
        return write(request, response, callback, reply, AnswerMemory.NOTHING);
    }

    /** {@code counted} runs once a streamed answer's prefix is counted as being written. */
    private String write(Request request, Response response, Callback callback, Reply reply, Runnable counted) {
        return switch (reply.answer()) {
            case StreamedResponse streamed ->
                writeStreamed(request, response, callback, streamed, reply.outcome(), counted);
            case StoredResponse stored ->
                reply.cached()
                        ? writeCached(request, response, callback, stored, reply.outcome())
                        : write(request, response, callback, stored, reply.outcome());
        };
    }

    /** Fields a 304 carries (RFC 9110 15.4.5), besides Age and X-Once-Cache. */
    private static final java.util.Set<String> NOT_MODIFIED_FIELDS =
            java.util.Set.of("cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified");

    /**
     * http mode: a response that went through the cache gets its Age (RFC 9111 5.1) unless the upstream
     * made it for this very request, and a client's matching conditional request gets 304.
     */
    private String writeCached(
            Request request, Response response, Callback callback, StoredResponse r, Outcome outcome) {
        // the stored Age replaced by the answer's current age, unless the upstream made it for this request
        String age = outcome == Outcome.MISS
                ? null
                : Long.toString(Rfc9111.currentAgeMillis(r, System.currentTimeMillis()) / 1000);
        boolean notModified = r.status() == 200 && Rfc9111.notModified(request.getHeaders(), r);
        long[] range =
                !notModified && request.getMethod().equals("GET") ? Rfc9111.byteRange(request.getHeaders(), r) : null;
        if (notModified) {
            List<String[]> kept = new java.util.ArrayList<>();
            for (String[] h : r.headers()) {
                String name = h[0].toLowerCase(Locale.ROOT);
                if (NOT_MODIFIED_FIELDS.contains(name) || name.equals("age")) kept.add(h);
            }
            // RFC 9110 8.6: a 304 may state only the length of the answer it stands for (Jetty would say 0)
            start(response, 304, kept, outcome, age).put(HttpHeader.CONTENT_LENGTH, r.body().length);
            callback.succeeded();
            return "304 " + outcome;
        }
        return range == null
                ? write(request, response, callback, r, outcome, age)
                : writeRange(response, callback, r, range, outcome, age);
    }

    /**
     * RFC 9110 15.3.7 / 15.5.17: one range of a stored complete answer, or 416 when none can be had; its
     * {@code Age} replaced by {@code age} unless that is null.
     */
    private String writeRange(
            Response response, Callback callback, StoredResponse r, long[] range, Outcome outcome, String age) {
        long length = r.body().length;
        if (range[0] < 0) {
            HttpFields.Mutable h = start(response, 416, r.headers(), outcome, age);
            h.put(HttpHeader.CONTENT_RANGE, "bytes */" + length);
            h.put(HttpHeader.CONTENT_LENGTH, 0);
            callback.succeeded();
            return "416 " + outcome;
        }
        int from = (int) range[0];
        int count = (int) (range[1] - range[0] + 1);
        Runnable release = memory.writing(r.body(), fresh(outcome));
        if (release == null) return overMemory(response, callback);
        callback = releasing(callback, release);
        HttpFields.Mutable h = start(response, 206, r.headers(), outcome, age);
        h.put(HttpHeader.CONTENT_RANGE, "bytes " + range[0] + "-" + range[1] + "/" + length);
        h.put(HttpHeader.CONTENT_LENGTH, count);
        response.write(true, ByteBuffer.wrap(r.body(), from, count), callback);
        return "206 " + outcome;
    }

    /** Status, the answer's headers, X-Once-Cache and the response counter: the start of every answer. */
    private HttpFields.Mutable start(Response response, int status, List<String[]> headers, Outcome outcome) {
        return start(response, status, headers, outcome, null);
    }

    /**
     * The same, with the answer's {@code Age} replaced by {@code age} unless that is null. A stored
     * answer's fields are encoded once ({@link EncodedHeaders}), not per hit.
     */
    private HttpFields.Mutable start(
            Response response, int status, List<String[]> headers, Outcome outcome, String age) {
        response.setStatus(status);
        HttpFields.Mutable h = response.getHeaders();
        if (headers instanceof EncodedHeaders stored) {
            for (HttpField f : stored.fields()) if (age == null || !f.is("Age")) h.add(f);
        } else {
            for (String[] header : headers)
                if (age == null || !header[0].equalsIgnoreCase("Age")) h.add(header[0], header[1]);
        }
        if (age != null) h.add(HttpHeader.AGE, age);
        h.put(outcome.field);
        counter(outcome, status).increment();
        return h;
    }

    /** A whole answer; a HEAD gets the length its GET would have, and no body. */
    private String write(Request request, Response response, Callback callback, StoredResponse r, Outcome outcome) {
        return write(request, response, callback, r, outcome, null);
    }

    /** The same, with the answer's {@code Age} replaced by {@code age} unless that is null. */
    private String write(
            Request request, Response response, Callback callback, StoredResponse r, Outcome outcome, String age) {
        boolean head = request != null && request.getMethod().equals("HEAD");
        if (!head) {
            Runnable release = memory.writing(r.body(), fresh(outcome));
            if (release == null) return overMemory(response, callback);
            callback = releasing(callback, release);
        }
        HttpFields.Mutable h = start(response, r.status(), r.headers(), outcome, age);
        // an upstream HEAD's or 304's answer states its own length; Jetty would otherwise write 0 for a 304
        boolean lengthGiven = (head || r.status() == 304) && h.contains(HttpHeader.CONTENT_LENGTH);
        if (r.status() != 204 && r.status() != 304 && r.status() >= 200 && !lengthGiven)
            h.put(HttpHeader.CONTENT_LENGTH, r.body().length);
        response.write(true, head ? ByteBuffer.allocate(0) : ByteBuffer.wrap(r.body()), callback);
        return r.status() + " " + outcome;
    }

    private String writeStreamed(
            Request request,
            Response response,
            Callback callback,
            StreamedResponse r,
            Outcome outcome,
            Runnable counted) {
        HttpFields.Mutable h = start(response, r.status(), r.headers(), outcome);
        if (r.declaredLength() >= 0) h.put(HttpHeader.CONTENT_LENGTH, r.declaredLength());
        // The part read before the answer turned out too large (or the memory full) is held until the
        // whole answer is passed on, as this request holds it: counted meanwhile. (Uncounted, 90 clients
        // that never read their 8 MB answers held 200 MB (helper-21); given back once the part itself was
        // written, 200 such clients held 107 MB the budget did not count, while their rest was waited
        // for: helper-23, by a heap dump.) Always written, as it was just fetched for this request.
        boolean head = request.getMethod().equals("HEAD");
        Runnable release = head ? AnswerMemory.NOTHING : memory.writing(r.prefix(), true);
        counted.run(); // the read's share of it is given back only now
        try (InputStream rest = r.rest();
                java.io.OutputStream out = Content.Sink.asOutputStream(response)) {
            if (!head) {
                out.write(r.prefix());
                rest.transferTo(out);
            }
        } catch (IOException e) {
            callback.failed(e);
            return r.status() + " " + outcome + " (stream broken: " + e.getMessage() + ")";
        } finally {
            release.run();
        }
        callback.succeeded();
        return r.status() + " " + outcome + " streamed";
    }

    /**
     * The answers being written already hold the replica's budget ({@link AnswerMemory}): clients that do
     * not read, say. This one is refused rather than held too.
     */
    private String overMemory(Response response, Callback callback) {
        return write(
                null,
                response,
                callback,
                failure(new UpstreamFailure(
                        503, "the proxy holds its limit of answers being sent; retry shortly", null)));
    }

    /** Whether the answer was read from the upstream for this very request (never refused for memory). */
    private static boolean fresh(Outcome outcome) {
        return outcome == Outcome.MISS || outcome == Outcome.BYPASS;
    }

    /** The callback, with the answer's memory given back when it completes, either way. */
    private static Callback releasing(Callback callback, Runnable release) {
        if (release == AnswerMemory.NOTHING) return callback;
        return new Callback() {
            @Override
            public void succeeded() {
                release.run();
                callback.succeeded();
            }

            @Override
            public void failed(Throwable x) {
                release.run();
                callback.failed(x);
            }

            @Override
            public InvocationType getInvocationType() {
                return callback.getInvocationType();
            }
        };
    }

    /** The proxy's own answer: one plain line. */
    private String text(Response response, Callback callback, int status, String line) {
        return write(null, response, callback, Reply.text(status, line));
    }

    /** Registered counters by outcome and status: a registry lookup per response showed in the hit profile. */
    private final Counter[][] counters = new Counter[Outcome.values().length][600];

    private Counter counter(Outcome outcome, int status) {
        if (status < 0 || status >= 600) return register(outcome, status);
        Counter[] byStatus = counters[outcome.ordinal()];
        Counter c = byStatus[status];
        if (c == null) byStatus[status] = c = register(outcome, status); // racing threads get the same meter
        return c;
    }

    private static Timer phase(PrometheusMeterRegistry registry, String phase) {
        return Timer.builder("once.proxy.phase")
                .tag("phase", phase)
                .description("time per phase of a request not answered from the near cache")
                .register(registry);
    }

    private Counter register(Outcome outcome, int status) {
        return Counter.builder("once.proxy.responses")
                .tag("cache", outcome.name())
                .tag("status", Integer.toString(status))
                .description("responses by X-Once-Cache outcome and status")
                .register(registry);
    }

    private String admin(Request request, Response response, Callback callback, String path) {
        switch (path) {
            case "/-/health" -> {
                // the caches' breakers are read, never waited for; the probe is bounded to 1 s
                boolean caching = caches.values().stream().allMatch(OnceCache::storeAvailable);
                boolean failing = System.nanoTime() - lastStoreFailure < STORE_FAILING.toNanos();
                boolean up = databaseUp.getAsBoolean();
                return json(
                        response,
                        callback,
                        200,
                        "{\"status\":\"ready\",\"database\":\"" + (up ? "up" : "down") + "\",\"cache\":\""
                                + (failing ? "failing" : caching ? "caching" : "fail-open") + "\"}\n");
            }
            case "/-/metrics" -> {
                // open on the client port, it told every client the routes, the traffic, the hit ratio and
                // the refusals (helper-76): a scrape sends the admin token, as Prometheus's authorization does
                if (!authorized(request)) return unauthorized(response, callback, "metrics are off", "metrics need");
                response.setStatus(200);
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
                response.write(true, ByteBuffer.wrap(registry.scrape().getBytes(StandardCharsets.UTF_8)), callback);
                return "200 ADMIN";
            }
            case "/-/purge" -> {
                if (!request.getMethod().equals("POST")) {
                    return text(response, callback, 405, "purge takes POST");
                }
                if (!authorized(request)) return unauthorized(response, callback, "purge is disabled", "purge needs");
                try {
                    caches.values().forEach(OnceCache::purgeAll);
                } catch (dev.once.cache.CacheLoadException e) {
                    // the store unreachable: Jetty's bare 500 and a stack trace before (helper-25); the
                    // operator must know the purge did not happen, and retry
                    log.warn("purge failed: {}", Errors.withCause(e));
                    return write(
                            null,
                            response,
                            callback,
                            failure(new UpstreamFailure(
                                    503,
                                    "purge failed: the store is unreachable; stored answers may still be served; retry",
                                    null)));
                }
                return json(response, callback, 200, "{\"purged\":\"all\"}\n");
            }
            default -> {
                return text(
                        response, callback, 404, "unknown admin endpoint; try /-/health, /-/metrics, POST /-/purge");
            }
        }
    }

    private static String json(Response response, Callback callback, int status, String body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
        return status + " ADMIN";
    }

    /**
     * The body, or null when it is over the limit, or {@link #REFUSED} when the replica's answer memory
     * has no room for it: past its first 64 KiB a body is counted there as it arrives ({@code held}).
     * Uncounted, 250 clients that each sent most of a 1 MiB body and stopped filled a 256 MB heap, and
     * the replica never recovered (helper-21).
     */
    private byte[] readBody(Request request, long[] held) throws IOException {
        long max = config.maxRequestBodyBytes();
        long declared = parseLong(request.getHeaders().get(HttpHeader.CONTENT_LENGTH));
        try (InputStream in = Content.Source.asInputStream(request)) {
            AnswerMemory.Read read = memory.read(in, max, declared, held);
            if (read.refused()) return REFUSED;
            return read.bytes().length > max ? null : read.bytes();
        }
    }

    /** {@link #readBody}'s answer when the answer memory is full. */
    private static final byte[] REFUSED = new byte[0];

    private static final byte[] EMPTY = new byte[0];

    private static long parseLong(String s) {
        if (s == null) return -1;
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** 401 for an admin endpoint asked without the admin token: {@code off} when none is configured. */
    private String unauthorized(Response response, Callback callback, String off, String needs) {
        response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
        return text(
                response,
                callback,
                401,
                config.adminToken() == null
                        ? off + ": no admin token is configured (ONCE_ADMIN_TOKEN)"
                        : needs + " Authorization: Bearer <admin token>");
    }

    /** {@code Bearer <admin token>}, the scheme in any case (RFC 9110 11.1), the token compared in constant time. */
    private boolean authorized(Request request) {
        String authorization = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        if (config.adminToken() == null || authorization == null) return false;
        String a = authorization.trim();
        if (a.length() < 7 || !a.regionMatches(true, 0, "Bearer ", 0, 7)) return false;
        return constantTimeEquals(a.substring(7).trim(), config.adminToken());
    }

    private static boolean constantTimeEquals(String a, String b) {
        return java.security.MessageDigest.isEqual(
                a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    private static UpstreamFailure find(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof UpstreamFailure u) return u;
        return null;
    }
}
