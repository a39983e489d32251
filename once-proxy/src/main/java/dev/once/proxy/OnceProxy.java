package dev.once.proxy;

import dev.once.cache.OnceCache;
import dev.once.cache.OnceCacheBuilder;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmCompilationMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A caching reverse proxy in front of one upstream, on Jetty 12 with virtual threads, whose cache is
 * a once-cache table: any number of replicas on one database make one upstream call per key.
 *
 * <pre>{@code
 * try (OnceProxy proxy = OnceProxy.start(ProxyConfig.builder(URI.create("https://api.example.com")).build(), dataSource)) {
 *     proxy.awaitStop();
 * }
 * }</pre>
 */
public final class OnceProxy implements AutoCloseable {
    /** How long a client's connection may idle while the replica is at its connection limit. */
    static final long AT_LIMIT_IDLE_MILLIS = 2_000;

    /**
     * The default of {@link ProxyConfig#maxClientConnections}: three quarters of the process's file
     * descriptors less 512 (for the database, the upstream, files), at least 1,024; 10,000 where the
     * limit cannot be read.
     */
    static int clientConnectionLimit() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
            long fds = unix.getMaxFileDescriptorCount();
            return (int) Math.max(1_024, Math.min(Integer.MAX_VALUE, fds / 4 * 3 - 512));
        }
        return 10_000;
    }

    private final Server server;
    private final ServerConnector connector;
    private final Upstream upstream;
    private final Map<Route, OnceCache<Cached>> caches;
    private final JvmGcMetrics gcMetrics;

    private OnceProxy(
            Server server,
            ServerConnector connector,
            Upstream upstream,
            Map<Route, OnceCache<Cached>> caches,
            JvmGcMetrics gcMetrics) {
        this.server = server;
        this.connector = connector;
        this.upstream = upstream;
        this.caches = caches;
        this.gcMetrics = gcMetrics;
    }

    /**
     * The JVM's own meters beside the proxy's, as an operator of a Java service expects them on
     * /-/metrics: memory, GC pauses, threads, classes, JIT compilation time (how warm a replica is),
     * CPU and uptime.
     */
    private static JvmGcMetrics bindJvmMetrics(PrometheusMeterRegistry registry) {
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new JvmCompilationMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(registry);
        return gc;
    }

    /**
     * Gives the route's cache its namespace: the proxy's namespace, a space, the route's prefix. Refused
     * with both named, since the operator wrote neither as it is checked (a 201-character prefix said
     * "namespace must be 1 to 200 characters" under the default namespace, helper-29).
     */
    private static <V> OnceCacheBuilder<V> routeNamespace(OnceCacheBuilder<V> builder, String namespace, Route route) {
        String combined = namespace + " " + route.prefix();
        try {
            return builder.namespace(combined);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("route " + route.prefix() + " under namespace '" + namespace
                    + "': their cache namespace '" + combined + "' is refused: " + e.getMessage());
        }
    }

    /**
     * Creates the caches (and their table if missing), starts the upstream client and the server.
     *
     * @param config what to serve and how
     * @param dataSource the store (the caches' database)
     * @return the running proxy; close it to stop
     * @throws Exception when the caches or the server cannot start (the port is taken, the database refuses the
     *     table); an unreachable database is not one: requests pass through until it answers
     */
    public static OnceProxy start(ProxyConfig config, DataSource dataSource) throws Exception {
        refuseItself(config);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        // with a key secret (kept outside the database), sealed values are keyed with it too: whoever reads
        // the database (pg_read_all_data, a REPLICATION role, a backup) cannot forge one, and values are sent
        // whichever roles can read the seal table (helper-80, helper-81)
        byte[] sealKey = new CredentialDigest(config.keySecret()).derived(SEAL_KEY_LABEL);
        Map<Route, OnceCacheBuilder<Cached>> builders = new LinkedHashMap<>();
        for (Route route : config.routes()) {
            var builder = routeNamespace(OnceCache.builder(dataSource), config.namespace(), route)
                    .ttl(route.ttl())
                    .staleWhileRevalidate(route.staleWhileRevalidate())
                    .codec(Cached.CODEC)
                    // an upstream's failure reaches every replica's waiters as that failure, after one call:
                    // a hanging API is not tried again by each replica in turn (a client may retry)
                    .failedRoundsBeforeError(0)
                    // a replica restarted while the database is down serves, passing requests through,
                    // and caches once the database answers: it does not crash-loop (helper-47)
                    .startWhileUnreachable(true)
                    // the stored answer travels with its NOTIFY, sealed (PostgreSQL): a waiting replica need
                    // not read the row. Two same-run pairs of the proxy-waiters bench on a quiet machine (issue
                    // 12): p50 151.2 / 151.3 against 153.5 / 156.0 ms, p99 193.1 / 188.0 against 199.6 / 194.6
                    .notifyValues(true);
            if (sealKey != null) builder.sealKey(sealKey);
            if (route.http()) builder.expiry(HttpMode.expiry(route)).retainExpired(HttpMode.RETAIN);
            builders.put(
                    route,
                    builder.nearCache(config.nearCacheEntries())
                            // one budget for the replica, split evenly: per route, 20 routes of 64 MB each
                            // filled a 256 MB heap (helper-20)
                            .nearCacheMaxBytes(Math.max(
                                    1, config.nearCacheBytes() / config.routes().size()))
                            .maxValueBytes(
                                    (int) Math.min(Integer.MAX_VALUE, config.maxCachedResponseBytes() + ENCODING_ROOM))
                            .meterRegistry(registry));
        }
        Map<Route, OnceCache<Cached>> caches = built(builders);
        try {
            return serve(config, dataSource, registry, caches);
        } catch (Exception | Error e) {
            // a cache still starting would go on trying, and could start, with nobody to close it
            caches.values().forEach(OnceCache::close);
            throw e;
        }
    }

    /** Starts the upstream client and the server in front of the caches built. */
    private static OnceProxy serve(
            ProxyConfig config,
            DataSource dataSource,
            PrometheusMeterRegistry registry,
            Map<Route, OnceCache<Cached>> caches)
            throws Exception {
        // the store may take less than the answers' limit (MariaDB's max_allowed_packet): larger answers are
        // then passed through uncached, as answers over the limit are, not failed after the upstream's call
        ProxyConfig effective = storable(config, caches);
        AnswerMemory memory = new AnswerMemory(effective.answerMemoryBytes());
        io.micrometer.core.instrument.Gauge.builder("once.proxy.answer.memory", memory, AnswerMemory::used)
                .description("bytes of answers held for requests in flight (read from the upstream, being written)")
                .baseUnit("bytes")
                .register(registry);
        Upstream upstream = new Upstream(effective, memory);
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName("once-proxy");
        java.util.concurrent.ExecutorService virtual = Executors.newVirtualThreadPerTaskExecutor();
        threads.setVirtualThreadsExecutor(virtual);
        Server server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setRequestHeaderSize(effective.maxRequestHeaderBytes());
        http.setResponseHeaderSize(Upstream.MAX_RESPONSE_HEADER_BYTES + 16 * 1024); // the upstream's, and ours
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        // Jetty caches header fields per connection and by default matches values ignoring case, so a
        // second request could carry the first one's spelling of its Authorization: never in a proxy
        http.setHeaderCacheCaseSensitive(true);
        http.setSendDateHeader(
                false); // a stored answer keeps its origin's Date (RFC 9110 6.6.1); Upstream adds one if missing
        // a selector per core: a near-cache hit is answered on its selector's thread (ProxyHandler), so the
        // selectors are the hit path's threads; Jetty's default is one per two cores
        int selectors = Math.max(1, Runtime.getRuntime().availableProcessors());
        ServerConnector connector = new ServerConnector(server, 1, selectors, new OriginFormOnly(http));
        // the kernel's queue of connections not yet accepted: Java's default is 50, so a burst of new clients
        // at a fresh replica (600 at once in the proxy-waiters bench) overflowed it and the dropped SYNs
        // were retried a second later (the first burst's p99: 1.1 s); nginx asks 511. Linux caps it at
        // net.core.somaxconn (4096 by default)
        connector.setAcceptQueueSize(ACCEPT_QUEUE);
        connector.setHost(effective.host());
        connector.setPort(effective.port());
        server.addConnector(connector);
        // Clients hold a connection each: one client that opened 20,400 and sent a header line every 5 s
        // (slowloris) took every file descriptor, and the replica accepted no one for as long as it lasted
        // (helper-22). At the limit Jetty stops accepting and gives the open connections a 2 s idle timeout,
        // so the slow ones make room (a client sending a byte on each faster than that still holds its own)
        NetworkConnectionLimit limit = new NetworkConnectionLimit(effective.maxClientConnections(), connector);
        limit.setEndPointIdleTimeout(AT_LIMIT_IDLE_MILLIS);
        server.addBean(limit);
        // ... and, where clients come straight to the replica, one address may hold only so many of them
        if (effective.maxConnectionsPerAddress() > 0) {
            AddressLimit perAddress = new AddressLimit(effective.maxConnectionsPerAddress());
            connector.addEventListener(perAddress);
            io.micrometer.core.instrument.FunctionCounter.builder(
                            "once.proxy.address.refusals", perAddress, AddressLimit::refused)
                    .description("client connections closed as they opened: their address held the most allowed")
                    .register(registry);
        }
        // ... and one that sends its headers a line at a time, each before the connection goes idle, held
        // it as long as it liked: a request's headers get a deadline from their first byte
        HeaderDeadline deadline = new HeaderDeadline(connector, effective.requestHeaderTimeout());
        server.addBean(deadline);
        io.micrometer.core.instrument.FunctionCounter.builder(
                        "once.proxy.header.timeouts", deadline, HeaderDeadline::closed)
                .description("client connections closed because a request's headers took longer than the timeout")
                .register(registry);
        server.setErrorHandler(new ProxyErrors());
        GracefulHandler graceful = new GracefulHandler();
        graceful.setHandler(
                new ProxyHandler(effective, upstream, caches, registry, probe(dataSource), virtual, memory));
        server.setHandler(graceful);
        server.setStopTimeout(effective.drainTimeout().toMillis());
        server.setStopAtShutdown(false);
        JvmGcMetrics gcMetrics = bindJvmMetrics(registry);
        try {
            server.start();
        } catch (Exception e) {
            upstream.close();
            gcMetrics.close();
            throw e; // the caches are closed by start
        }
        return new OnceProxy(server, connector, upstream, caches, gcMetrics);
    }

    /**
     * An upstream that is this proxy itself (plain HTTP to its port, at an address of this machine it listens
     * on): every request came back to it, hop after hop, each holding a connection, until the upstream timeout
     * answered 504s (helper-76). Looked up only when the ports are the same.
     */
    static void refuseItself(ProxyConfig config) {
        java.net.URI up = config.upstream();
        if (!"http".equals(up.getScheme()) || config.port() == 0) return;
        int port = up.getPort() == -1 ? 80 : up.getPort();
        if (port != config.port()) return;
        try {
            java.util.List<java.net.InetAddress> listened = wildcard(config.host())
                    ? null
                    : java.util.List.of(java.net.InetAddress.getAllByName(config.host()));
            for (java.net.InetAddress a : java.net.InetAddress.getAllByName(up.getHost())) {
                boolean here = a.isLoopbackAddress()
                        || a.isAnyLocalAddress()
                        || java.net.NetworkInterface.getByInetAddress(a) != null;
                if (here && (listened == null || a.isAnyLocalAddress() || listened.contains(a)))
                    throw new IllegalArgumentException("the upstream http://" + up.getHost() + ":" + port
                            + " is this proxy itself (port " + port + " of this machine): every request would come"
                            + " back to it until the upstream timeout; give the API's URL");
            }
        } catch (java.io.IOException unknown) {
            // a name that does not resolve now is not this proxy; requests will say what it is
        }
    }

    private static boolean wildcard(String host) {
        return host == null || host.isEmpty() || host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]");
    }

    /**
     * The configuration with the largest answer stored lowered to what every route's cache stores (less
     * the encoding's room), where that is less: an answer between the two was read whole, refused by the
     * cache and failed with a 502 on every request, where one over the limit is passed through.
     */
    /**
     * Builds the routes' caches side by side: while the database does not answer each build waits a few
     * seconds before it starts without it, and one after another, 20 routes kept the port closed for
     * 20 times that. When one cannot start, those built are closed and its failure is thrown.
     */
    private static Map<Route, OnceCache<Cached>> built(Map<Route, OnceCacheBuilder<Cached>> builders) throws Exception {
        Map<Route, java.util.concurrent.Future<OnceCache<Cached>>> building = new LinkedHashMap<>();
        try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            builders.forEach((route, builder) -> building.put(route, threads.submit(builder::build)));
        }
        Map<Route, OnceCache<Cached>> caches = new LinkedHashMap<>();
        Exception failure = null;
        for (var e : building.entrySet()) {
            try {
                caches.put(e.getKey(), e.getValue().get());
            } catch (java.util.concurrent.ExecutionException ex) {
                if (failure == null)
                    failure = ex.getCause() instanceof Exception cause ? cause : new RuntimeException(ex.getCause());
            }
        }
        if (failure != null) {
            caches.values().forEach(OnceCache::close);
            throw failure;
        }
        return caches;
    }

    private static ProxyConfig storable(ProxyConfig config, Map<Route, OnceCache<Cached>> caches) {
        long storable = Long.MAX_VALUE;
        for (OnceCache<Cached> cache : caches.values())
            storable = Math.min(storable, cache.maxValueBytes() - ENCODING_ROOM);
        if (storable >= config.maxCachedResponseBytes()) return config;
        long limit = Math.max(0, storable);
        org.slf4j.LoggerFactory.getLogger(OnceProxy.class)
                .warn(
                        "answers over {} bytes are passed through uncached: the store takes no larger value"
                                + " (the largest answer stored was {})",
                        limit,
                        config.maxCachedResponseBytes());
        return config.withMaxCachedResponseBytes(limit);
    }

    /**
     * Whether the cache takes this answer now: its bound may be lowered while the proxy runs (MariaDB's
     * max_allowed_packet lowered on the server, {@link OnceCache#maxValueBytes}). An answer it would refuse
     * is passed through, as one over the limit is, instead of failing.
     */
    static boolean fits(OnceCache<Cached> cache, StoredResponse r) {
        return r.body().length <= (long) cache.maxValueBytes() - ENCODING_ROOM;
    }

    /** Room for a stored answer's status and headers beside its body, in the cache's value. */
    private static final int ENCODING_ROOM = 64 * 1024;

    /**
     * Runs this configuration's request path before its proxy starts, so that a new replica's first
     * requests are not served by the interpreter: {@code requests} requests (new keys, four each, half
     * through each of two scratch proxies) against a stub upstream on loopback, with the same routes and
     * store under a scratch namespace whose rows are purged before and after. The configured upstream is
     * never called. Stops sending when {@code budget} has passed.
     *
     * @param config the configuration the proxy will start with
     * @param dataSource its store
     * @param requests how many requests to send (0: none)
     * @param budget the most time to spend sending
     * @return what it did
     * @throws Exception when the scratch proxies cannot start (the database unreachable, say)
     */
    public static WarmUpReport warmUp(
            ProxyConfig config, DataSource dataSource, int requests, java.time.Duration budget) throws Exception {
        return WarmUp.run(config, dataSource, requests, budget);
    }

    /**
     * What a {@linkplain #warmUp warm-up} did.
     *
     * @param requested the requests asked for
     * @param answered those answered with 200
     * @param cached those answered through the store (not failed open: the database answered)
     * @param cutShort whether the budget ended it before every request was sent
     * @param problem what went wrong afterwards (the scratch rows could not be purged), or null
     */
    public record WarmUpReport(int requested, int answered, int cached, boolean cutShort, String problem) {}

    /** Purges every route's cache: the scratch proxies of a warm-up. */
    void purgeAll() {
        caches.values().forEach(OnceCache::purgeAll);
    }

    /**
     * Whether the store answers within {@link #HEALTH_PROBE}: health must answer within its probe's
     * timeout whatever the database does (a pool waiting 30 s for a connection, a hung statement).
     * A probe still running is shared, never stacked.
     */
    private static java.util.function.BooleanSupplier probe(DataSource dataSource) {
        var running = new java.util.concurrent.atomic.AtomicReference<CompletableFuture<Boolean>>();
        return () -> {
            CompletableFuture<Boolean> mine = new CompletableFuture<>();
            CompletableFuture<Boolean> p = running.compareAndExchange(null, mine);
            if (p == null) {
                p = mine;
                Thread.ofVirtual().name("once-health-probe").start(() -> {
                    try (Connection c = dataSource.getConnection()) {
                        mine.complete(c.isValid(1)); // whole seconds only: the wait below bounds it
                    } catch (SQLException | RuntimeException e) {
                        mine.complete(false);
                    } finally {
                        running.set(null);
                    }
                });
            }
            try {
                return p.get(HEALTH_PROBE.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                return false;
            }
        };
    }

    /** Connections the kernel holds for the acceptor (the listen backlog). */
    static final int ACCEPT_QUEUE = 4096;

    /**
     * How long /-/health waits for the store before it says "down": under a second with room to write the
     * answer, so that a prober whose timeout is 1 s (Kubernetes' default) gets it. At exactly 1 s it
     * answered in 1.005 to 1.114 s while the database hung (helper-47).
     */
    static final java.time.Duration HEALTH_PROBE = java.time.Duration.ofMillis(750);

    /**
     * The port it listens on (useful with port 0).
     *
     * @return the local port
     */
    public int port() {
        return connector.getLocalPort();
    }

    /**
     * Blocks until the proxy has stopped (after {@link #close()}, from another thread or a signal).
     *
     * @throws InterruptedException when the waiting thread is interrupted
     */
    public void awaitStop() throws InterruptedException {
        server.join();
    }

    /**
     * Stops accepting, lets in-flight requests finish within the drain timeout, closes what is left, then
     * closes the caches. Connections still open at the drain timeout are closed with a warning, not an
     * exception: Jetty stops all the same (its stop threw the graceful wait's TimeoutException after
     * stopping, which made a finished stop look failed).
     */
    @Override
    public void close() throws Exception {
        try {
            server.stop();
        } catch (java.util.concurrent.TimeoutException drained) {
            org.slf4j.LoggerFactory.getLogger(OnceProxy.class)
                    .warn(
                            "once serve: connections still open after the drain timeout ({} ms) were closed",
                            server.getStopTimeout());
        } finally {
            upstream.close();
            caches.values().forEach(OnceCache::close);
            gcMetrics.close();
        }
    }

    /** What the once-cache seal key is derived from the key secret for ({@link CredentialDigest#derived}). */
    private static final String SEAL_KEY_LABEL = "once serve: the seal key of values sent with NOTIFY";
}
