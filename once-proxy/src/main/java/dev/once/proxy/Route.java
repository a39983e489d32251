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
 * @param vary request headers whose values join the cache key
 * @param bodyInKey whether a SHA-256 of the request body joins the key (needed for POST)
 * @param staleWhileRevalidate how long an expired answer may be served while one replica refreshes it
 * @param cachePrivate store answers with {@code Cache-Control: no-store/private} or {@code Set-Cookie} anyway
 * @param http RFC 9111 shared-cache semantics: the upstream's headers decide what is stored and for how
 *     long ({@code ttl}, {@code statuses}, {@code vary} and {@code cachePrivate} are then unused)
 */
public record Route(
        String prefix,
        Set<String> methods,
        Duration ttl,
        Set<Integer> statuses,
        List<String> vary,
        boolean bodyInKey,
        Duration staleWhileRevalidate,
        boolean cachePrivate,
        boolean http) {
    public static final Set<Integer> DEFAULT_STATUSES = Set.of(200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501);

    public Route {
        if (prefix == null || !prefix.startsWith("/"))
            throw new IllegalArgumentException("route prefix must start with /: " + prefix);
        methods = methods.stream().map(m -> m.toUpperCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
        if (ttl == null || ttl.isNegative() || ttl.isZero())
            throw new IllegalArgumentException("route " + prefix + ": ttl must be positive");
        statuses = Set.copyOf(statuses);
        vary = vary.stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
        staleWhileRevalidate = staleWhileRevalidate == null ? Duration.ZERO : staleWhileRevalidate;
    }

    /** An api-mode route (the TTL decides). */
    public Route(
            String prefix,
            Set<String> methods,
            Duration ttl,
            Set<Integer> statuses,
            List<String> vary,
            boolean bodyInKey,
            Duration staleWhileRevalidate,
            boolean cachePrivate) {
        this(prefix, methods, ttl, statuses, vary, bodyInKey, staleWhileRevalidate, cachePrivate, false);
    }

    /** GET and HEAD under {@code prefix}, cached for {@code ttl}. */
    public static Route of(String prefix, Duration ttl) {
        return new Route(prefix, Set.of("GET", "HEAD"), ttl, DEFAULT_STATUSES, List.of(), false, Duration.ZERO, false);
    }

    /** Everything under {@code prefix} with RFC 9111 semantics. */
    public static Route http(String prefix) {
        return new Route(
                prefix,
                Set.of("GET", "HEAD"),
                Duration.ofMinutes(10),
                DEFAULT_STATUSES,
                List.of(),
                false,
                Duration.ZERO,
                false,
                true);
    }

    /** This route in http mode (true) or api mode (false). */
    public Route withHttp(boolean http) {
        return new Route(prefix, methods, ttl, statuses, vary, bodyInKey, staleWhileRevalidate, cachePrivate, http);
    }

    boolean matches(String path) {
        return path.startsWith(prefix) || (prefix.endsWith("/") && (path + "/").equals(prefix));
    }
}
