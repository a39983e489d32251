package dev.once.cli;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.proxy.ConfigFile;
import dev.once.proxy.OnceProxy;
import dev.once.proxy.ProxyConfig;
import dev.once.proxy.Route;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code once serve}: the caching reverse proxy in front of one paid API. */
@Command(
        name = "serve",
        header = "The caching reverse proxy: one upstream call per key across replicas.",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        usageHelpWidth = 100,
        description = {
            "Runs the caching reverse proxy in front of one upstream API: identical requests from any number",
            "of replicas sharing one database cost one upstream call per key.",
            "",
            "Every option can also come from the environment (ONCE_UPSTREAM, ONCE_PORT, ONCE_DB_URL, ...),",
            "and all but --ttl and --warm-up from the YAML file given with --config (a route's ttl goes in",
            "its route); the command line wins over the file.",
            ""
        },
        footer = {
            "",
            "Examples:",
            "  once serve --upstream https://api.example.com         # SQLite file under ./once-data/",
            "  once serve --upstream https://api.example.com --db jdbc:postgresql://db:5432/app --user app",
            "  once serve --config once.yaml --access-log",
            "  once serve --upstream https://origin.example.com --mode http  # Cache-Control decides",
            "",
            "Every response carries X-Once-Cache: HIT | MISS | COALESCED | STALE | BYPASS.",
            "Admin: GET /-/health; GET /-/metrics (Prometheus) and POST /-/purge with",
            "  Authorization: Bearer ADMIN_TOKEN.",
            "SIGTERM: stops accepting, finishes in-flight requests (up to --drain), exits 0."
        })
final class ServeCommand implements Callable<Integer> {
    static final String DEFAULT_DB = "jdbc:sqlite:once-data/once.db";

    @Spec
    CommandSpec spec;

    @Option(
            names = "--upstream",
            paramLabel = "URL",
            defaultValue = "${env:ONCE_UPSTREAM}",
            description = "The API to put the cache in front of (env ONCE_UPSTREAM).")
    String upstream;

    @Option(
            names = "--port",
            defaultValue = "${env:ONCE_PORT}",
            description = "Port to listen on (env ONCE_PORT; default 8080).")
    Integer port;

    @Option(
            names = "--host",
            defaultValue = "${env:ONCE_HOST}",
            description = "Address to listen on (env ONCE_HOST; default 0.0.0.0).")
    String host;

    @Option(
            names = "--db",
            paramLabel = "JDBC_URL",
            defaultValue = "${env:ONCE_DB_URL}",
            description = "Where the cache lives (env ONCE_DB_URL). Default: " + DEFAULT_DB
                    + ", kept across restarts; a PostgreSQL URL lets replicas share one cache.")
    String db;

    @picocli.CommandLine.Mixin
    Credentials credentials = new Credentials();

    @Option(
            names = "--config",
            paramLabel = "FILE",
            defaultValue = "${env:ONCE_CONFIG}",
            description = "YAML file with routes and options (env ONCE_CONFIG).")
    Path config;

    @Option(
            names = "--mode",
            paramLabel = "api|http",
            defaultValue = "${env:ONCE_MODE}",
            description = "api (default): the route's TTL decides; no-store, private and Set-Cookie answers are never"
                    + " stored. For paid APIs that send no cache headers. http: RFC 9111 shared caching (Cache-Control,"
                    + " Expires, Age, ETag revalidation, Vary, invalidation by unsafe methods) for every route without"
                    + " a ttl of its own (env ONCE_MODE).")
    String mode;

    @Option(
            names = "--ttl",
            defaultValue = "${env:ONCE_TTL}",
            description = "TTL of the default route '/' when the config has no routes (env ONCE_TTL; default 10m).")
    String ttl;

    @Option(
            names = "--admin-token",
            defaultValue = "${env:ONCE_ADMIN_TOKEN}",
            description = "Token for POST /-/purge and GET /-/metrics, sent as Authorization: Bearer TOKEN (env"
                    + " ONCE_ADMIN_TOKEN, which keeps it out of the process list; at least 16 characters, e.g."
                    + " openssl rand -hex 32); without one both answer 401.")
    String adminToken;

    @Option(
            names = "--key-secret",
            defaultValue = "${env:ONCE_KEY_SECRET}",
            description = "Secret that credentials are keyed under, by HMAC-SHA256 (env ONCE_KEY_SECRET, which keeps it"
                    + " out of the process list; e.g. openssl rand -hex 32). Without one, keys hold their plain SHA-256,"
                    + " which whoever reads the table can test guesses of a short API key against. The same on every"
                    + " replica; kept outside the database.")
    String keySecret;

    @Option(
            names = "--upstream-timeout",
            defaultValue = "${env:ONCE_UPSTREAM_TIMEOUT}",
            description = "Time the upstream has for its answer before 504: its head, and the whole answer when it is"
                    + " stored (env ONCE_UPSTREAM_TIMEOUT; default 30s). An answer too large to store then goes at"
                    + " its client's pace, cut only if the upstream stalls that long.")
    String upstreamTimeout;

    @Option(
            names = "--drain",
            defaultValue = "${env:ONCE_DRAIN}",
            description = "How long SIGTERM waits for in-flight requests (env ONCE_DRAIN; default 10s).")
    String drain;

    @Option(
            names = "--namespace",
            defaultValue = "${env:ONCE_NAMESPACE}",
            description = "Cache namespace; proxies sharing a database and namespace share answers (default proxy).")
    String namespace;

    @Option(
            names = "--near-cache",
            defaultValue = "${env:ONCE_NEAR_CACHE}",
            description =
                    "Answers also kept in this replica's memory, bounded by their TTL (env ONCE_NEAR_CACHE; default 10000; 0 off).")
    Long nearCache;

    @Option(
            names = "--near-cache-bytes",
            defaultValue = "${env:ONCE_NEAR_CACHE_BYTES}",
            description = "What the answers kept in memory may weigh in all, as stored, split evenly among the routes:"
                    + " bytes, or with KB, MB or GB (env ONCE_NEAR_CACHE_BYTES; default 64MB). Both bounds hold; an"
                    + " answer over half of a route's share is read from the database each time.")
    String nearCacheBytes;

    @Option(
            names = "--answer-memory",
            defaultValue = "${env:ONCE_ANSWER_MEMORY}",
            description = "What answers held for requests in flight may weigh in all (read from the upstream, or being"
                    + " written to clients that read slowly): bytes, or with KB, MB or GB (env ONCE_ANSWER_MEMORY;"
                    + " default a quarter of the heap). Past it an upstream answer is passed through unstored and a"
                    + " stored one is refused with 503 and Retry-After.")
    String answerMemory;

    /** The most a warm-up may delay listening. */
    private static final java.time.Duration WARM_UP_BUDGET = java.time.Duration.ofSeconds(15);

    @Option(
            names = "--warm-up",
            defaultValue = "${env:ONCE_WARM_UP:-400}",
            description =
                    "Requests sent through this configuration's path before listening, against a stub upstream on loopback"
                            + " and a scratch namespace (purged after); the upstream is never called. A new replica's first"
                            + " burst is then not served by the interpreter (env ONCE_WARM_UP; default 400, about a second;"
                            + " 0 off).")
    int warmUp;

    /** The most the warm-up of a training run ({@code --exit-after-warm-up}) may take. */
    private static final java.time.Duration TRAINING_BUDGET = java.time.Duration.ofMinutes(5);

    @Option(
            names = "--exit-after-warm-up",
            defaultValue = "${env:ONCE_EXIT_AFTER_WARM_UP:-false}",
            description = "Run the warm-up, then exit instead of listening: the training run of a JDK 25+ AOT cache"
                    + " (java -XX:AOTCacheOutput=once.aot -jar once.jar serve ... --warm-up 2000"
                    + " --exit-after-warm-up, then java -XX:AOTCache=once.aot -jar once.jar serve ...; the ./once"
                    + " launcher does both when ONCE_AOT_CACHE names the file). Its warm-up may take up to "
                    + "5 minutes instead of 15 s. Exits 1 when the warm-up did not reach the database.")
    boolean exitAfterWarmUp;

    @Option(names = "--access-log", description = "One line per request on stdout (env ONCE_ACCESS_LOG=true).")
    boolean accessLog = Boolean.parseBoolean(System.getenv("ONCE_ACCESS_LOG"));

    @Option(names = "--verbose", description = "Print stack traces of failures.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        ConfigFile.Data file = config == null ? new ConfigFile.Data() : readConfig();
        Database.refuseEmpty(spec, db, file.db != null && !file.db.isBlank() ? "the db of --config" : DEFAULT_DB);
        // as an empty --db: --key-secret=$SECRET with the variable unset ran with plain SHA-256 keys (helper-76)
        picocli.CommandLine.ParseResult given = spec.commandLine().getParseResult();
        if ((keySecret == null || keySecret.isBlank()) && given != null && given.hasMatchedOption("--key-secret"))
            throw new UserError("--key-secret is empty; give the secret (e.g. openssl rand -hex 32), or leave"
                    + " --key-secret out to key credentials by their plain SHA-256");
        // as an empty --db: a file's empty db ran on the SQLite default instead of the database meant
        if ((db == null || db.isBlank()) && file.db != null && file.db.isBlank())
            throw new UserError("'db' in --config is empty; give a JDBC URL, or leave it out to use " + DEFAULT_DB);
        // an empty namespace ran on the default one, sharing its answers and its purge with every proxy
        // left at the default on that database (helper-47)
        if ((namespace == null || namespace.isBlank()) && given != null && given.hasMatchedOption("--namespace"))
            throw new UserError("--namespace is empty; give a name, or leave --namespace out to use 'proxy'");
        if ((namespace == null || namespace.isBlank()) && file.namespace != null && file.namespace.isBlank())
            throw new UserError("'namespace' in --config is empty; give a name, or leave it out to use 'proxy'");
        String up = first(upstream, file.upstream);
        if (up == null) throw new UserError("--upstream is required (or ONCE_UPSTREAM, or 'upstream:' in --config)");
        String m = first(mode, file.mode, "api");
        if (!m.equals("api") && !m.equals("http")) throw new UserError("--mode must be api or http, not " + m);
        boolean http = m.equals("http");
        URI upstreamUri;
        try {
            upstreamUri = URI.create(up);
        } catch (IllegalArgumentException e) {
            // the message quotes the input, password and all: only the reason is told
            String reason = e.getCause() instanceof java.net.URISyntaxException u ? u.getReason() : "malformed";
            throw new UserError("--upstream is not a URL (" + reason + "); write e.g. https://api.example.com");
        }
        ProxyConfig.Builder b = ProxyConfig.builder(upstreamUri)
                .host(first(host, file.host, "0.0.0.0"))
                .port(port != null ? port : file.port != null ? file.port : 8080)
                .adminToken(first(adminToken, file.adminToken))
                .keySecret(first(keySecret, file.keySecret))
                .accessLog(accessLog || Boolean.TRUE.equals(file.accessLog))
                .namespace(first(namespace, file.namespace, "proxy"))
                .nearCacheEntries(nearCache != null ? nearCache : file.nearCache != null ? file.nearCache : 10_000)
                .nearCacheBytes(bytes(first(nearCacheBytes, file.nearCacheBytes, "64MB"), "--near-cache-bytes"))
                .upstreamTimeout(positive(
                        first(upstreamTimeout, file.upstreamTimeout, "30s"),
                        upstreamTimeout != null && !upstreamTimeout.isBlank()
                                ? "--upstream-timeout"
                                : "upstreamTimeout"))
                .drainTimeout(duration(first(drain, file.drain, "10s"), "--drain"));
        if (file.connectTimeout != null) b.connectTimeout(positive(file.connectTimeout, "connectTimeout"));
        if (file.maxRequestBodyBytes != null) b.maxRequestBodyBytes(file.maxRequestBodyBytes);
        if (file.maxResponseBytes != null) b.maxCachedResponseBytes(file.maxResponseBytes);
        if (file.keyAuthorization != null) b.keyAuthorization(file.keyAuthorization);
        if (file.maxUpstreamConnections != null) b.maxUpstreamConnections(file.maxUpstreamConnections);
        if (file.maxQueuedUpstreamRequests != null) b.maxQueuedUpstreamRequests(file.maxQueuedUpstreamRequests);
        if (file.maxClientConnections != null) b.maxClientConnections(file.maxClientConnections);
        if (file.maxConnectionsPerAddress != null) b.maxConnectionsPerAddress(file.maxConnectionsPerAddress);
        if (file.requestHeaderTimeout != null)
            b.requestHeaderTimeout(duration(file.requestHeaderTimeout, "requestHeaderTimeout"));
        String memory = first(answerMemory, file.answerMemory);
        if (memory != null && !memory.isBlank()) b.answerMemoryBytes(bytes(memory, "--answer-memory"));
        ProxyConfig proxyConfig;
        try {
            if (file.credentialHeaders != null) b.credentialHeaders(file.credentialHeaders);
            List<Route> routes = ConfigFile.routes(file, http);
            // a TTL of its own made '/' an api-mode route: RFC 9111 off for every path while the start line said
            // http (helper-76; ONCE_TTL left in a deployment's environment did it without a word)
            if (http && routes == null && ttl != null && !ttl.isBlank()) // a blank one is unset, as elsewhere
            throw new UserError((given != null && given.hasMatchedOption("--ttl") ? "--ttl" : "ONCE_TTL")
                    + " gives the default route '/' a TTL of its own, which in http mode turns RFC 9111 off for"
                    + " it (the upstream's Cache-Control would not decide); leave it out, or use --mode api");
            Route fallback = http && (ttl == null || ttl.isBlank())
                    ? Route.http("/")
                    : Route.of("/", duration(first(ttl, "10m"), "--ttl"));
            b.routes(routes != null ? routes : List.of(fallback));
            proxyConfig = b.build();
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        }

        if (warmUp < 0) throw new UserError("--warm-up must be 0 (off) or more, not " + warmUp);
        if (exitAfterWarmUp && warmUp == 0)
            throw new UserError("--exit-after-warm-up needs a warm-up: --warm-up 0 would train nothing");
        String dbUrl = first(db, file.db, DEFAULT_DB);
        if (dbUrl.startsWith("jdbc:sqlite:")) {
            Path parent = Path.of(dbUrl.substring("jdbc:sqlite:".length()).replaceAll("\\?.*", ""))
                    .toAbsolutePath()
                    .getParent();
            if (parent != null) {
                try {
                    Files.createDirectories(parent);
                } catch (java.io.IOException e) {
                    throw new UserError(
                            "cannot create the folder for the SQLite database, " + parent + ": " + Errors.describe(e)
                                    + " (run where it can be created, or give --db)",
                            e);
                }
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        try (Database database = Database.connectUnlessDown(
                        dbUrl, first(credentials.user, file.dbUser), first(credentials.password, file.dbPassword));
                HikariDataSource pool = database.pool(32)) {
            if (database.down != null) {
                // a replica restarted during an outage serves, uncached, rather than crash-looping
                out.println("once serve: " + database.down);
                out.flush();
                if (exitAfterWarmUp) {
                    spec.commandLine()
                            .getErr()
                            .println("once serve: the database cannot be reached: nothing worth training on;"
                                    + " not listening (--exit-after-warm-up)");
                    spec.commandLine().getErr().flush();
                    return 1;
                }
                out.println("once serve: starting without the cache: requests pass through to the upstream"
                        + " (X-Once-Cache: BYPASS) until the database answers, then it caches;"
                        + " /-/health says \"cache\":\"fail-open\" meanwhile");
                if (warmUp > 0) out.println("once serve: warm-up skipped: the database cannot be reached");
            } else if (warmUp > 0) {
                long t0 = System.nanoTime();
                java.time.Duration budget = exitAfterWarmUp ? TRAINING_BUDGET : WARM_UP_BUDGET;
                boolean reached = false;
                try {
                    OnceProxy.WarmUpReport w = OnceProxy.warmUp(proxyConfig, pool, warmUp, budget);
                    reached = w.cached() > 0;
                    long ms = (System.nanoTime() - t0) / 1_000_000;
                    if (w.cached() == 0) {
                        out.printf(
                                "once serve: warm-up did not reach the database in %d ms (%d of %d requests answered"
                                        + " without it); the first requests will be slower%n",
                                ms, w.answered(), w.requested());
                    } else {
                        out.printf(
                                "once serve: warmed up in %d ms (%d of %d requests through the cache%s, against a local"
                                        + " stub; the upstream was not called)%n",
                                ms,
                                w.cached(),
                                w.requested(),
                                w.cutShort() ? ", stopped at the " + budget.toSeconds() + " s budget" : "");
                    }
                    if (w.problem() != null) out.println("once serve: warm-up: " + w.problem());
                } catch (Exception e) { // a slower first burst, not a reason to stay down
                    out.println("once serve: warm-up skipped: " + Errors.describe(e));
                }
                out.flush();
                if (exitAfterWarmUp) {
                    if (!reached) {
                        // a training run without the store would leave its statements out of an AOT cache
                        spec.commandLine()
                                .getErr()
                                .println("once serve: the warm-up did not go through the database: nothing worth"
                                        + " training on; not listening (--exit-after-warm-up)");
                        spec.commandLine().getErr().flush();
                        return 1;
                    }
                    out.println("once serve: exiting after the warm-up (--exit-after-warm-up); not listening");
                    out.flush();
                    return 0;
                }
            }
            OnceProxy proxy;
            try {
                proxy = OnceProxy.start(proxyConfig, pool);
            } catch (java.io.IOException e) {
                throw new UserError(
                        "cannot listen on " + proxyConfig.host() + ":" + proxyConfig.port() + ": " + e.getMessage(), e);
            }
            AtomicBoolean stopping = new AtomicBoolean();
            Runnable stop = () -> {
                if (!stopping.compareAndSet(false, true)) return;
                out.println("once serve: stopping, finishing in-flight requests (up to "
                        + proxyConfig.drainTimeout().toSeconds() + " s)");
                out.flush();
                try {
                    proxy.close();
                } catch (Exception e) {
                    out.println("once serve: " + Errors.describe(e));
                }
            };
            for (String signal : List.of("TERM", "INT")) {
                sun.misc.Signal.handle(
                        new sun.misc.Signal(signal), s -> Thread.ofPlatform().start(stop));
            }
            out.printf(
                    "once serve: listening on http://%s:%d, upstream %s, store %s, mode %s, %d route(s), %s%n",
                    proxyConfig.host().contains(":") ? "[" + proxyConfig.host() + "]" : proxyConfig.host(), // IPv6
                    proxy.port(),
                    proxyConfig.upstreamForDisplay(),
                    database.description,
                    m,
                    proxyConfig.routes().size(),
                    proxyConfig.keySecret() != null
                            ? "credentials keyed by HMAC under the key secret"
                            : "credentials keyed by plain SHA-256 (set ONCE_KEY_SECRET to key them by HMAC)");
            out.flush();
            proxy.awaitStop();
            out.println("once serve: stopped");
            out.flush();
        }
        return 0;
    }

    private ConfigFile.Data readConfig() {
        if (!Files.isReadable(config)) throw new UserError("--config " + config + ": no such readable file");
        try {
            return ConfigFile.read(config);
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        } catch (java.io.IOException e) {
            throw new UserError("--config " + config + ": " + e.getMessage());
        }
    }

    private static Duration duration(String text, String what) {
        try {
            return ConfigFile.duration(text, what);
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        }
    }

    /** A duration that must be more than 0: a timeout of 0 would fail every request (as --ttl 0 is refused). */
    private static Duration positive(String text, String what) {
        Duration d = duration(text, what);
        if (d.isZero() || d.isNegative())
            throw new UserError(what + " must be more than 0, not '" + text.trim() + "'; write e.g. 30s");
        return d;
    }

    /** A size: plain bytes, or a number with KB, MB or GB (powers of 1,024; case and a space ignored). */
    static long bytes(String text, String what) {
        String t = text.trim().toUpperCase(java.util.Locale.ROOT).replace(" ", "");
        long unit = 1;
        for (String[] u : new String[][] {{"KB", "10"}, {"MB", "20"}, {"GB", "30"}, {"B", "0"}}) {
            if (t.endsWith(u[0])) {
                unit = 1L << Integer.parseInt(u[1]);
                t = t.substring(0, t.length() - u[0].length());
                break;
            }
        }
        try {
            long n = Long.parseLong(t);
            if (n < 1 || n > Long.MAX_VALUE / unit) throw new NumberFormatException();
            return n * unit;
        } catch (NumberFormatException e) {
            throw new UserError(what + " must be a size such as 64MB, 512KB or 1048576 (bytes), not '" + text + "'");
        }
    }

    @SafeVarargs
    private static <T> T first(T... values) {
        for (T v : values) if (v != null && !(v instanceof String s && s.isBlank())) return v;
        return null;
    }
}
