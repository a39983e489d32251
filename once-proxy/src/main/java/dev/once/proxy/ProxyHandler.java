package dev.once.proxy;

import dev.once.cache.Bypass;
import dev.once.cache.CacheLoadException;
import dev.once.cache.CacheResult;
import dev.once.cache.OnceCache;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BooleanSupplier;
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
 * The proxy's request path. Refuses what would make it an open proxy: CONNECT (405) and absolute-form
 * targets (400, spotted by {@link OriginFormOnly}); every request goes to the one configured upstream,
 * whatever its target says. Serves the admin endpoints under {@code /-/}, answers cacheable requests through the
 * route's {@link OnceCache} (one upstream call per key across replicas) and forwards the rest.
 * Every answer says what happened in {@code X-Once-Cache: HIT | MISS | COALESCED | STALE | BYPASS}.
 */
final class ProxyHandler extends Handler.Abstract {
    private static final Logger access = LoggerFactory.getLogger("dev.once.proxy.access");

    private final ProxyConfig config;
    private final Upstream upstream;
    private final Map<Route, OnceCache<StoredResponse>> caches;
    private final PrometheusMeterRegistry registry;
    private final BooleanSupplier databaseUp;
    private final HttpMode httpMode;

    ProxyHandler(
            ProxyConfig config,
            Upstream upstream,
            Map<Route, OnceCache<StoredResponse>> caches,
            PrometheusMeterRegistry registry,
            BooleanSupplier databaseUp) {
        this.config = config;
        this.upstream = upstream;
        this.caches = caches;
        this.registry = registry;
        this.databaseUp = databaseUp;
        this.httpMode = new HttpMode(config, upstream);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        long start = System.nanoTime();
        String method = request.getMethod();
        HttpURI uri = request.getHttpURI();
        String status;
        if (method.equals("CONNECT")) {
            status = text(
                    response,
                    callback,
                    405,
                    "BYPASS",
                    "CONNECT is refused: this is a reverse proxy, not an open proxy\n");
        } else if (OriginFormOnly.REFUSED_PATH.equals(uri.getPath())) {
            status = text(
                    response,
                    callback,
                    400,
                    "BYPASS",
                    "absolute-form request targets are refused: this is a reverse proxy\n");
        } else if (uri.getPath() != null && uri.getPath().startsWith("/-/")) {
            status = admin(request, response, callback, uri.getPath());
        } else {
            status = proxy(request, response, callback, method, uri);
        }
        if (config.accessLog()) {
            access.info(
                    "{} {} {} {} {}ms",
                    Request.getRemoteAddr(request),
                    method,
                    uri.getPathQuery(),
                    status,
                    (System.nanoTime() - start) / 1_000_000);
        }
        return true;
    }

    private String proxy(Request request, Response response, Callback callback, String method, HttpURI uri)
            throws IOException {
        String lengthHeader = request.getHeaders().get(HttpHeader.CONTENT_LENGTH);
        if (lengthHeader != null && parseLong(lengthHeader) > config.maxRequestBodyBytes()) {
            return text(
                    response,
                    callback,
                    413,
                    "BYPASS",
                    "request body over " + config.maxRequestBodyBytes() + " bytes\n");
        }
        byte[] body = readBody(request);
        if (body == null) {
            return text(
                    response,
                    callback,
                    413,
                    "BYPASS",
                    "request body over " + config.maxRequestBodyBytes() + " bytes\n");
        }
        String pathQuery = uri.getPathQuery();
        HttpFields headers = request.getHeaders();
        String client = Request.getRemoteAddr(request);
        String scheme = request.isSecure() ? "https" : "http";
        Route route = config.route(uri.getPath());
        OnceCache<StoredResponse> cache = route == null ? null : caches.get(route);
        try {
            if (cache != null && route.http()) {
                HttpMode.Answer a = httpMode.handle(cache, method, uri, headers, body, client, scheme);
                return a.cached()
                        ? writeCached(request, response, callback, a.response(), a.outcome())
                        : write(request, response, callback, a.response(), a.outcome());
            }
            if (cache == null || !route.methods().contains(method)) {
                StoredResponse r = upstream.forward(method, pathQuery, headers, body, client, scheme);
                return write(request, response, callback, r, "BYPASS");
            }
            String key = CacheKey.of(
                    method,
                    uri.getPath(),
                    uri.getQuery(),
                    route.vary(),
                    h -> headers.getValuesList(h),
                    body,
                    route.bodyInKey(),
                    config.keyAuthorization());
            CacheResult<StoredResponse> result = cache.lookup(key, () -> {
                StoredResponse r = upstream.forward(method, pathQuery, headers, body, client, scheme);
                if (r.streamed() || !storable(route, r)) throw new Bypass(r, config.passThroughMemory());
                return r;
            });
            String outcome = switch (result.source()) {
                case HIT, NEAR_HIT -> "HIT";
                case MISS -> "MISS";
                case COALESCED -> "COALESCED";
                case STALE -> "STALE";
                case BYPASS -> "BYPASS";
            };
            return write(request, response, callback, result.value(), outcome);
        } catch (UpstreamFailure e) {
            return text(response, callback, e.status, "BYPASS", e.getMessage() + "\n");
        } catch (CacheLoadException e) {
            UpstreamFailure cause = find(e);
            if (cause != null) return text(response, callback, cause.status, "BYPASS", cause.getMessage() + "\n");
            return text(
                    response,
                    callback,
                    502,
                    "BYPASS",
                    "the upstream answer could not be had: " + e.getMessage() + "\n");
        } catch (IllegalArgumentException e) {
            return text(response, callback, 400, "BYPASS", "bad request target: " + e.getMessage() + "\n");
        }
    }

    /** api mode: the route's statuses, and never no-store, private or Set-Cookie answers unless the route says so. */
    private static boolean storable(Route route, StoredResponse r) {
        if (!route.statuses().contains(r.status())) return false;
        if (route.cachePrivate()) return true;
        if (r.header("Set-Cookie") != null) return false;
        for (String cc : r.headerValues("Cache-Control")) {
            String v = cc.toLowerCase(Locale.ROOT);
            if (v.contains("no-store") || v.contains("private")) return false;
        }
        return true;
    }

    /** Fields a 304 carries (RFC 9110 15.4.5), besides Age and X-Once-Cache. */
    private static final java.util.Set<String> NOT_MODIFIED_FIELDS =
            java.util.Set.of("cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified");

    /**
     * http mode: a response that went through the cache gets its Age (RFC 9111 5.1) unless the upstream
     * made it for this very request, and a client's matching conditional request gets 304.
     */
    private String writeCached(
            Request request, Response response, Callback callback, StoredResponse r, String outcome) {
        List<String[]> headers = new java.util.ArrayList<>();
        boolean fromOrigin = outcome.equals("MISS");
        for (String[] h : r.headers()) if (fromOrigin || !h[0].equalsIgnoreCase("Age")) headers.add(h);
        if (!fromOrigin) {
            long age = Rfc9111.currentAgeMillis(r, System.currentTimeMillis()) / 1000;
            headers.add(new String[] {"Age", Long.toString(age)});
        }
        if (r.status() == 200 && Rfc9111.notModified(request.getHeaders(), r)) {
            List<String[]> kept = new java.util.ArrayList<>();
            for (String[] h : headers) {
                String name = h[0].toLowerCase(Locale.ROOT);
                if (NOT_MODIFIED_FIELDS.contains(name) || name.equals("age")) kept.add(h);
            }
            start(response, 304, kept, outcome);
            callback.succeeded();
            return "304 " + outcome;
        }
        long[] range = request.getMethod().equals("GET") ? Rfc9111.byteRange(request.getHeaders(), r) : null;
        if (range != null) return writeRange(response, callback, r, headers, range, outcome);
        return write(request, response, callback, r.withHeaders(headers), outcome);
    }

    /** RFC 9110 15.3.7 / 15.5.17: one range of a stored complete answer, or 416 when none can be had. */
    private String writeRange(
            Response response,
            Callback callback,
            StoredResponse r,
            List<String[]> headers,
            long[] range,
            String outcome) {
        long length = r.body().length;
        if (range[0] < 0) {
            HttpFields.Mutable h = start(response, 416, headers, outcome);
            h.put(HttpHeader.CONTENT_RANGE, "bytes */" + length);
            h.put(HttpHeader.CONTENT_LENGTH, 0);
            callback.succeeded();
            return "416 " + outcome;
        }
        int from = (int) range[0];
        int count = (int) (range[1] - range[0] + 1);
        HttpFields.Mutable h = start(response, 206, headers, outcome);
        h.put(HttpHeader.CONTENT_RANGE, "bytes " + range[0] + "-" + range[1] + "/" + length);
        h.put(HttpHeader.CONTENT_LENGTH, count);
        response.write(true, ByteBuffer.wrap(r.body(), from, count), callback);
        return "206 " + outcome;
    }

    /** Status, the answer's headers, X-Once-Cache and the response counter: the start of every proxied answer. */
    private HttpFields.Mutable start(Response response, int status, List<String[]> headers, String outcome) {
        response.setStatus(status);
        HttpFields.Mutable h = response.getHeaders();
        for (String[] header : headers) h.add(header[0], header[1]);
        h.put("X-Once-Cache", outcome);
        counter(outcome, status).increment();
        return h;
    }

    private String write(Request request, Response response, Callback callback, StoredResponse r, String outcome) {
        HttpFields.Mutable h = start(response, r.status(), r.headers(), outcome);
        boolean head = request.getMethod().equals("HEAD");
        if (r.streamed()) {
            if (r.declaredLength() >= 0) h.put(HttpHeader.CONTENT_LENGTH, r.declaredLength());
            try (java.io.InputStream rest = r.rest();
                    java.io.OutputStream out = Content.Sink.asOutputStream(response)) {
                if (!head) {
                    out.write(r.body());
                    rest.transferTo(out);
                }
            } catch (IOException e) {
                callback.failed(e);
                return r.status() + " " + outcome + " (stream broken: " + e.getMessage() + ")";
            }
            callback.succeeded();
            return r.status() + " " + outcome + " streamed";
        }
        if (!head) h.put(HttpHeader.CONTENT_LENGTH, r.body().length);
        response.write(true, head ? ByteBuffer.allocate(0) : ByteBuffer.wrap(r.body()), callback);
        return r.status() + " " + outcome;
    }

    private String text(Response response, Callback callback, int status, String outcome, String body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
        response.getHeaders()
                .put(HttpHeader.DATE, org.eclipse.jetty.http.DateGenerator.formatDate(System.currentTimeMillis()));
        response.getHeaders().put("X-Once-Cache", outcome);
        counter(outcome, status).increment();
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
        return status + " " + outcome;
    }

    /** Registered counters by outcome and status: a registry lookup per response showed in the hit profile. */
    private final java.util.concurrent.ConcurrentHashMap<String, Counter[]> counters =
            new java.util.concurrent.ConcurrentHashMap<>();

    private Counter counter(String outcome, int status) {
        if (status < 0 || status >= 600) return register(outcome, status);
        Counter[] byStatus = counters.computeIfAbsent(outcome, o -> new Counter[600]);
        Counter c = byStatus[status];
        if (c == null) byStatus[status] = c = register(outcome, status); // racing threads get the same meter
        return c;
    }

    private Counter register(String outcome, int status) {
        return Counter.builder("once.proxy.responses")
                .tag("cache", outcome)
                .tag("status", Integer.toString(status))
                .description("responses by X-Once-Cache outcome and status")
                .register(registry);
    }

    private String admin(Request request, Response response, Callback callback, String path) {
        switch (path) {
            case "/-/health" -> {
                boolean up = databaseUp.getAsBoolean();
                return json(
                        response,
                        callback,
                        200,
                        "{\"status\":\"ready\",\"database\":\"" + (up ? "up" : "down") + "\"}\n");
            }
            case "/-/metrics" -> {
                response.setStatus(200);
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
                response.write(true, ByteBuffer.wrap(registry.scrape().getBytes(StandardCharsets.UTF_8)), callback);
                return "200 ADMIN";
            }
            case "/-/purge" -> {
                if (!request.getMethod().equals("POST")) {
                    return text(response, callback, 405, "BYPASS", "purge takes POST\n");
                }
                String auth = request.getHeaders().get(HttpHeader.AUTHORIZATION);
                if (config.adminToken() == null
                        || auth == null
                        || !constantTimeEquals(auth, "Bearer " + config.adminToken())) {
                    response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
                    return text(
                            response,
                            callback,
                            401,
                            "BYPASS",
                            config.adminToken() == null
                                    ? "purge is disabled: no admin token is configured (ONCE_ADMIN_TOKEN)\n"
                                    : "purge needs Authorization: Bearer <admin token>\n");
                }
                caches.values().forEach(OnceCache::purgeAll);
                return json(response, callback, 200, "{\"purged\":\"all\"}\n");
            }
            default -> {
                return text(
                        response,
                        callback,
                        404,
                        "BYPASS",
                        "unknown admin endpoint; try /-/health, /-/metrics, POST /-/purge\n");
            }
        }
    }

    private static String json(Response response, Callback callback, int status, String body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
        return status + " ADMIN";
    }

    /** The body, or null when it is over the limit. */
    private byte[] readBody(Request request) throws IOException {
        HttpFields h = request.getHeaders();
        if (!h.contains(HttpHeader.TRANSFER_ENCODING) && parseLong(h.get(HttpHeader.CONTENT_LENGTH)) <= 0) {
            // HTTP/1.1 framing: no length and no chunking is no body. Reading anyway costs a read-interest
            // round through the selector per request (the largest item of a hit's profile).
            return EMPTY;
        }
        try (InputStream in = Content.Source.asInputStream(request)) {
            byte[] body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, config.maxRequestBodyBytes() + 1));
            return body.length > config.maxRequestBodyBytes() ? null : body;
        }
    }

    private static final byte[] EMPTY = new byte[0];

    private static long parseLong(String s) {
        if (s == null) return -1;
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
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
