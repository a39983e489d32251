package dev.once.spring;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * {@code once}: DOWN when the cache table cannot be read within {@code timeout} or a cache is in outage
 * mode (its breaker open: methods are called directly, or fail when fail-open is off). Details: the
 * table, {@code outage} per cache, and on PostgreSQL {@code listen}: {@code up}, or {@code down} when
 * the LISTEN connection is lost (waiters then poll once a second; still UP, since answers stay right).
 */
public final class OnceCacheHealthIndicator extends AbstractHealthIndicator {
    private final OnceCacheManager manager;
    private final boolean notify;
    private final Duration timeout;

    /**
     * A health indicator for a manager's table and caches. The auto-configuration makes one; construct
     * your own only for a manager you build yourself.
     *
     * @param manager the cache manager whose table is probed and whose built caches are reported
     * @param notify whether the manager's caches use LISTEN/NOTIFY ({@code once.cache.notify}), so that
     *     {@code listen} reads {@code off (polling)} rather than {@code down} when they do not
     * @param timeout how long to wait for the table before reporting DOWN; the auto-configuration uses
     *     {@code store-timeout} + 1 s
     */
    public OnceCacheHealthIndicator(OnceCacheManager manager, boolean notify, Duration timeout) {
        super("once-cache health check failed");
        this.manager = manager;
        this.notify = notify;
        this.timeout = timeout;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) {
        builder.withDetail("table", manager.table());
        String database;
        try {
            database = CompletableFuture.supplyAsync(this::probe, Thread::startVirtualThread)
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            builder.down().withDetail("error", "the table did not answer within " + timeout.toMillis() + " ms");
            return;
        } catch (ExecutionException | InterruptedException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            builder.down().withDetail("error", "the table cannot be read: " + cause.getMessage());
            return;
        }
        builder.withDetail("database", database);
        Map<String, Object> caches = new LinkedHashMap<>();
        boolean outage = false;
        boolean listening = true;
        for (OnceSpringCache c : manager.caches()) {
            var once = c.getNativeCache();
            if (once == null) { // the database could not be reached to start it; a start is due
                outage = true;
                caches.put(c.getName(), "not started");
                continue;
            }
            boolean available = once.storeAvailable();
            outage |= !available;
            listening &= once.listening();
            caches.put(c.getName(), available ? "ok" : "outage");
        }
        builder.withDetail("caches", caches);
        builder.withDetail("outage", outage);
        if (database.toLowerCase(Locale.ROOT).contains("postgres")) {
            builder.withDetail(
                    "listen",
                    !notify ? "off (polling)" : caches.isEmpty() ? "no cache built yet" : listening ? "up" : "down");
        } else {
            builder.withDetail("listen", "not used (polling)");
        }
        if (outage) builder.down();
        else builder.up();
    }

    /**
     * Reads the table (no row) and returns the database's product name. The connection's socket reads
     * are bounded too (restored before it returns to the pool), so a probe abandoned by the timeout
     * above does not stay blocked on a dead connection.
     */
    private String probe() {
        try (Connection c = manager.dataSource().getConnection()) {
            int before = networkTimeout(c);
            if (before >= 0) c.setNetworkTimeout(Runnable::run, (int) timeout.toMillis());
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM " + manager.table() + " WHERE 1 = 0")) {
                ps.setQueryTimeout((int) Math.max(1, timeout.toSeconds()));
                ps.executeQuery().close();
                return c.getMetaData().getDatabaseProductName();
            } finally {
                if (before >= 0 && !c.isClosed()) c.setNetworkTimeout(Runnable::run, before);
            }
        } catch (java.sql.SQLException e) {
            throw new java.util.concurrent.CompletionException(e);
        }
    }

    /** The connection's network timeout, or -1 where the driver has none (SQLite). */
    private static int networkTimeout(Connection c) {
        try {
            return c.getNetworkTimeout();
        } catch (java.sql.SQLException | UnsupportedOperationException e) {
            return -1;
        }
    }
}
