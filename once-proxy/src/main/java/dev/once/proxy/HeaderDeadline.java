package dev.once.proxy;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A deadline for each request's headers, from their first byte, as nginx's {@code client_header_timeout}
 * (Jetty has none: its idle timeout is reset by every byte). Once a second it looks at the connector's
 * connections; one seen in the middle of the same request's headers (the same start) for longer than the
 * timeout is closed. A connection idle between requests is left to the idle timeout.
 *
 * <p>Without it, a client that sent its headers a line at a time, each before the connection went idle,
 * held its connection for as long as it liked: thousands of them held every slot (slowloris, helper-22).
 * The time is measured from this sweep's own sightings, not only from the parser's start (read from
 * another thread, it could be a moment stale): a connection is closed between the timeout and a second
 * past it.
 */
final class HeaderDeadline extends AbstractLifeCycle implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(HeaderDeadline.class);
    private static final long SWEEP_MILLIS = 1_000;

    private final ServerConnector connector;
    private final long timeoutNanos;
    /** Connections in the middle of a request's headers at the last sweep: the parse's start, first seen. */
    private Map<EndPoint, long[]> parsing = new HashMap<>();

    private volatile Scheduler.Task next;
    private volatile long closed; // written by the sweep alone

    HeaderDeadline(ServerConnector connector, Duration timeout) {
        this.connector = connector;
        this.timeoutNanos = timeout.toNanos();
    }

    @Override
    protected void doStart() {
        schedule();
    }

    @Override
    protected void doStop() {
        Scheduler.Task task = next;
        if (task != null) task.cancel();
    }

    private void schedule() {
        if (isRunning() || isStarting())
            next = connector.getScheduler().schedule(this, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }

    @Override
    public void run() {
        try {
            sweep(System.nanoTime());
        } catch (RuntimeException e) { // one bad sweep must not end the deadline for good
            log.warn("request header deadline: sweep failed: {}", Errors.oneLine(e));
        } finally {
            schedule();
        }
    }

    private void sweep(long now) {
        Map<EndPoint, long[]> seen = new HashMap<>();
        for (EndPoint endPoint : connector.getConnectedEndPoints()) {
            if (!(endPoint.getConnection() instanceof HttpConnection connection)) continue;
            HttpParser parser = connection.getParser();
            if (parser.isStart() || !parser.inHeaderState()) continue; // START: idle between requests
            long begin = parser.getBeginNanoTime();
            long[] before = parsing.get(endPoint);
            long since = before != null && before[0] == begin ? before[1] : now;
            if (now - since >= timeoutNanos) {
                closed++;
                log.debug(
                        "request header deadline: closing {} after {} ms",
                        endPoint.getRemoteSocketAddress(),
                        (now - since) / 1_000_000);
                endPoint.close(new TimeoutException("request headers not received within the header timeout"));
            } else {
                seen.put(endPoint, new long[] {begin, since});
            }
        }
        parsing = seen;
    }

    /** Connections closed so far for taking too long over their headers. */
    long closed() {
        return closed;
    }
}
