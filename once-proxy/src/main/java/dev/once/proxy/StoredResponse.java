package dev.once.proxy;

import java.util.ArrayList;
import java.util.List;

/**
 * An upstream answer whole in memory, as the cache keeps it: status, end-to-end headers, body.
 *
 * <p>For HTTP caching (RFC 9111) it also keeps when the request that fetched it was sent and when the
 * answer arrived (epoch ms, for the Age calculation), and {@code variant}: for an answer with {@code
 * Vary}, the normalised values of the named request headers it was selected by (empty otherwise); and
 * {@code encodingAsked}, the Accept-Encoding the proxy forwarded for it ("gzip" or empty), so an answer
 * in an encoding the client did not list still reaches a client whose request forwards the same.
 */
record StoredResponse(
        int status,
        List<String[]> headers,
        byte[] body,
        long requestTime,
        long responseTime,
        String variant,
        String encodingAsked)
        implements Answer, Cached {

    StoredResponse {
        headers = EncodedHeaders.of(headers);
        variant = variant == null ? "" : variant;
        encodingAsked = encodingAsked == null ? "" : encodingAsked;
    }

    StoredResponse(int status, List<String[]> headers, byte[] body) {
        this(status, headers, body, 0, 0, "", "");
    }

    /** The same answer with the times of the exchange that produced it. */
    StoredResponse timed(long requestTime, long responseTime) {
        return new StoredResponse(status, headers, body, requestTime, responseTime, variant, encodingAsked);
    }

    StoredResponse withVariant(String variant) {
        return new StoredResponse(status, headers, body, requestTime, responseTime, variant, encodingAsked);
    }

    StoredResponse withBody(byte[] body) {
        return new StoredResponse(status, headers, body, requestTime, responseTime, variant, encodingAsked);
    }

    StoredResponse askedWith(String encodingAsked) {
        return new StoredResponse(status, headers, body, requestTime, responseTime, variant, encodingAsked);
    }

    StoredResponse withHeaders(List<String[]> headers) {
        return new StoredResponse(status, headers, body, requestTime, responseTime, variant, encodingAsked);
    }

    /**
     * The answer as a shared cache stores it: an upstream's Set-Cookie belongs to the client it was made
     * for. (Set-Cookie2, obsolete since RFC 6265 and read by no browser, is kept as RFC 9111 stores it.)
     */
    StoredResponse shareable() {
        if (header("Set-Cookie") == null) return this;
        List<String[]> kept = new ArrayList<>(headers.size());
        for (String[] h : headers) if (!h[0].equalsIgnoreCase("Set-Cookie")) kept.add(h);
        return withHeaders(kept);
    }

    String header(String name) {
        for (String[] h : headers) if (h[0].equalsIgnoreCase(name)) return h[1];
        return null;
    }

    List<String> headerValues(String name) {
        List<String> out = new ArrayList<>();
        for (String[] h : headers) if (h[0].equalsIgnoreCase(name)) out.add(h[1]);
        return out;
    }
}
