package dev.once.proxy;

import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.internal.HttpConnection;

/**
 * HTTP/1.1 connections that see the request target as the client wrote it. Jetty folds an
 * absolute-form target ({@code GET http://elsewhere/ HTTP/1.1}) into the same URI an origin-form one
 * gets from Host, so the raw target is checked here, in the parser callback, and an absolute-form one
 * is rewritten to an internal path the handler refuses with 400. A reverse proxy never serves them.
 */
final class OriginFormOnly extends HttpConnectionFactory {
    static final String REFUSED_PATH = "/-/absolute-form-refused";
    /** Where an asterisk-form target ({@code OPTIONS *}) goes: the proxy answers it itself. */
    static final String ASTERISK_PATH = "/-/asterisk-form";

    OriginFormOnly(HttpConfiguration config) {
        super(config);
    }

    @Override
    public Connection newConnection(Connector connector, EndPoint endPoint) {
        HttpConnection connection = new HttpConnection(getHttpConfiguration(), connector, endPoint) {
            @Override
            protected RequestHandler newRequestHandler() {
                return new RequestHandler() {
                    @Override
                    public void startRequest(String method, String uri, HttpVersion version) {
                        boolean originForm = uri.startsWith("/") || "CONNECT".equals(method);
                        String target = uri.equals("*") ? ASTERISK_PATH : originForm ? uri : REFUSED_PATH;
                        super.startRequest(method, target, version);
                    }
                };
            }
        };
        connection.setTransferEncodingChunkMaxLength(getTransferEncodingChunkMaxLength());
        return configure(connection, connector, endPoint);
    }
}
