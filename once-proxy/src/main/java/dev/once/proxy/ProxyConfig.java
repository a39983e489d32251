package dev.once.proxy;

import java.net.URI;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * Everything {@code once serve} needs to know. Build with {@link #builder(URI)}; every field but the
 * upstream has a default.
 *
 * @param upstream the upstream's base URL (http or https, no query)
 * @param host the address to listen on
 * @param port the port to listen on (0: any free port)
 * @param routes how requests are cached, by path prefix
 * @param adminToken the bearer token of {@code POST /-/purge}, or null (purge off)
 * @param maxRequestBodyBytes the largest request body forwarded
 * @param maxRequestHeaderBytes the largest request header block accepted
 * @param maxCachedResponseBytes the largest answer stored; larger ones are streamed through
 * @param connectTimeout how long connecting to the upstream may take
 * @param upstreamTimeout how long an upstream answer may take
 * @param passThroughMemory how long a key whose answer must not be stored loads directly
 * @param drainTimeout how long {@link OnceProxy#close()} waits for in-flight requests
 * @param keyAuthorization whether credentials join the key, by hash
 * @param accessLog whether to log one line per request
 * @param namespace the prefix of the caches' namespaces
 * @param nearCacheEntries answers kept in memory per route (0: none)
 * @param nearCacheBytes what the answers kept in memory may weigh in all, in bytes as stored, split evenly among the routes
 * @param answerMemoryBytes what answers held for requests in flight may weigh in all ({@link AnswerMemory})
 * @param credentialHeaders the request headers that carry credentials
 * @param maxUpstreamConnections connections to the upstream at most
 * @param maxQueuedUpstreamRequests requests waiting for an upstream connection at most
 * @param maxClientConnections client connections at most ({@link OnceProxy#clientConnectionLimit})
 * @param maxConnectionsPerAddress client connections at most from one address, 0 for no such limit
 *     ({@link AddressLimit})
 * @param requestHeaderTimeout how long a request's headers may take to arrive, from their first byte
 *     ({@link HeaderDeadline})
 * @param keySecret the secret credentials are digested under in keys ({@link CredentialDigest}), or null
 *     (their plain SHA-256); kept outside the database
 */
public record ProxyConfig(
        URI upstream,
        String host,
        int port,
        List<Route> routes,
        String adminToken,
        long maxRequestBodyBytes,
        int maxRequestHeaderBytes,
        long maxCachedResponseBytes,
        Duration connectTimeout,
        Duration upstreamTimeout,
        Duration passThroughMemory,
        Duration drainTimeout,
        boolean keyAuthorization,
        boolean accessLog,
        String namespace,
        long nearCacheEntries,
        long nearCacheBytes,
        long answerMemoryBytes,
        Set<String> credentialHeaders,
        int maxUpstreamConnections,
        int maxQueuedUpstreamRequests,
        int maxClientConnections,
        int maxConnectionsPerAddress,
        Duration requestHeaderTimeout,
        String keySecret) {

    /** This configuration with another largest answer stored. */
    ProxyConfig withMaxCachedResponseBytes(long bytes) {
        return new ProxyConfig(
                upstream,
                host,
                port,
                routes,
                adminToken,
                maxRequestBodyBytes,
                maxRequestHeaderBytes,
                bytes,
                connectTimeout,
                upstreamTimeout,
                passThroughMemory,
                drainTimeout,
                keyAuthorization,
                accessLog,
                namespace,
                nearCacheEntries,
                nearCacheBytes,
                answerMemoryBytes,
                credentialHeaders,
                maxUpstreamConnections,
                maxQueuedUpstreamRequests,
                maxClientConnections,
                maxConnectionsPerAddress,
                requestHeaderTimeout,
                keySecret);
    }

    /** A key secret shorter than this is refused: it would be as easy to guess as the credentials it hides. */
    static final int MIN_KEY_SECRET_LENGTH = 16;

    /** Checks the configuration and normalises header names and the order of the routes (longest prefix first). */
    public ProxyConfig {
        Objects.requireNonNull(upstream, "upstream");
        if (!"http".equals(upstream.getScheme()) && !"https".equals(upstream.getScheme())) {
            throw new IllegalArgumentException("upstream must be an http:// or https:// URL, not " + redact(upstream));
        }
        if (upstream.getHost() == null)
            throw new IllegalArgumentException("upstream " + redact(upstream) + " has no host");
        // the proxy sends no credentials of its own: a user name and password here were dropped silently
        // while the start line showed them masked, as if used (helper-47)
        if (upstream.getRawUserInfo() != null)
            throw new IllegalArgumentException("the upstream URL carries a user name or password, which the proxy"
                    + " never sends; give the URL without them (clients send their own Authorization, keyed by hash)");
        if (upstream.getRawQuery() != null || upstream.getRawFragment() != null)
            throw new IllegalArgumentException(
                    "the upstream URL has a query or fragment; give the base URL only (requests bring their own query)");
        // helper-68: "http://host//" (a variable ending in '/' joined with another) made each request's target
        // a network-path reference, "//evil:80/x", sent to another host with the client's credentials
        String basePath = upstream.getRawPath() == null ? "" : upstream.getRawPath();
        if (basePath.contains("//"))
            throw new IllegalArgumentException("the upstream URL's path " + basePath + " has an empty segment ('//');"
                    + " give the base URL with single slashes, e.g. " + upstream.getScheme() + "://"
                    + upstream.getRawAuthority() + basePath.replaceAll("/{2,}", "/"));
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be 0..65535, not " + port);
        if (nearCacheBytes < 1) throw new IllegalArgumentException("near cache bytes must be at least 1");
        long heap = Runtime.getRuntime().maxMemory();
        if (answerMemoryBytes > heap / 2)
            // maxResponseBytes: 100000000000 passed, and one 150 MB answer ran the heap out (helper-23)
            throw new IllegalArgumentException("the memory for answers in flight (" + answerMemoryBytes
                    + " bytes, at least twice the largest answer stored) must be at most half the heap (" + heap
                    + " bytes): lower --answer-memory or maxResponseBytes, or give the JVM more (-Xmx)");
        if (answerMemoryBytes <= maxCachedResponseBytes)
            throw new IllegalArgumentException("the memory for answers in flight (" + answerMemoryBytes
                    + " bytes) must exceed the largest answer stored (" + maxCachedResponseBytes + " bytes)");
        if (maxUpstreamConnections < 1 || maxQueuedUpstreamRequests < 1)
            throw new IllegalArgumentException("upstream connections and queue must be at least 1");
        if (maxClientConnections < 1)
            throw new IllegalArgumentException("client connections must be at least 1, not " + maxClientConnections);
        if (maxConnectionsPerAddress < 0)
            throw new IllegalArgumentException(
                    "connections per address must be 0 (no limit) or more, not " + maxConnectionsPerAddress);
        if (requestHeaderTimeout == null || requestHeaderTimeout.toMillis() < 1)
            throw new IllegalArgumentException("the request header timeout must be at least 1 ms");
        // 0 passed here, though the command refused it: every request was answered 504
        atLeastOneMilli(connectTimeout, "connect timeout");
        atLeastOneMilli(upstreamTimeout, "upstream timeout");
        if (keySecret != null && keySecret.strip().length() < MIN_KEY_SECRET_LENGTH)
            throw new IllegalArgumentException("the key secret must be at least " + MIN_KEY_SECRET_LENGTH
                    + " characters; make one with: openssl rand -hex 32");
        // helper-76: one-letter tokens and the templates' placeholders (deploy/kubernetes.yaml's change-me-too)
        // were taken, so a replica deployed from the template let anyone who read it purge every answer
        if (adminToken != null && adminToken.strip().length() < MIN_KEY_SECRET_LENGTH)
            throw new IllegalArgumentException("the admin token must be at least " + MIN_KEY_SECRET_LENGTH
                    + " characters; make one with: openssl rand -hex 32");
        // a header carries printable ASCII: any other token could never be sent (helper-78)
        if (adminToken != null && !adminToken.chars().allMatch(c -> c > 0x20 && c < 0x7F))
            throw new IllegalArgumentException("the admin token must be printable ASCII without spaces, as an"
                    + " Authorization header carries it; make one with: openssl rand -hex 32");
        refusePlaceholder(adminToken, "the admin token");
        refusePlaceholder(keySecret, "the key secret");
        if (maxRequestBodyBytes < 0)
            throw new IllegalArgumentException(
                    "the largest request body must be 0 (no bodies) or more, not " + maxRequestBodyBytes);
        if (maxCachedResponseBytes < 1)
            throw new IllegalArgumentException(
                    "the largest answer stored must be at least 1 byte, not " + maxCachedResponseBytes);
        if (maxRequestHeaderBytes < 1)
            throw new IllegalArgumentException(
                    "the largest request header block must be at least 1 byte, not " + maxRequestHeaderBytes);
        // routes: [] cached nothing and said nothing: every request went to the upstream
        if (routes.isEmpty())
            throw new IllegalArgumentException("there are no routes, so nothing would be cached; list at least one,"
                    + " or leave routes out for the default route '/'");
        credentialHeaders = credentialHeaders.stream()
                .map(h -> h.trim().toLowerCase(Locale.ROOT))
                .collect(java.util.stream.Collectors.toUnmodifiableSet());
        java.util.Map<String, String> prefixes = new java.util.HashMap<>();
        for (Route r : routes) {
            // the admin endpoints answer every path under /-/ before any route is looked at
            if (r.prefix().startsWith("/-/") && r.prefix().length() > 3)
                throw new IllegalArgumentException("route " + r.prefix() + " can never be reached: paths under /-/"
                        + " are the proxy's own (health, metrics, purge); give another prefix");
            // requests are routed by their path's normal form (escapes of unreserved characters decoded, the
            // others upper-cased, non-ASCII and spaces escaped, dot segments removed): a prefix in another
            // form never matched one (helper-76)
            String normal = ProxyRequest.normalisePath(r.prefix());
            if (normal == null || !normal.equals(r.prefix()))
                throw new IllegalArgumentException("route " + r.prefix() + " can never be reached: requests are"
                        + " routed by their path's normal form"
                        + (normal == null ? ", and this prefix has none" : "; write it as " + normal));
            // ... and a request path the server refuses (400) before any route: %2F, %25, %5C, a control
            // character's escape, an empty segment (helper-78: accepted, and every request under it got 400)
            String refused;
            try {
                refused = org.eclipse.jetty.http.UriCompliance.checkUriCompliance(
                        org.eclipse.jetty.http.UriCompliance.DEFAULT,
                        org.eclipse.jetty.http.HttpURI.build(r.prefix()),
                        null);
            } catch (IllegalArgumentException e) {
                refused = e.getMessage();
            }
            if (refused != null)
                throw new IllegalArgumentException("route " + r.prefix() + " can never be reached: the server refuses"
                        + " every request path under it (" + refused + ")");
            // /v1 and /v1/ cover the same paths: the longer one took them all, the other was never used
            String paths = r.prefix().length() > 1 && r.prefix().endsWith("/")
                    ? r.prefix().substring(0, r.prefix().length() - 1)
                    : r.prefix();
            String earlier = prefixes.putIfAbsent(paths, r.prefix());
            if (earlier != null)
                throw new IllegalArgumentException(
                        earlier.equals(r.prefix())
                                ? "route " + r.prefix() + " is given twice"
                                : "routes " + earlier + " and " + r.prefix()
                                        + " cover the same paths; give one of them");
            for (String n : r.neutral()) {
                if (HeaderRules.credential(credentialHeaders, n) || n.equals("accept-encoding")) {
                    throw new IllegalArgumentException("route " + r.prefix() + ": " + n + " cannot be neutral: "
                            + (n.equals("accept-encoding")
                                    ? "the proxy keys the encoding it asks for"
                                    : "its name makes it a credential, keyed by digest (keyAuthorization: false"
                                            + " shares the answers of Authorization, Cookie, the usual API-key"
                                            + " headers and credentialHeaders only)"));
                }
            }
            // a vary list says the answers depend on these headers: one the key leaves out would share an
            // answer made for one value with every other (X-Forwarded-For: one client address's answer for all)
            for (String n : r.vary()) {
                if (ProxyRequest.forwardedUnkeyed(r, keyAuthorization, credentialHeaders, n))
                    throw new IllegalArgumentException("route " + r.prefix() + ": " + n
                            + " cannot be in vary: the key leaves it out ("
                            + (ProxyRequest.neutral(r, n)
                                    ? "it is neutral"
                                    : "keyAuthorization: false shares credentials")
                            + "), so an answer made for one value would be served for every other");
            }
        }
        routes = routes.stream()
                .sorted(Comparator.comparingInt((Route r) -> r.prefix().length())
                        .reversed())
                .toList();
    }

    /**
     * Words and marks of templates' placeholders: a secret holding one was copied unchanged (none of them
     * can come out of openssl rand -hex or -base64 but by a chance under one in ten billion).
     */
    private static final List<String> PLACEHOLDERS = List.of(
            "changeme", "change-me", "change_me", "replaceme", "replace-me", "replace_me", "<", ">", "${", "$(");

    /** Fewer distinct characters than this is a pattern (xxxx..., 0000..., passwordpassword), not a secret. */
    private static final int FEWEST_DISTINCT = 8;

    private static void refusePlaceholder(String secret, String what) {
        if (secret == null) return;
        String lower = secret.toLowerCase(Locale.ROOT);
        for (String p : PLACEHOLDERS)
            if (lower.contains(p))
                throw new IllegalArgumentException(what + " is a template's placeholder (it holds '" + p
                        + "'); make one with: openssl rand -hex 32");
        if (secret.strip().chars().distinct().count() < FEWEST_DISTINCT)
            throw new IllegalArgumentException(what + " repeats a few characters (fewer than " + FEWEST_DISTINCT
                    + " different ones): a pattern, not a secret; make one with: openssl rand -hex 32");
    }

    private static void atLeastOneMilli(Duration timeout, String what) {
        if (timeout == null || timeout.toMillis() < 1)
            throw new IllegalArgumentException("the " + what + " must be at least 1 ms, not "
                    + (timeout == null ? "none" : timeout.toMillis() + " ms"));
    }

    /**
     * Options for a proxy in front of this upstream.
     *
     * @param upstream the upstream's base URL
     * @return a builder with the defaults
     */
    public static Builder builder(URI upstream) {
        return new Builder(upstream);
    }

    /**
     * The upstream as keys name it: scheme, host and port (always explicit), base path; never its
     * user-info. Two proxies in front of different upstreams never share an answer, whatever their
     * namespace.
     */
    String origin() {
        int port = upstream.getPort() >= 0
                ? upstream.getPort()
                : upstream.getScheme().equals("https") ? 443 : 80;
        String base = upstream.getRawPath() == null ? "" : upstream.getRawPath().replaceAll("/+$", "");
        return upstream.getScheme().toLowerCase(Locale.ROOT) + "://"
                + upstream.getHost().toLowerCase(Locale.ROOT) + ":" + port + base;
    }

    /**
     * What decides a route's keys besides the request, as a short hash: credential names and whether
     * they are keyed, the route's mode and its vary and neutral lists. Keys made under one policy are
     * never found under another (a restart with other settings, replicas configured apart).
     */
    String keyPolicy(Route route) {
        List<String> names = new java.util.ArrayList<>(credentialHeaders);
        java.util.Collections.sort(names);
        // "rules 3": the key rules of 2026-11-29 (api mode honours Vary; "key", then gateway identities such
        // as X-Forwarded-User, credential words): answers stored under earlier rules (one for every client
        // address, alice's under a URI key her unkeyed identity header shared: helper-71) are never found
        String text = "rules 3 credentials " + (keyAuthorization ? "keyed " : "shared ") + names
                + (route == null
                        ? ""
                        : " http " + route.http() + " vary " + route.vary() + " neutral " + route.neutral());
        return ProxyRequest.sha256(text.getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .substring(0, 16);
    }

    /**
     * The upstream URL without its user-info, for messages and logs.
     *
     * @return the URL, user-info removed
     */
    public String upstreamForDisplay() {
        return redact(upstream);
    }

    /**
     * A URL without its user-info (user:password@), for messages and logs.
     *
     * @param uri a URL
     * @return its text without user-info
     */
    public static String redact(URI uri) {
        return redact(uri.toString());
    }

    /**
     * Any text with the user-info of the URLs in it replaced by {@code ***}: everything between {@code
     * //} and the last {@code @} of the same word, so a password holding {@code /} or {@code @} goes too.
     *
     * @param text any text, or null
     * @return the text with user-info hidden
     */
    public static String redact(String text) {
        return text == null ? null : text.replaceAll("//[^\\s]*@", "//***@");
    }

    /** The route for a path: the longest matching prefix, or null (not cached). */
    Route route(String path) {
        for (Route r : routes) if (r.matches(path)) return r;
        return null;
    }

    /** The configuration as a log may show it: the admin token and the key secret are not shown. */
    @Override
    public String toString() {
        return "ProxyConfig[upstream=" + upstreamForDisplay() + ", host=" + host + ", port=" + port + ", routes="
                + routes + ", adminToken=" + (adminToken == null ? "none" : "***") + ", keySecret="
                + (keySecret == null ? "none" : "***") + ", namespace=" + namespace + "]";
    }

    /** Options with their defaults. */
    public static final class Builder {
        private final URI upstream;
        private String host = "0.0.0.0";
        private int port = 8080;
        private List<Route> routes = List.of(Route.of("/", Duration.ofMinutes(10)));
        private String adminToken;
        private long maxRequestBodyBytes = 1 << 20;
        private int maxRequestHeaderBytes = 16 << 10;
        private long maxCachedResponseBytes = 8 << 20;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration upstreamTimeout = Duration.ofSeconds(30);
        private Duration passThroughMemory = Duration.ofSeconds(10);
        private Duration drainTimeout = Duration.ofSeconds(10);
        private boolean keyAuthorization = true;
        private boolean accessLog;
        private String namespace = "proxy";
        private long nearCacheEntries = 10_000;
        private long nearCacheBytes = 64L << 20;
        /** Negative: a quarter of the heap, and at least twice the largest answer stored. */
        private long answerMemoryBytes = -1;

        private Set<String> credentialHeaders = HeaderRules.CREDENTIALS;
        private int maxUpstreamConnections = 256;
        private int maxQueuedUpstreamRequests = 1024;
        /** Unset ({@code Integer.MIN_VALUE}): from the process's file descriptors. */
        private int maxClientConnections = Integer.MIN_VALUE;

        private int maxConnectionsPerAddress;

        private Duration requestHeaderTimeout = Duration.ofSeconds(10);
        private String keySecret;

        private Builder(URI upstream) {
            this.upstream = upstream;
        }

        /**
         * The address to listen on (default 0.0.0.0).
         *
         * @param host an address or host name
         * @return this builder
         */
        public Builder host(String host) {
            this.host = host;
            return this;
        }

        /**
         * The port to listen on (default 8080; 0 for any free port).
         *
         * @param port 0 to 65535
         * @return this builder
         */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /**
         * How requests are cached, by path prefix (default: everything, GET and HEAD, for 10 minutes).
         *
         * @param routes the routes; the longest matching prefix wins, unmatched paths pass through
         * @return this builder
         */
        public Builder routes(List<Route> routes) {
            this.routes = List.copyOf(routes);
            return this;
        }

        /**
         * The bearer token of {@code POST /-/purge} (default none: purge is off).
         *
         * @param token the token, or null or blank for none
         * @return this builder
         */
        public Builder adminToken(String token) {
            // stripped as a client's is: a token read from a file with its newline could never be matched,
            // so purge and metrics were locked out (helper-78)
            this.adminToken = token == null || token.isBlank() ? null : token.strip();
            return this;
        }

        /**
         * The largest request body forwarded (default 1 MiB); larger ones get 413.
         *
         * @param bytes positive
         * @return this builder
         */
        public Builder maxRequestBodyBytes(long bytes) {
            this.maxRequestBodyBytes = bytes;
            return this;
        }

        /**
         * The largest request header block accepted (default 16 KiB).
         *
         * @param bytes positive
         * @return this builder
         */
        public Builder maxRequestHeaderBytes(int bytes) {
            this.maxRequestHeaderBytes = bytes;
            return this;
        }

        /**
         * The largest answer stored (default 8 MiB); larger ones are streamed through.
         *
         * @param bytes positive
         * @return this builder
         */
        public Builder maxCachedResponseBytes(long bytes) {
            this.maxCachedResponseBytes = bytes;
            return this;
        }

        /**
         * How long connecting to the upstream may take (default 5 s).
         *
         * @param d at least 1 ms
         * @return this builder
         */
        public Builder connectTimeout(Duration d) {
            this.connectTimeout = d;
            return this;
        }

        /**
         * How long an upstream answer may take (default 30 s).
         *
         * @param d at least 1 ms
         * @return this builder
         */
        public Builder upstreamTimeout(Duration d) {
            this.upstreamTimeout = d;
            return this;
        }

        /**
         * How long {@link OnceProxy#close()} waits for in-flight requests (default 10 s).
         *
         * @param d zero or more
         * @return this builder
         */
        public Builder drainTimeout(Duration d) {
            this.drainTimeout = d;
            return this;
        }

        /**
         * Whether credentials ({@code Authorization}, {@code Cookie}, API-key headers) join the key, by
         * hash (default true). False says the upstream's answers are the same for every caller: they are
         * then shared between callers with different credentials.
         *
         * @param b false to share answers between callers
         * @return this builder
         */
        public Builder keyAuthorization(boolean b) {
            this.keyAuthorization = b;
            return this;
        }

        /**
         * Whether to log one line per request (default false).
         *
         * @param b true to log
         * @return this builder
         */
        public Builder accessLog(boolean b) {
            this.accessLog = b;
            return this;
        }

        /**
         * Cache namespace prefix: proxies sharing a database and namespace share answers (default "proxy").
         *
         * @param namespace the prefix
         * @return this builder
         */
        public Builder namespace(String namespace) {
            this.namespace = namespace;
            return this;
        }

        /**
         * Answers kept in each replica's memory too (Caffeine, default 10,000; 0 turns it off), each no
         * longer than its remaining TTL; purges reach other replicas' copies through NOTIFY on PostgreSQL,
         * elsewhere a copy lives at most 1 s.
         *
         * @param entries zero (off) or more
         * @return this builder
         */
        public Builder nearCacheEntries(long entries) {
            this.nearCacheEntries = entries;
            return this;
        }

        /**
         * What the answers kept in this replica's memory may weigh, counted as stored (default 64 MiB),
         * split evenly among the routes; with {@link #nearCacheEntries} (per route), both bound it. An
         * answer over half of a route's share is read from the table each time instead.
         *
         * @param bytes at least 1
         * @return this builder
         */
        public Builder nearCacheBytes(long bytes) {
            this.nearCacheBytes = bytes;
            return this;
        }

        /**
         * What the answers held in memory for requests in flight may weigh in all (default a quarter of
         * the heap): read from the upstream, or being written to clients ({@link AnswerMemory}). Past it,
         * an upstream answer is passed through without being stored, and a stored one is refused with 503.
         *
         * @param bytes at least {@link #maxCachedResponseBytes} + 1
         * @return this builder
         */
        public Builder answerMemoryBytes(long bytes) {
            this.answerMemoryBytes = bytes;
            return this;
        }

        /**
         * Request headers that carry credentials, in addition to {@link HeaderRules#CREDENTIALS}: keyed by
         * hash, so callers with different values never share an answer.
         *
         * @param extra header names
         * @return this builder
         */
        public Builder credentialHeaders(java.util.Collection<String> extra) {
            Set<String> all = new java.util.HashSet<>(HeaderRules.CREDENTIALS);
            all.addAll(HeaderRules.configuredNames("credential headers", extra));
            this.credentialHeaders = all;
            return this;
        }

        /**
         * Connections to the upstream at once (default 256).
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder maxUpstreamConnections(int n) {
            this.maxUpstreamConnections = n;
            return this;
        }

        /**
         * Requests waiting for an upstream connection (default 1,024); beyond, clients get 503 with Retry-After.
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder maxQueuedUpstreamRequests(int n) {
            this.maxQueuedUpstreamRequests = n;
            return this;
        }

        /**
         * Client connections at most (default: three quarters of the process's file descriptors less 512,
         * at least 1,024). At the limit the replica accepts no more, and closes the open connections idle
         * for 2 s: clients that send their headers slowly cannot take every file descriptor.
         *
         * @param n at least 1
         * @return this builder
         */
        public Builder maxClientConnections(int n) {
            this.maxClientConnections = n;
            return this;
        }

        /**
         * Client connections at most from one IP address (default 0: no such limit, as behind a load
         * balancer every client comes from its addresses). A connection over the limit is closed as it
         * opens. For a replica that clients reach directly: one client opening connections faster than
         * they time out could otherwise hold every slot of {@link #maxClientConnections} (nginx's {@code
         * limit_conn}).
         *
         * @param n 0 (no limit) or more
         * @return this builder
         */
        public Builder maxConnectionsPerAddress(int n) {
            this.maxConnectionsPerAddress = n;
            return this;
        }

        /**
         * How long a request's headers may take to arrive, from their first byte (default 10 s, as
         * nginx's {@code client_header_timeout} but shorter); past it the connection is closed. A client
         * sending its headers a line at a time held its connection as long as it liked (slowloris).
         *
         * @param timeout at least 1 ms
         * @return this builder
         */
        public Builder requestHeaderTimeout(Duration timeout) {
            this.requestHeaderTimeout = timeout;
            return this;
        }

        /**
         * The secret credentials are digested under in keys (default none: their plain SHA-256, which
         * whoever can read the cache's table can test guesses of a short API key against). With one, keys
         * hold their HMAC-SHA256 under it; keep it outside the database, the same on every replica (replicas
         * with other secrets share no credentialed answers). Changing it makes every credentialed key new.
         *
         * @param secret at least {@value ProxyConfig#MIN_KEY_SECRET_LENGTH} characters, or null or blank for none
         * @return this builder
         */
        public Builder keySecret(String secret) {
            this.keySecret = secret == null || secret.isBlank() ? null : secret;
            return this;
        }

        /**
         * The configuration with these options.
         *
         * @return the configuration
         * @throws IllegalArgumentException when an option is invalid
         */
        public ProxyConfig build() {
            return new ProxyConfig(
                    upstream,
                    host,
                    port,
                    routes,
                    adminToken,
                    maxRequestBodyBytes,
                    maxRequestHeaderBytes,
                    maxCachedResponseBytes,
                    connectTimeout,
                    upstreamTimeout,
                    passThroughMemory,
                    drainTimeout,
                    keyAuthorization,
                    accessLog,
                    namespace,
                    nearCacheEntries,
                    nearCacheBytes,
                    answerMemoryBytes >= 0
                            ? answerMemoryBytes
                            : Math.max(Runtime.getRuntime().maxMemory() / 4, 2 * maxCachedResponseBytes + 1),
                    credentialHeaders,
                    maxUpstreamConnections,
                    maxQueuedUpstreamRequests,
                    maxClientConnections != Integer.MIN_VALUE
                            ? maxClientConnections
                            : OnceProxy.clientConnectionLimit(),
                    maxConnectionsPerAddress,
                    requestHeaderTimeout,
                    keySecret);
        }
    }
}
