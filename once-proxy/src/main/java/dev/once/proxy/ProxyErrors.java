package dev.once.proxy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's own error answers (a malformed request, a header or URI too long, an unsupported version) in
 * the proxy's form: one plain line, {@code X-Once-Cache: BYPASS}, nothing internal (no stack, no
 * message text, no object dump).
 */
final class ProxyErrors extends ErrorHandler {

    static String line(int status) {
        String reason = HttpStatus.getMessage(status);
        return status + " " + (reason == null ? "error" : reason) + "\n";
    }

    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        fields.put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
        fields.put(ProxyHandler.X_ONCE_CACHE, Outcome.BYPASS.name());
        return ByteBuffer.wrap(line(status).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    protected void generateResponse(
            Request request, Response response, int status, String message, Throwable cause, Callback callback) {
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
        response.getHeaders().put(ProxyHandler.X_ONCE_CACHE, Outcome.BYPASS.name());
        response.write(true, ByteBuffer.wrap(line(status).getBytes(StandardCharsets.UTF_8)), callback);
    }
}
