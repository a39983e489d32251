package dev.once.jdbc.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A server on loopback that accepts every TCP connection and never says a word, as a database that hangs
 * in its handshake: what connects to it must give up by its own timeouts. Closing it closes them all.
 */
public final class SilentServer implements AutoCloseable {
    private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    private final List<Socket> accepted = new CopyOnWriteArrayList<>();

    public SilentServer() throws IOException {
        Thread.ofPlatform().daemon().name("silent-server").start(() -> {
            try {
                while (true) accepted.add(server.accept());
            } catch (IOException closed) {
                // the test is over
            }
        });
    }

    public int port() {
        return server.getLocalPort();
    }

    /** The connections accepted so far. */
    public int accepted() {
        return accepted.size();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : accepted) s.close();
    }
}
