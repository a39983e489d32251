package dev.once.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.ByteArrayEndPoint;
import org.eclipse.jetty.io.Connection;
import org.junit.jupiter.api.Test;

/**
 * The per-address count on Jetty's own in-memory endpoints, for what a socket test cannot reach in
 * seconds: a connection the proxy is closing (its output shut, as an idle timeout does, then waiting up
 * to another idle timeout for the client's FIN) no longer holds its address's slot; a client whose pool
 * had not noticed the close was refused for those 30 s (helper-29).
 */
class AddressLimitTest {

    private static Connection from(String address) {
        ByteArrayEndPoint endPoint = new ByteArrayEndPoint() {
            @Override
            public SocketAddress getRemoteSocketAddress() {
                return new InetSocketAddress(address, 40_000);
            }
        };
        Connection c = new AbstractConnection(endPoint, Runnable::run) {
            @Override
            public void onFillable() {}
        };
        endPoint.setConnection(c);
        return c;
    }

    @Test
    void overTheLimit_closed_outputShutNoLongerCounted_closedCountedOut() {
        AddressLimit limit = new AddressLimit(2);
        Connection a = from("127.0.0.1"), b = from("127.0.0.1"), c = from("127.0.0.1");
        limit.onOpened(a);
        limit.onOpened(b);
        limit.onOpened(c);
        assertThat(a.getEndPoint().isOpen()).isTrue();
        assertThat(b.getEndPoint().isOpen()).isTrue();
        assertThat(c.getEndPoint().isOpen()).as("the third from one address").isFalse();
        assertThat(limit.refused()).isEqualTo(1);
        limit.onClosed(c); // refused: never counted, so not counted out either

        Connection other = from("127.0.0.2");
        limit.onOpened(other);
        assertThat(other.getEndPoint().isOpen()).as("another address").isTrue();

        a.getEndPoint().shutdownOutput(); // the proxy closing it: its FIN sent, the client's awaited
        Connection d = from("127.0.0.1");
        limit.onOpened(d);
        assertThat(d.getEndPoint().isOpen())
                .as("a slot held only by a closing connection")
                .isTrue();

        Connection e = from("127.0.0.1");
        limit.onOpened(e);
        assertThat(e.getEndPoint().isOpen()).as("b and d live: full again").isFalse();

        b.getEndPoint().close();
        limit.onClosed(b);
        Connection f = from("127.0.0.1");
        limit.onOpened(f);
        assertThat(f.getEndPoint().isOpen()).as("a closed one counted out").isTrue();
        assertThat(limit.refused()).isEqualTo(2);
    }
}
