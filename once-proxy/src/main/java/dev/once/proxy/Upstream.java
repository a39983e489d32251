package dev.once.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.nio.channels.UnresolvedAddressException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;

/** Forwards one request to the upstream with Jetty's client and buffers the answer, up to a limit. */
final class Upstream implements AutoCloseable {
    /** RFC 9110 7.6.1: hop-by-hop headers are never forwarded. */
    static final Set<String> HOP_BY_HOP = Set.of(
            "connection",
            "keep-alive",
            "proxy-connection",
            "proxy-authenticate",
            "proxy-authorization",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade");

    private final HttpClient client = new HttpClient(caseSensitiveTransport());
    private final ProxyConfig config;

    Upstream(ProxyConfig config) throws Exception {
        this.config = config;
        client.setConnectTimeout(config.connectTimeout().toMillis());
        client.setFollowRedirects(false);
        client.setUserAgentField(null); // the caller's User-Agent is forwarded as it is
        client.getContentDecoderFactories().clear(); // bodies pass through as the upstream encoded them
        // The proxy holds no state between requests: a cookie jar would send one client's upstream session
        // to every later request, whoever made it.
        client.setHttpCookieStore(new HttpCookieStore.Empty());
        client.setMaxConnectionsPerDestination(256);
        client.start();
    }

    /**
     * Jetty's parser caches header fields per connection and, by default, matches their values without
     * regard to case: a later response could arrive with an earlier one's spelling ("MaX-aGe=3600" for
     * "max-age=3600"). A proxy must pass values as they were sent.
     */
    private static org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP caseSensitiveTransport() {
        var transport = new org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP();
        transport.setHeaderCacheCaseSensitive(true);
        return transport;
    }

    StoredResponse forward(
            String method,
            String pathAndQuery,
            HttpFields requestHeaders,
            byte[] body,
            String clientAddress,
            String scheme) {
        return forward(method, pathAndQuery, requestHeaders, body, clientAddress, scheme, h -> {});
    }

    /** As above; {@code adjust} edits the forwarded request's headers last (a cache's own validators). */
    StoredResponse forward(
            String method,
            String pathAndQuery,
            HttpFields requestHeaders,
            byte[] body,
            String clientAddress,
            String scheme,
            java.util.function.Consumer<HttpFields.Mutable> adjust) {
        URI target = config.upstream()
                .resolve(
                        pathAndQuery.startsWith("/")
                                ? config.upstream().getRawPath().replaceAll("/$", "") + pathAndQuery
                                : pathAndQuery);
        Request request = client.newRequest(target)
                .method(method)
                .timeout(config.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS);
        List<String> listedInConnection = connectionTokens(requestHeaders);
        request.headers(h -> {
            h.remove(HttpHeader.ACCEPT_ENCODING);
            for (HttpField f : requestHeaders) {
                String name = f.getName().toLowerCase(Locale.ROOT);
                if (HOP_BY_HOP.contains(name)
                        || listedInConnection.contains(name)
                        || name.equals("host")
                        || name.equals("content-length")
                        || name.equals("x-forwarded-for")
                        || name.equals("x-forwarded-proto")) {
                    continue;
                }
                h.add(f.getName(), f.getValue());
            }
            String prior = requestHeaders.get("X-Forwarded-For");
            h.put("X-Forwarded-For", prior == null ? clientAddress : prior + ", " + clientAddress);
            h.put("X-Forwarded-Proto", scheme);
            adjust.accept(h);
        });
        if (body.length > 0) request.body(new BytesRequestContent(contentType(requestHeaders), body));
        InputStreamResponseListener listener = new InputStreamResponseListener();
        request.send(listener);
        try {
            Response r = listener.get(config.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS);
            List<String[]> headers = new ArrayList<>();
            List<String> dropped = connectionTokens(r.getHeaders());
            for (HttpField f : r.getHeaders()) {
                String name = f.getName().toLowerCase(Locale.ROOT);
                if (HOP_BY_HOP.contains(name) || dropped.contains(name) || name.equals("content-length")) continue;
                headers.add(new String[] {f.getName(), f.getValue()});
            }
            if (r.getHeaders().get(HttpHeader.DATE) == null) { // RFC 9110 6.6.1: a recipient with a clock adds one
                headers.add(new String[] {
                    "Date", org.eclipse.jetty.http.DateGenerator.formatDate(System.currentTimeMillis())
                });
            }
            InputStream in = listener.getInputStream();
            long limit = config.maxCachedResponseBytes();
            long declared = r.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
            // Larger than the cache takes: handed over as a stream, never buffered whole, never stored.
            if (declared > limit) return new StoredResponse(r.getStatus(), headers, new byte[0], in, declared);
            byte[] prefix = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
            if (prefix.length > limit) return new StoredResponse(r.getStatus(), headers, prefix, in, declared);
            in.close();
            return new StoredResponse(r.getStatus(), headers, prefix);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UpstreamFailure(502, "interrupted while waiting for the upstream", e);
        } catch (ExecutionException e) {
            throw classify(e.getCause());
        } catch (TimeoutException e) {
            request.abort(e);
            throw classify(e);
        } catch (IOException e) {
            throw classify(e.getCause() != null ? e.getCause() : e);
        }
    }

    private UpstreamFailure classify(Throwable cause) {
        if (cause instanceof TimeoutException) {
            return new UpstreamFailure(
                    504,
                    "the upstream did not answer within "
                            + config.upstreamTimeout().toMillis() + " ms",
                    cause);
        }
        if (cause instanceof ConnectException
                || cause instanceof UnresolvedAddressException
                || cause instanceof java.net.SocketTimeoutException) {
            return new UpstreamFailure(
                    502, "the upstream " + config.upstream() + " is unreachable: " + cause.getMessage(), cause);
        }
        if (cause instanceof IllegalArgumentException
                && String.valueOf(cause.getMessage()).contains("capacity")) {
            return new UpstreamFailure(
                    502,
                    "the upstream answer is larger than max-response-bytes (" + config.maxCachedResponseBytes() + ")",
                    cause);
        }
        return new UpstreamFailure(502, "the upstream failed: " + cause, cause);
    }

    private static String contentType(HttpFields headers) {
        String ct = headers.get(HttpHeader.CONTENT_TYPE);
        return ct == null ? "application/octet-stream" : ct;
    }

    private static List<String> connectionTokens(HttpFields headers) {
        List<String> tokens = new ArrayList<>();
        for (String v : headers.getValuesList(HttpHeader.CONNECTION)) {
            for (String t : v.split(",")) tokens.add(t.trim().toLowerCase(Locale.ROOT));
        }
        return tokens;
    }

    @Override
    public void close() throws Exception {
        client.stop();
    }
}
