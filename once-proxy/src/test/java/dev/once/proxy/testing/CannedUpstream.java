package dev.once.proxy.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An upstream on loopback that answers every request with the same raw bytes, exactly as given (interim
 * answers, odd framing, huge header blocks: what a Jetty handler would not write), then closes.
 */
public final class CannedUpstream implements AutoCloseable {
    private final ServerSocket server;
    private final AtomicInteger calls = new AtomicInteger();
    private volatile byte[] answer = new byte[0];

    public CannedUpstream() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    Thread.ofVirtual().start(() -> answer(s));
                } catch (IOException e) {
                    // closed
                }
            }
        });
    }

    /** The bytes every request gets from now on; {@code \n} becomes {@code \r\n}. */
    public CannedUpstream answer(String text) {
        this.answer = text.replace("\r\n", "\n").replace("\n", "\r\n").getBytes(StandardCharsets.ISO_8859_1);
        return this;
    }

    private void answer(Socket s) {
        try (s) {
            InputStream in = s.getInputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int matched = 0;
            for (int b; matched < 4 && (b = in.read()) >= 0; ) {
                head.write(b);
                matched = (b == '\r' || b == '\n') && (matched % 2 == 0 ? b == '\r' : b == '\n') ? matched + 1 : 0;
            }
            calls.incrementAndGet();
            s.getOutputStream().write(answer);
            s.getOutputStream().flush();
            s.shutdownOutput();
            in.readAllBytes();
        } catch (IOException e) {
            // the client went away
        }
    }

    public int calls() {
        return calls.get();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
