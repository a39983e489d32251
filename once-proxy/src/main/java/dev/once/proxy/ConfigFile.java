package dev.once.proxy;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The YAML file of {@code once serve --config}. Every key is optional; command-line options win.
 *
 * <pre>
 * upstream: https://api.example.com
 * port: 8080
 * db: jdbc:postgresql://db:5432/app
 * adminToken: ...                    # purge and metrics; at least 16 characters (openssl rand -hex 32)
 * namespace: quotes-api                # as --namespace; also nearCache, nearCacheBytes, answerMemory, drain
 * requestHeaderTimeout: 10s            # a request's headers must arrive within this, from their first byte
 * maxConnectionsPerAddress: 64         # per client IP (default 0: none; not behind a load balancer)
 * keySecret: ...                      # credentials keyed by HMAC under it (openssl rand -hex 32)
 * credentialHeaders: [X-Partner-Key]   # keyed by hash, besides Authorization, Cookie, X-API-Key, ...
 * routes:
 *   - prefix: /v1/quotes
 *     methods: [GET]
 *     ttl: 10m
 *     statuses: [200, 404]
 *     vary: [Accept-Language]   # the answers depend on these alone: other headers are not forwarded
 *     neutral: [User-Agent]     # forwarded, not keyed
 *   - prefix: /v1/search
 *     methods: [POST]           # the body's SHA-256 joins the key
 *     ttl: 1h
 *     staleWhileRevalidate: 5m
 *   - prefix: /static
 *     mode: http            # RFC 9111: the upstream's Cache-Control decides
 * </pre>
 */
public final class ConfigFile {
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");

    /** The file's keys as read; null where the file does not set one. */
    @JsonIgnoreProperties(ignoreUnknown = false)
    public static final class Data {
        /** Creates an empty configuration (every key unset). */
        public Data() {}

        /** The upstream's base URL, e.g. {@code https://api.example.com}. */
        public String upstream;
        /** The port to listen on. */
        public Integer port;
        /** The address to listen on. */
        public String host;
        /** The store's JDBC URL. */
        public String db;
        /** The store's user. */
        public String dbUser;
        /** The store's password. */
        public String dbPassword;
        /** The bearer token of {@code POST /-/purge}; purge is off without one. */
        public String adminToken;
        /** The secret credentials are digested under in keys (HMAC-SHA256); without one, their SHA-256. */
        public String keySecret;
        /** {@code api} or {@code http}: the mode of routes that do not name one. */
        public String mode;
        /** Whether to log one line per request. */
        public Boolean accessLog;
        /** The largest request body forwarded. */
        public Long maxRequestBodyBytes;
        /** The largest answer stored; larger ones are streamed through. */
        public Long maxResponseBytes;
        /** How long connecting to the upstream may take, e.g. {@code 5s}. */
        public String connectTimeout;
        /** How long an upstream answer may take, e.g. {@code 30s}. */
        public String upstreamTimeout;
        /** Whether credentials are keyed by hash (default true). */
        public Boolean keyAuthorization;
        /** More credential headers, keyed by hash. */
        public List<String> credentialHeaders;
        /** Connections to the upstream at most. */
        public Integer maxUpstreamConnections;
        /** Requests waiting for an upstream connection at most. */
        public Integer maxQueuedUpstreamRequests;
        /** Client connections at most (default from the process's file descriptors). */
        public Integer maxClientConnections;
        /** Client connections at most from one IP address (default 0: no such limit). */
        public Integer maxConnectionsPerAddress;
        /** The namespace of this proxy's rows in the table (as --namespace; default {@code proxy}). */
        public String namespace;
        /** Answers kept in each replica's memory per route (as --near-cache; default 10,000). */
        public Long nearCache;
        /** Bytes of answers kept in each replica's memory (as --near-cache-bytes, e.g. {@code 64MB}). */
        public String nearCacheBytes;
        /** Bytes of answers held for requests in flight (as --answer-memory, e.g. {@code 256MB}). */
        public String answerMemory;
        /** How long a stop waits for requests in flight (as --drain, e.g. {@code 10s}). */
        public String drain;
        /** How long a request's headers may take to arrive, e.g. {@code 10s}; past it the connection is closed. */
        public String requestHeaderTimeout;
        /** The routes, by path prefix. */
        public List<RouteData> routes;
    }

    /** One route of the file as read; null where it does not set a key. */
    @JsonIgnoreProperties(ignoreUnknown = false)
    public static final class RouteData {
        /** Creates an empty route (every key unset). */
        public RouteData() {}

        /** The path prefix it covers, matched on whole segments. */
        public String prefix;
        /** The methods whose answers may be stored (default GET and HEAD). */
        public List<String> methods;
        /** How long answers stay fresh in api mode, e.g. {@code 10m}. */
        public String ttl;
        /** The statuses that may be stored. */
        public List<Integer> statuses;
        /** The only request headers the answers depend on (forwarded and keyed). */
        public List<String> vary;
        /** Request headers forwarded but not keyed. */
        public List<String> neutral;
        /** Accepted for older files: a request body always joins the key now. */
        public Boolean body;

        /** How long an expired answer may be served while one replica refreshes it. */
        public String staleWhileRevalidate;
        /** Whether to store answers marked private or setting cookies. */
        public Boolean cachePrivate;
        /** {@code api} or {@code http}. */
        public String mode;
        /** http mode: {@code obey} (the default) or {@code ignore} the client's Cache-Control and Pragma. */
        public String requestDirectives;
    }

    private ConfigFile() {}

    /**
     * Reads a configuration file.
     *
     * @param file the YAML file
     * @return its keys; unknown keys are errors that name the key and the line
     * @throws IOException when the file cannot be read
     * @throws IllegalArgumentException when it is not valid
     */
    public static Data read(Path file) throws IOException {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory())
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                // a count given as 0.9 was read as 0, which turned maxConnectionsPerAddress off (helper-29)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                // a key given twice kept the last: a second, empty adminToken turned purge off (helper-23)
                .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        try {
            Data d = yaml.readValue(file.toFile(), Data.class);
            return d == null ? new Data() : d;
        } catch (com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException e) {
            throw new IllegalArgumentException(
                    file + ": unknown key '" + e.getPropertyName() + "' (line "
                            + e.getLocation().getLineNr() + "); known keys: "
                            + new java.util.TreeSet<>(e.getKnownPropertyIds().stream()
                                    .map(String::valueOf)
                                    .toList()),
                    e);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IllegalArgumentException(
                    file + ": " + problem(e) + " (line "
                            + (e.getLocation() == null ? "?" : e.getLocation().getLineNr()) + ")",
                    e);
        }
    }

    /**
     * What is wrong, in the file's words: the key and what it takes ("key 'maxConnectionsPerAddress':
     * expected a whole number") rather than Jackson's names for Java types and tokens.
     */
    private static String problem(com.fasterxml.jackson.core.JacksonException e) {
        if (!(e instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException m)) {
            // the YAML parser's message quotes the line it stopped at, with a caret under it: a secret
            // whose first character YAML does not take (@, %, `) was printed over six lines (helper-76)
            String message = String.valueOf(e.getOriginalMessage());
            int quote = message.indexOf("\n in 'reader'");
            return (quote < 0 ? message : message.substring(0, quote))
                            .replace('\n', ' ')
                            .strip() + " (the line is not shown: it may hold a secret)";
        }
        String expected = expected(m.getTargetType());
        if (expected == null) expected = m.getOriginalMessage();
        if (m.getPath().isEmpty()) return expected; // the file as a whole
        StringBuilder key = new StringBuilder();
        for (var ref : m.getPath()) {
            if (ref.getFieldName() != null) key.append(key.isEmpty() ? "" : ".").append(ref.getFieldName());
            else key.append('[').append(ref.getIndex()).append(']');
        }
        return "key '" + key + "': " + expected;
    }

    /** What a value of this type is, in the file's words; null for a type without words of its own. */
    private static String expected(Class<?> type) {
        if (type == null) return null;
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class)
            return "expected a whole number";
        if (type == Boolean.class || type == boolean.class) return "expected true or false";
        if (type == String.class) return "expected text";
        if (java.util.Collection.class.isAssignableFrom(type)) return "expected a list (one '- ' line per item)";
        if (type == RouteData.class) return "expected a route's keys (prefix: ..., ttl: ...)";
        if (type == Data.class)
            return "expected keys and their values (upstream: ..., routes: ...), not a list or a value";
        return null;
    }

    /**
     * The routes of the file in api mode unless a route says {@code mode: http}, or null when it has none.
     *
     * @param d the file as read
     * @return the routes, or null
     */
    public static List<Route> routes(Data d) {
        return routes(d, false);
    }

    /**
     * The routes of the file, or null when it has none. A route's {@code mode} decides; without one, a
     * route with a {@code ttl} is in api mode (a forced TTL) and the others follow {@code httpDefault}.
     *
     * @param d the file as read
     * @param httpDefault whether routes without a mode or ttl are in http mode
     * @return the routes, or null
     * @throws IllegalArgumentException when a route is invalid
     */
    public static List<Route> routes(Data d, boolean httpDefault) {
        if (d.routes == null) return null;
        List<Route> out = new ArrayList<>();
        for (RouteData r : d.routes) {
            if (r == null || r.prefix == null) throw new IllegalArgumentException("every route needs a prefix");
            Set<String> methods = r.methods == null ? Set.of("GET", "HEAD") : Set.copyOf(r.methods);
            boolean http = http(r, httpDefault);
            if (http) {
                if (r.ttl != null)
                    throw new IllegalArgumentException("route " + r.prefix + ": ttl applies to api mode; in http mode"
                            + " the upstream's Cache-Control decides how long an answer stays fresh");
                if (r.statuses != null)
                    throw new IllegalArgumentException("route " + r.prefix + ": statuses applies to api mode; in http"
                            + " mode RFC 9111 decides which statuses are stored");
            }
            out.add(new Route(
                    r.prefix,
                    methods,
                    duration(r.ttl == null ? "10m" : r.ttl, "ttl of " + r.prefix),
                    r.statuses == null ? Route.DEFAULT_STATUSES : Set.copyOf(r.statuses),
                    r.vary == null ? List.of() : r.vary,
                    r.neutral == null ? List.of() : r.neutral,
                    r.staleWhileRevalidate == null
                            ? Duration.ZERO
                            : duration(r.staleWhileRevalidate, "staleWhileRevalidate"),
                    Boolean.TRUE.equals(r.cachePrivate),
                    http,
                    obeyRequestDirectives(r, http)));
        }
        return out;
    }

    private static boolean obeyRequestDirectives(RouteData r, boolean http) {
        if (r.requestDirectives == null) return true;
        if (!http)
            throw new IllegalArgumentException("route " + r.prefix
                    + ": requestDirectives applies to http mode routes; api mode never reads the client's"
                    + " Cache-Control");
        return switch (r.requestDirectives.trim().toLowerCase(Locale.ROOT)) {
            case "obey" -> true;
            case "ignore" -> false;
            default ->
                throw new IllegalArgumentException("route " + r.prefix
                        + ": requestDirectives must be obey or ignore, not '" + r.requestDirectives + "'");
        };
    }

    private static boolean http(RouteData r, boolean httpDefault) {
        if (r.mode == null) return httpDefault && r.ttl == null;
        return switch (r.mode.trim().toLowerCase(Locale.ROOT)) {
            case "http" -> true;
            case "api" -> false;
            default ->
                throw new IllegalArgumentException(
                        "route " + r.prefix + ": mode must be api or http, not '" + r.mode + "'");
        };
    }

    /**
     * {@code 500ms}, {@code 30s}, {@code 10m}, {@code 2h}, {@code 1d}.
     *
     * @param text the duration as written
     * @param what the setting, for the error message
     * @return the duration
     * @throws IllegalArgumentException when the text is not a duration
     */
    public static Duration duration(String text, String what) {
        Matcher m = DURATION.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    what + ": '" + text + "' is not a duration; write e.g. 500ms, 30s, 10m, 2h, 1d");
        }
        try {
            long n = Long.parseLong(m.group(1));
            return switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofDays(n);
            };
        } catch (NumberFormatException | ArithmeticException tooLong) {
            throw new IllegalArgumentException(what + ": '" + text + "' is too long a duration");
        }
    }
}
