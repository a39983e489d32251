package dev.once.jdbc.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy between a test's connections and a real database that misbehaves on command: {@link
 * #blackhole()} (connections open but no byte gets through, as behind a dead route), {@link #delay},
 * {@link #reset()} (every open connection is cut with a TCP reset), {@link #refuse()} (and new ones
 * are cut at once), {@link #pass()} (healthy again). Point a JDBC URL at {@link #url(String)}.
 */
public final class FaultProxy implements AutoCloseable {
    private enum Mode {
        PASS,
        BLACKHOLE,
        REFUSE
    }

    private final ServerSocket server;
    private final String upstreamHost;
    private final int upstreamPort;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final Set<Socket> silenced = ConcurrentHashMap.newKeySet();
    private volatile Mode mode = Mode.PASS;
    private volatile long delayMillis;
    private volatile boolean closed;

    private FaultProxy(String host, int port) throws IOException {
        this.upstreamHost = host;
        this.upstreamPort = port;
        this.server = new ServerSocket();
        server.bind(new InetSocketAddress("127.0.0.1", 0));
        Thread.ofVirtual().name("fault-proxy-accept").start(this::accept);
    }

    /** A proxy in front of the server of this JDBC URL ({@code jdbc:postgresql://host:port/...}). */
    public static FaultProxy to(String jdbcUrl) throws IOException {
        URI uri = URI.create(jdbcUrl.substring("jdbc:".length()));
        return new FaultProxy(uri.getHost(), uri.getPort());
    }

    /** The JDBC URL with the proxy's address in place of the server's. */
    public String url(String jdbcUrl) {
        return jdbcUrl.replace(upstreamHost + ":" + upstreamPort, "127.0.0.1:" + server.getLocalPort());
    }

    public void pass() {
        delayMillis = 0;
        mode = Mode.PASS;
    }

    public void blackhole() {
        mode = Mode.BLACKHOLE;
    }

    public void delay(long millis) {
        delayMillis = millis;
    }

    public void refuse() {
        mode = Mode.REFUSE;
        reset();
    }

    public void reset() {
        for (Socket s : open) cut(s);
    }

    /**
     * The connections open now go silent for good: what they send is dropped, nothing is answered, and
     * neither side is told (a NAT that forgot them). New connections pass.
     */
    public void silence() {
        silenced.addAll(open);
    }

    private void accept() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;
            }
            if (mode == Mode.REFUSE) {
                cut(client);
                continue;
            }
            Thread.ofVirtual().start(() -> connect(client));
        }
    }

    private void connect(Socket client) {
        Socket upstream = new Socket();
        try {
            upstream.connect(new InetSocketAddress(upstreamHost, upstreamPort), 5_000);
        } catch (IOException e) {
            cut(client);
            return;
        }
        open.add(client);
        open.add(upstream);
        Thread.ofVirtual().start(() -> pump(client, upstream));
        Thread.ofVirtual().start(() -> pump(upstream, client));
    }

    private void pump(Socket from, Socket to) {
        byte[] buffer = new byte[16 * 1024];
        try (InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                while (mode == Mode.BLACKHOLE && !closed) Thread.sleep(5); // held, as lost packets are
                if (mode == Mode.REFUSE) break;
                long d = delayMillis;
                if (d > 0) Thread.sleep(d);
                if (silenced.contains(from)) continue;
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // the other side went away, or the connection was cut
        } finally {
            cut(from);
            cut(to);
        }
    }

    /** Closes with a TCP reset rather than a graceful FIN. */
    private void cut(Socket s) {
        open.remove(s);
        try {
            s.setSoLinger(true, 0);
        } catch (IOException ignored) {
            // already closed
        }
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        reset();
    }
}
