package dev.once.proxy;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * How requests under a path prefix are cached.
 *
 * @param prefix the path prefix, e.g. {@code /v1/quotes}; the longest matching prefix wins
 * @param methods methods whose answers may be cached (GET and HEAD by default; POST for query APIs)
 * @param ttl how long an answer stays fresh
 * @param statuses upstream statuses that may be stored; other answers are passed through
 * @param vary api mode: when not empty, the only request headers the answers depend on; they join the key
 *     and are forwarded, with the credentials, the normalised {@code Accept-Encoding}, {@code Content-Type}
 *     and the neutral headers, and nothing else is. When empty, every forwarded header joins the key
 *     but the neutral ones.
 * @param neutral request headers forwarded without joining the key, besides {@link HeaderRules#NEUTRAL}:
 *     headers this route declares cannot change an answer (say {@code User-Agent})
 * @param staleWhileRevalidate how long an expired answer may be served while one replica refreshes it
 * @param cachePrivate store answers with {@code Cache-Control: no-store/private} or {@code Set-Cookie} anyway
 * @param http RFC 9111 shared-cache semantics: the upstream's headers decide what is stored and for how
 *     long ({@code ttl}, {@code statuses}, {@code vary} and {@code cachePrivate} are then unused)
 * @param obeyRequestDirectives http mode: whether the client's {@code Cache-Control} and {@code Pragma}
 *     are obeyed (RFC 9111: {@code no-cache}, {@code max-age=0} and {@code min-fresh} revalidate with the
 *     upstream, {@code no-store} passes the request through, {@code max-stale} and {@code only-if-cached}
 *     are honoured). False reads none of them, as api mode: every client then costs the upstream no more
 *     than the upstream's own headers allow (a hostile client, or a browser's reload, revalidated at will)
 *
 * <p>A request body always joins the key (its SHA-256), whatever the method.
 */
public record Route(
        String prefix,
        Set<String> methods,
        Duration ttl,
        Set<Integer> statuses,
        List<String> vary,
        List<String> neutral,
        Duration staleWhileRevalidate,
        boolean cachePrivate,
        boolean http,
        boolean obeyRequestDirectives) {
    /** The statuses stored when a route names none: RFC 9110's heuristically cacheable ones but 206. */
    public static final Set<Integer> DEFAULT_STATUSES = Set.of(200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501);

    /** The methods a route may cache: those whose answer a repeat may be given. */
    static final java.util.List<String> CACHEABLE_METHODS = java.util.List.of("GET", "HEAD", "POST", "QUERY");

    /** The longest TTL or stale window a route takes. */
    private static final Duration LONGEST = Duration.ofDays(36_525);

    /** Checks the prefix, the methods, the TTL and the statuses, and normalises methods and header names. */
    public Route {
        if (prefix == null || !prefix.startsWith("/"))
            throw new IllegalArgumentException("route prefix must start with /: " + prefix);
        methods = methods.stream().map(m -> m.toUpperCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
        for (String m : methods) {
            // a cached DELETE or PUT would answer its repeats without reaching the upstream (helper-23)
            if (!CACHEABLE_METHODS.contains(m))
                throw new IllegalArgumentException("route " + prefix + ": method " + m
                        + " cannot be cached; methods may be " + String.join(", ", CACHEABLE_METHODS));
        }
        if (ttl == null || ttl.isNegative() || ttl.isZero())
            throw new IllegalArgumentException("route " + prefix + ": ttl must be positive");
        // 99999999999999d overflowed in the cache's arithmetic: every request paid the upstream, then got 502
        if (ttl.compareTo(LONGEST) > 0)
            throw new IllegalArgumentException("route " + prefix + ": ttl must be at most 100 years, not " + ttl);
        if (staleWhileRevalidate != null && staleWhileRevalidate.compareTo(LONGEST) > 0)
            throw new IllegalArgumentException("route " + prefix + ": staleWhileRevalidate must be at most 100 years");
        for (Integer s : statuses) {
            if (s == null || s < 200 || s > 599)
                throw new IllegalArgumentException(
                        "route " + prefix + ": status " + s + " is not a final status (200-599)");
        }
        statuses = Set.copyOf(statuses);
        vary = HeaderRules.configuredNames("route " + prefix + ": vary", vary);
        neutral = HeaderRules.configuredNames("route " + prefix + ": neutral", neutral);
        staleWhileRevalidate = staleWhileRevalidate == null ? Duration.ZERO : staleWhileRevalidate;
        if (http) { // settings http mode does not read, refused rather than ignored (vary leaked across tenants)
            if (!vary.isEmpty())
                throw new IllegalArgumentException("route " + prefix + ": vary applies to api mode; in http mode the"
                        + " upstream's Vary header decides what answers depend on (have the upstream send Vary: "
                        + String.join(", ", vary) + ", or use mode: api)");
            if (cachePrivate)
                throw new IllegalArgumentException("route " + prefix + ": cachePrivate applies to api mode; in http"
                        + " mode an answer marked private or setting a cookie is never shared");
            for (String m : methods) {
                if (!m.equals("GET") && !m.equals("HEAD"))
                    throw new IllegalArgumentException("route " + prefix + ": http mode caches GET and HEAD only, not "
                            + m + " (use mode: api to cache " + m + ")");
            }
        }
    }

    /**
     * An api-mode route (the TTL decides).
     *
     * @param prefix the path prefix
     * @param methods methods whose answers may be cached
     * @param ttl how long an answer stays fresh
     * @param statuses upstream statuses that may be stored
     * @param vary the only request headers the answers depend on, or empty
     * @param neutral request headers forwarded without joining the key
     * @param staleWhileRevalidate how long an expired answer may be served while one replica refreshes it
     * @param cachePrivate store answers marked private or setting cookies anyway
     */
    public Route(
            String prefix,
            Set<String> methods,
            Duration ttl,
            Set<Integer> statuses,
            List<String> vary,
            List<String> neutral,
            Duration staleWhileRevalidate,
            boolean cachePrivate) {
        this(prefix, methods, ttl, statuses, vary, neutral, staleWhileRevalidate, cachePrivate, false);
    }

    /**
     * A route in either mode, obeying the client's cache directives in http mode.
     *
     * @param prefix the path prefix
     * @param methods methods whose answers may be cached
     * @param ttl how long an answer stays fresh (api mode)
     * @param statuses upstream statuses that may be stored (api mode)
     * @param vary the only request headers the answers depend on, or empty (api mode)
     * @param neutral request headers forwarded without joining the key
     * @param staleWhileRevalidate how long an expired answer may be served while one replica refreshes it
     * @param cachePrivate store answers marked private or setting cookies anyway (api mode)
     * @param http RFC 9111 shared-cache semantics
     */
    public Route(
            String prefix,
            Set<String> methods,
            Duration ttl,
            Set<Integer> statuses,
            List<String> vary,
            List<String> neutral,
            Duration staleWhileRevalidate,
            boolean cachePrivate,
            boolean http) {
        this(prefix, methods, ttl, statuses, vary, neutral, staleWhileRevalidate, cachePrivate, http, true);
    }

    /**
     * GET and HEAD under {@code prefix}, cached for {@code ttl}.
     *
     * @param prefix the path prefix
     * @param ttl how long an answer stays fresh
     * @return the route
     */
    public static Route of(String prefix, Duration ttl) {
        return new Route(
                prefix, Set.of("GET", "HEAD"), ttl, DEFAULT_STATUSES, List.of(), List.of(), Duration.ZERO, false);
    }

    /**
     * Everything under {@code prefix} with RFC 9111 semantics.
     *
     * @param prefix the path prefix
     * @return the route
     */
    public static Route http(String prefix) {
        return new Route(
                prefix,
                Set.of("GET", "HEAD"),
                Duration.ofMinutes(10),
                DEFAULT_STATUSES,
                List.of(),
                List.of(),
                Duration.ZERO,
                false,
                true);
    }

    /**
     * This route in http mode (true) or api mode (false).
     *
     * @param http true for http mode
     * @return a copy of this route in that mode
     */
    public Route withHttp(boolean http) {
        return new Route(
                prefix,
                methods,
                ttl,
                statuses,
                vary,
                neutral,
                staleWhileRevalidate,
                cachePrivate,
                http,
                obeyRequestDirectives);
    }

    /**
     * This route obeying the client's cache directives (the default) or not (http mode).
     *
     * @param obey false to read no client {@code Cache-Control} or {@code Pragma}
     * @return a copy of this route that does so
     */
    public Route withRequestDirectives(boolean obey) {
        return new Route(prefix, methods, ttl, statuses, vary, neutral, staleWhileRevalidate, cachePrivate, http, obey);
    }

    /** The prefix matches whole segments: {@code /v1/quotes} takes {@code /v1/quotes} and {@code /v1/quotes/x}, not {@code /v1/quotesX}. */
    boolean matches(String path) {
        if (prefix.endsWith("/")) return path.startsWith(prefix) || (path + "/").equals(prefix);
        return path.startsWith(prefix) && (path.length() == prefix.length() || path.charAt(prefix.length()) == '/');
    }
}
