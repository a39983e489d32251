package dev.once.cache;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One dedicated PostgreSQL connection per data source and table in a JVM, shared by every cache on
 * them, that LISTENs on the table's channel and hands each payload to the caches, which wake the
 * waiting futures of that key. The connection is opened outside the pool when the data source tells
 * its URL (HikariCP and most pools do), so it never takes a pool slot. On a broken connection it
 * reconnects with backoff; notifications sent meanwhile are lost, so the caches hear of the gap when the
 * connection breaks and again when it is back (they then clear their near caches and wake every
 * waiter); polling remains the safety net throughout.
 */
final class NotifyListener implements AutoCloseable {
    /**
     * What a cache hears: each payload; {@code onLost} when the connection is lost (and after each attempt
     * to reconnect that failed); {@code onBack} when it listens again, or listened already when the cache
     * subscribed: notifications sent before may have been missed. {@code nearMaxAgeNanos} is how long purges
     * may go unheard before the cache stops trusting the connection (its near cache's entries, the loads its
     * callers join): the heartbeat runs often enough for it.
     */
    record Subscriber(Consumer<String> onPayload, Runnable onLost, Runnable onBack, long nearMaxAgeNanos) {}

    private record Key(DataSource dataSource, String channel) {}

    private static final Map<Key, NotifyListener> SHARED = new HashMap<>();

    /** The listener for this data source and channel, started on first use. */
    static synchronized NotifyListener subscribe(
            DataSource dataSource, OnceCacheBuilder.ConnectionOpener opener, String channel, Subscriber subscriber) {
        NotifyListener l = SHARED.computeIfAbsent(
                new Key(dataSource, channel),
                k -> new NotifyListener(opener != null ? opener : outsidePool(dataSource), channel));
        l.subscribers.add(subscriber);
        if (l.listening) subscriber.onBack().run();
        return l;
    }

    /** Stops hearing; the last subscriber to leave closes the connection. */
    static void unsubscribe(DataSource dataSource, String channel, Subscriber subscriber) {
        NotifyListener last;
        synchronized (NotifyListener.class) {
            Key key = new Key(dataSource, channel);
            NotifyListener l = SHARED.get(key);
            if (l == null) return;
            l.subscribers.remove(subscriber);
            if (!l.subscribers.isEmpty()) return;
            SHARED.remove(key);
            last = l;
        }
        last.close(); // outside the lock: other caches build and close meanwhile
    }

    /**
     * Opens a connection with the data source's own URL and credentials when it exposes them (HikariCP's
     * getJdbcUrl/getUsername/getPassword, or getUrl/getUser), else borrows one from it for good.
     */
    static OnceCacheBuilder.ConnectionOpener outsidePool(DataSource ds) {
        String url = property(ds, "getJdbcUrl", "getUrl", "getURL");
        if (url == null) return ds::getConnection;
        String user = property(ds, "getUsername", "getUser");
        String password = property(ds, "getPassword");
        return () -> {
            Properties p = new Properties();
            if (user != null) p.setProperty("user", user);
            if (password != null) p.setProperty("password", password);
            // a server that accepts and then says nothing must not hold the listener in its handshake for
            // good (a close waits for it); the URL's own setting wins
            p.setProperty("loginTimeout", "10");
            // ... and pgjdbc keeps waiting, in a thread of its own, after its login timeout gave up: with
            // no read timeout each try at a silent server left a thread and a socket behind for good (a
            // cache starting while its database is down tries every few seconds: helper-50 counted 64
            // threads a minute). Seconds for pgjdbc; the listener sets its own once connected
            if (url.startsWith("jdbc:postgresql:")) p.setProperty("socketTimeout", "10");
            return DriverManager.getConnection(url, p);
        };
    }

    private static String property(Object target, String... getters) {
        for (String getter : getters) {
            try {
                Object v = target.getClass().getMethod(getter).invoke(target);
                if (v instanceof String s && !s.isBlank()) return s;
            } catch (ReflectiveOperationException | RuntimeException ignored) {
                // not this pool's name for it
            }
        }
        return null;
    }

    private final List<Subscriber> subscribers = new CopyOnWriteArrayList<>();
    private static final Logger log = LoggerFactory.getLogger(NotifyListener.class);
    /** How long a heartbeat may wait for its answer before the connection counts as dead. */
    static final long HEARTBEAT_TIMEOUT_MILLIS = 2_000;
    /** The longest heartbeat period, whatever the subscribers' max ages allow. */
    static final long HEARTBEAT_MILLIS = 2_000;
    /** The shortest heartbeat period, whatever a near cache's max age asks. */
    static final long MIN_HEARTBEAT_MILLIS = 20;

    private final OnceCacheBuilder.ConnectionOpener opener;
    private final String channel;
    private final Thread thread;
    private volatile boolean closed;
    private volatile boolean listening;
    private volatile Connection connection;
    /**
     * {@link System#nanoTime()} when the latest round trip that has come back was sent (the LISTEN, or a
     * heartbeat): every purge committed before then has been delivered.
     */
    private volatile long heardAt;

    private NotifyListener(OnceCacheBuilder.ConnectionOpener opener, String channel) {
        this.opener = opener;
        this.channel = channel;
        this.thread = Thread.ofPlatform()
                .daemon()
                .name("once-cache-listener-" + channel)
                .start(this::run);
    }

    /** True while the LISTEN connection is up; waiters then rely on notifications and poll rarely. */
    boolean listening() {
        return listening;
    }

    /**
     * True when the connection is up and has shown within the last {@code nanos} that it still hears:
     * every purge committed more than {@code nanos} ago has reached the subscribers. A connection that
     * went silent (a blackhole) looks up until its heartbeat times out; this tells it apart sooner.
     */
    boolean heardWithin(long nanos) {
        return listening && System.nanoTime() - heardAt <= nanos;
    }

    /**
     * A heartbeat at a quarter of the shortest subscriber's max age, so that a connection that hears keeps
     * {@link #heardWithin} true for it; every {@value #HEARTBEAT_MILLIS} ms at most.
     */
    private long heartbeatMillis() {
        long millis = HEARTBEAT_MILLIS;
        for (Subscriber sub : subscribers) {
            if (sub.nearMaxAgeNanos() > 0) millis = Math.min(millis, sub.nearMaxAgeNanos() / 4_000_000);
        }
        return Math.max(MIN_HEARTBEAT_MILLIS, millis);
    }

    /**
     * The longest wait between reconnection attempts. It was 5 s: after an outage of more than a few
     * seconds the listener heard nothing, and waiters polled, for up to 5 s after the database was back.
     */
    static final long MAX_BACKOFF_MILLIS = 1_000;

    private void run() {
        long backoff = 100;
        String told = null; // the loss already logged, told once until the connection is back
        while (!closed) {
            try (Connection c = opener.open()) {
                connection = c;
                c.setAutoCommit(true);
                long sent = System.nanoTime();
                try (Statement s = c.createStatement()) {
                    s.execute("LISTEN " + channel);
                }
                PGConnection pg = c.unwrap(PGConnection.class);
                c.setNetworkTimeout(Runnable::run, (int) HEARTBEAT_TIMEOUT_MILLIS);
                // the caches hear of the gap before the connection counts as hearing: a caller in between
                // found it hearing while its cache had not yet kept it out of loads begun before the gap,
                // and joined one whose loader had read the source before a purge it never heard (helper-72)
                for (Subscriber sub : subscribers) sub.onBack().run();
                heardAt = sent;
                listening = true;
                backoff = 100;
                if (told != null) log.warn("once-cache listener on {} is listening again", channel);
                told = null;
                while (!closed) {
                    long period = heartbeatMillis();
                    long due = heardAt + period * 1_000_000 - System.nanoTime();
                    if (due > 0) {
                        deliver(pg.getNotifications((int) Math.max(1, due / 1_000_000)));
                        continue;
                    }
                    sent = System.nanoTime();
                    heartbeat(c);
                    deliver(pg.getNotifications()); // those read with the heartbeat's answer
                    heardAt = sent;
                }
            } catch (SQLException | RuntimeException | OutOfMemoryError e) {
                // an OutOfMemoryError too (helper-19: a heap filled by other threads ended this thread for
                // good, and with it every purge and wake-up): the gap clears the near caches, then reconnect
                listening = false;
                if (closed) return;
                for (Subscriber sub : subscribers) sub.onLost().run();
                String reason = String.valueOf(e.getMessage());
                if (!reason.equals(told)) {
                    log.warn(
                            "once-cache listener on {} lost its connection ({}); reconnecting every {} ms at most",
                            channel,
                            reason,
                            MAX_BACKOFF_MILLIS);
                    told = reason;
                } else {
                    log.debug("once-cache listener on {}: still cannot reconnect ({})", channel, reason);
                }
                sleep(backoff);
                backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
            } finally {
                listening = false;
                connection = null;
            }
        }
    }

    private void deliver(PGNotification[] notifications) {
        if (notifications == null) return;
        for (PGNotification n : notifications) {
            for (Subscriber sub : subscribers) deliver(sub, n.getParameter());
        }
    }

    /**
     * Hands a payload to a cache. Any role may NOTIFY on the channel: whatever a payload makes a cache
     * throw must not end the connection (a reconnection clears every near cache: a one-line NOTIFY would
     * otherwise be a way to empty them all, as often as it is sent).
     */
    private void deliver(Subscriber sub, String payload) {
        try {
            sub.onPayload().accept(payload);
        } catch (RuntimeException e) {
            log.debug("once-cache listener on {}: a payload was not understood: {}", channel, e.toString());
        }
    }

    /**
     * A connection can die without a word (a NAT or firewall forgets it, a route goes dark): a listener
     * that only waits would believe it listens while every purge is lost. A query every {@link
     * #heartbeatMillis} ms, under a network timeout of {@value #HEARTBEAT_TIMEOUT_MILLIS} ms, turns that
     * silence into an error, and the listener reconnects (telling its caches of the gap). Each answer also
     * moves {@link #heardAt}, which near caches read long before the timeout.
     */
    private static void heartbeat(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("SELECT 1");
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops the listener: its connection is aborted (which closes the socket without the driver's lock,
     * so the listener's read ends at once) and its own thread then closes it, giving a borrowed one back
     * to its pool. Closing it from here while that thread reads deadlocked on a pooled connection: the
     * pool reset the socket's timeout under the read, which then never ended, and the close waited for
     * the driver's lock the read held. A listener still opening its connection ends when the open does
     * (bounded by the driver's login timeout, 10 s unless the URL says otherwise), closing it unused.
     */
    @Override
    public void close() {
        closed = true;
        Connection c = connection;
        if (c != null) {
            try {
                c.abort(Runnable::run);
            } catch (SQLException | RuntimeException e) {
                log.debug("could not abort the listener's connection", e);
            }
        }
        thread.interrupt(); // ends a reconnection's backoff
        if (!joined(2_000))
            log.warn("once-cache listener on {} is still opening its connection; it closes it", channel);
    }

    private boolean joined(long millis) {
        try {
            thread.join(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }
}
