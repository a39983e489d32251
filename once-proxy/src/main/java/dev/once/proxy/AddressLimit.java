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
    private final ConcurrentHashMap<InetAddress, Integer> open = new ConcurrentHashMap<>();
    /**
     * The connections counted in {@link #open}, by their address as it was when they opened (a closed
     * channel no longer tells it); one refused is never counted, so never counted out.
     */
    private final ConcurrentHashMap<Connection, InetAddress> admitted = new ConcurrentHashMap<>();

    private final AtomicLong refused = new AtomicLong();

    AddressLimit(int max) {
        this.max = max;
    }

    @Override
    public void onOpened(Connection connection) {
        InetAddress address = address(connection);
        if (address == null) return;
        boolean[] room = new boolean[1];
        open.compute(address, (a, n) -> {
            int now = n == null ? 0 : n;
            room[0] = now < max;
            return room[0] ? now + 1 : now;
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
        if (address != null) open.computeIfPresent(address, (a, n) -> n > 1 ? n - 1 : null);
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
