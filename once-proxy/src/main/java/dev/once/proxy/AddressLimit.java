package dev.once.proxy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.io.Connection;

/**
 * At most so many client connections from one IP address, as nginx's {@code limit_conn} per {@code
 * $binary_remote_addr}: a connection over the limit is closed as it opens. The connector's own cap
 * ({@link ProxyConfig#maxClientConnections}) bounds the whole replica, but one client opening
 * connections faster than they time out could hold every slot of it. Off by default: behind a load
 * balancer every client comes from the balancer's few addresses.
 */
final class AddressLimit implements Connection.Listener {
    private final int max;
    /** The connections admitted, by the address seen when they opened (a closed channel no longer tells it). */
    private final ConcurrentHashMap<InetAddress, java.util.Set<Connection>> open = new ConcurrentHashMap<>();

    private final ConcurrentHashMap<Connection, InetAddress> admitted = new ConcurrentHashMap<>();
    private final AtomicLong refused = new AtomicLong();

    AddressLimit(int max) {
        this.max = max;
    }

    /**
     * Admits the connection when its address holds fewer than the limit, not counting those the proxy is
     * already closing (their output shut: an idle timeout sends its FIN, then waits up to another idle
     * timeout for the client's, and a client whose pool had not noticed was refused for those 30 s,
     * helper-29). Else closes it.
     */
    @Override
    public void onOpened(Connection connection) {
        InetAddress address = address(connection);
        if (address == null) return;
        boolean[] room = new boolean[1];
        open.compute(address, (a, held) -> {
            java.util.Set<Connection> set = held != null ? held : ConcurrentHashMap.newKeySet();
            long live = set.stream()
                    .filter(c -> !c.getEndPoint().isOutputShutdown())
                    .count();
            room[0] = live < max;
            if (room[0]) set.add(connection);
            return set.isEmpty() ? null : set;
        });
        if (room[0]) {
            admitted.put(connection, address);
        } else {
            refused.incrementAndGet();
            connection.getEndPoint().close();
        }
    }

    @Override
    public void onClosed(Connection connection) {
        InetAddress address = admitted.remove(connection);
        if (address == null) return;
        open.computeIfPresent(address, (a, held) -> {
            held.remove(connection);
            return held.isEmpty() ? null : held;
        });
    }

    /** Connections closed as they opened. */
    long refused() {
        return refused.get();
    }

    private static InetAddress address(Connection connection) {
        SocketAddress remote = connection.getEndPoint().getRemoteSocketAddress();
        return remote instanceof InetSocketAddress inet ? inet.getAddress() : null;
    }
}
