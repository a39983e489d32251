package dev.once.cache;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One dedicated PostgreSQL connection per cache that LISTENs on the table's channel and hands each
 * payload to the cache, which wakes the waiting futures of that key. On a broken connection it
 * reconnects with backoff and asks the cache to wake every waiter, since notifications sent meanwhile
 * are lost; polling remains the safety net throughout.
 */
final class NotifyListener implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NotifyListener.class);

    private final OnceCacheBuilder.ConnectionOpener opener;
    private final String channel;
    private final Consumer<String> onPayload;
    private final Runnable onReconnect;
    private final Thread thread;
    private volatile boolean closed;
    private volatile boolean listening;
    private volatile Connection connection;

    NotifyListener(
            OnceCacheBuilder.ConnectionOpener opener,
            String channel,
            Consumer<String> onPayload,
            Runnable onReconnect) {
        this.opener = opener;
        this.channel = channel;
        this.onPayload = onPayload;
        this.onReconnect = onReconnect;
        this.thread = Thread.ofPlatform()
                .daemon()
                .name("once-cache-listener-" + channel)
                .start(this::run);
    }

    /** True while the LISTEN connection is up; waiters then rely on notifications and poll rarely. */
    boolean listening() {
        return listening;
    }

    private void run() {
        long backoff = 100;
        while (!closed) {
            try (Connection c = opener.open()) {
                connection = c;
                c.setAutoCommit(true);
                try (Statement s = c.createStatement()) {
                    s.execute("LISTEN " + channel);
                }
                PGConnection pg = c.unwrap(PGConnection.class);
                listening = true;
                backoff = 100;
                onReconnect.run();
                while (!closed) {
                    PGNotification[] notifications = pg.getNotifications(500);
                    if (notifications == null) continue;
                    for (PGNotification n : notifications) onPayload.accept(n.getParameter());
                }
            } catch (SQLException | RuntimeException e) {
                listening = false;
                if (closed) return;
                log.warn(
                        "once-cache listener on {} lost its connection ({}); reconnecting in {} ms",
                        channel,
                        e.getMessage(),
                        backoff);
                sleep(backoff);
                backoff = Math.min(backoff * 2, 5_000);
            } finally {
                listening = false;
                connection = null;
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        Connection c = connection;
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // closing anyway
            }
        }
        thread.interrupt();
        try {
            thread.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
