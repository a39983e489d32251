package dev.once.cli.demo;

import java.util.concurrent.Executors;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/** A Jetty server on 127.0.0.1 and a free port, handling requests on virtual threads. */
public final class LoopbackServer {
    private LoopbackServer() {}

    public static Server start(Handler handler) throws Exception {
        return start(handler, -1);
    }

    /** The same with this many selectors (-1: Jetty's default, one per two cores). */
    public static Server start(Handler handler, int selectors) throws Exception {
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setVirtualThreadsExecutor(Executors.newVirtualThreadPerTaskExecutor());
        Server server = new Server(threads);
        ServerConnector connector = new ServerConnector(server, -1, selectors);
        // bursts of new connections (the benches): no SYN dropped and retried 1 s later (Java's default is 50)
        connector.setAcceptQueueSize(4096);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(handler);
        server.start();
        return server;
    }

    public static int port(Server server) {
        return ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    }
}
