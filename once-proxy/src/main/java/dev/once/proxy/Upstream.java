package dev.once.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.nio.channels.UnresolvedAddressException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.ProxyAuthenticationProtocolHandler;
import org.eclipse.jetty.client.RedirectProtocolHandler;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.UpgradeProtocolHandler;
import org.eclipse.jetty.client.WWWAuthenticationProtocolHandler;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.http.DateGenerator;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards one request to the upstream with Jetty's client and buffers the answer, up to a limit. The
 * client holds no state between requests: no cookie jar, no authentication or redirect handling, and
 * header values kept exactly as sent.
 */
final class Upstream implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Upstream.class);

    /** An upstream answer whose header block is larger is refused (502): the proxy's server writes up to this much. */
    static final int MAX_RESPONSE_HEADER_BYTES = 48 * 1024;

    private final HttpClient client = new HttpClient(caseSensitiveTransport());
    private final ProxyConfig config;
    /** The replica's budget for answers in flight: an answer read past it is passed through, not stored. */
    private final AnswerMemory memory;
    /** The upstream URL's path without its trailing slash: every forwarded path goes under it. */
    private final String basePath;

    /** The upstream URL's path without its trailing slash: every forwarded path goes under it. */
    String basePath() {
        return basePath;
    }

    Upstream(ProxyConfig config, AnswerMemory memory) throws Exception {
        this.config = config;
        this.memory = memory;
        this.basePath = config.upstream().getRawPath() == null
                ? ""
                : config.upstream().getRawPath().replaceAll("/+$", ""); // as ProxyConfig.origin() cuts it
        client.setConnectTimeout(config.connectTimeout().toMillis());
        client.setFollowRedirects(false);
        client.setUserAgentField(null); // the caller's User-Agent is forwarded as it is
        client.setDefaultRequestContentType(null); // and a body without Content-Type goes without one
        // The proxy holds no state between requests: a cookie jar would send one client's upstream session
        // to every later request, whoever made it.
        client.setHttpCookieStore(new HttpCookieStore.Empty());
        // a request the server took (headers up to its limit, a long query) fits the client's buffer too
        int requestHeaders = 2 * config.maxRequestHeaderBytes() + 8192;
        client.setRequestBufferSize(Math.max(client.getRequestBufferSize(), requestHeaders));
        client.setMaxRequestHeadersSize(Math.max(client.getMaxRequestHeadersSize(), requestHeaders));
        client.setMaxResponseHeadersSize(MAX_RESPONSE_HEADER_BYTES);
        client.setMaxConnectionsPerDestination(config.maxUpstreamConnections());
        client.setMaxRequestsQueuedPerDestination(config.maxQueuedUpstreamRequests());
        client.start();
        // bodies pass through as the upstream encoded them (start() installs a gzip decoder: removed after it)
        client.getContentDecoderFactories().clear();
        // Every final answer goes to the client as it came: Jetty's 401 handling turns a 401 without
        // WWW-Authenticate into a protocol error, and redirects and upgrades are the client's business.
        // The interim-answer handlers (100, 102, 103) stay: they wait for the final answer. (start()
        // installs the defaults, so they are removed after it.)
        client.getProtocolHandlers().remove(WWWAuthenticationProtocolHandler.NAME);
        client.getProtocolHandlers().remove(ProxyAuthenticationProtocolHandler.NAME);
        client.getProtocolHandlers().remove(RedirectProtocolHandler.NAME);
        client.getProtocolHandlers().remove(new UpgradeProtocolHandler().getName());
    }

    /**
     * Jetty's parser caches header fields per connection and, by default, matches their values without
     * regard to case: a later response could arrive with an earlier one's spelling ("MaX-aGe=3600" for
     * "max-age=3600"). A proxy must pass values as they were sent.
     */
    private static HttpClientTransportOverHTTP caseSensitiveTransport() {
        var transport = new HttpClientTransportOverHTTP();
        transport.setHeaderCacheCaseSensitive(true);
        return transport;
    }

    /** The request as it is forwarded: its method, headers and body. */
    Answer forward(ProxyRequest x) {
        return forward(x, x.method, x.body, h -> {});
    }

    /**
     * The request with another method and body; {@code adjust} edits the forwarded headers last (a
     * cache's own validators).
     */
    Answer forward(ProxyRequest x, String method, byte[] body, Consumer<HttpFields.Mutable> adjust) {
        long timeout = config.upstreamTimeout().toMillis();
        long started = System.nanoTime();
        try {
            return send(x, method, body, adjust, timeout);
        } catch (ClosedBeforeAnswering e) {
            // An upstream may close an idle keep-alive connection just as the next request goes out on it
            // (without Connection: close, it cannot say): that request never reached its handler, and
            // failed with 502, whoever sent it (helper-24). A GET or HEAD is sent once more, on a new
            // connection, when the close came at once (within RETRY_WINDOW_MILLIS): one that came later
            // may follow work the upstream did, and paying it twice is worse than a 502 (a close after 3 s
            // was paid twice: helper-25). Within the time left of the upstream timeout, not a new one.
            long elapsed = (System.nanoTime() - started) / 1_000_000;
            if (!method.equals("GET") && !method.equals("HEAD") || elapsed > RETRY_WINDOW_MILLIS || elapsed >= timeout)
                throw classify(e.getCause());
            log.debug("the upstream closed a connection before answering; {} sent again", method);
            try {
                return send(x, method, body, adjust, timeout - elapsed);
            } catch (ClosedBeforeAnswering again) {
                throw classify(again.getCause());
            }
        }
    }

    /**
     * Jetty's stream of the answer, and {@link #head}, completed when the answer's head is in, when the
     * exchange failed or ended, or at the upstream deadline: a wait on it needs no timer of its own.
     */
    private static final class HeadListener extends InputStreamResponseListener {
        final java.util.concurrent.CompletableFuture<Void> head = new java.util.concurrent.CompletableFuture<>();

        @Override
        public void onHeaders(Response response) {
            super.onHeaders(response);
            head.complete(null);
        }

        @Override
        public void onFailure(Response response, Throwable failure) {
            super.onFailure(response, failure);
            head.complete(null);
        }

        @Override
        public void onComplete(org.eclipse.jetty.client.Result result) {
            super.onComplete(result);
            head.complete(null);
        }
    }

    /** How long the head may take to show once {@link HeadListener#head} said it is in (it is, at once). */
    private static final long HEAD_GRACE_MILLIS = 1_000;

    /** How soon after sending a closed connection counts as one closed idle, for a retry. */
    static final long RETRY_WINDOW_MILLIS = 500;

    /** The upstream's connection ended before any answer came back. */
    private static final class ClosedBeforeAnswering extends Exception {
        ClosedBeforeAnswering(Throwable cause) {
            super(cause);
        }
    }

    /**
     * The upstream URL for a request: the upstream's scheme and authority, its base path (cut of its
     * trailing slashes once, in the constructor), then the request's normalised path and query. Built, never
     * resolved: a base path of "/" before "/evil:80/x" made the network-path reference "//evil:80/x", which
     * {@code URI.resolve} sends to another host; built, a "//" can only be part of the path.
     */
    static URI target(URI upstream, String basePath, String pathQuery) {
        return URI.create(upstream.getScheme() + "://" + upstream.getRawAuthority() + basePath + pathQuery);
    }

    /** Whether a request's Authorization is a scheme that logs in the connection (NTLM, Negotiate). */
    static boolean logsInTheConnection(HttpFields headers) {
        for (HttpField f : headers) {
            if (!f.is(HttpHeader.AUTHORIZATION.asString())) continue;
            String v = f.getValue().stripLeading();
            int end = v.indexOf(' ');
            String scheme = end < 0 ? v : v.substring(0, end);
            if (scheme.equalsIgnoreCase("NTLM") || scheme.equalsIgnoreCase("Negotiate")) return true;
        }
        return false;
    }

    private Answer send(ProxyRequest x, String method, byte[] body, Consumer<HttpFields.Mutable> adjust, long timeout)
            throws ClosedBeforeAnswering {
        URI target = target(config.upstream(), basePath, x.pathQuery());
        // No total timeout on the request: it also ran while a client read a streamed answer, and cut a
        // slow reader's answer short though the upstream had sent it all (8.6 of 20 MB, logged as a 200:
        // helper-24). The deadline below covers the upstream's part instead, and the idle timeout an
        // upstream that stalls while its answer is being streamed.
        Request request = client.newRequest(target).method(method).idleTimeout(timeout, TimeUnit.MILLISECONDS);
        request.headers(h -> {
            h.remove(HttpHeader.ACCEPT_ENCODING);
            for (HttpField f : x.forwarded) h.add(f); // X-Forwarded-For and -Proto included
            adjust.accept(h);
            // NTLM and Negotiate (IIS's default) log in the connection, not the request: a pooled connection
            // that carried alice's login answered the next client's request, without credentials, as alice,
            // and api mode stored that answer for everyone (helper-68). Such a request's connection is closed
            // after it, so no other request rides it (NTLM's handshake, which spans requests on one
            // connection, then cannot complete through the proxy: refused, never shared)
            if (logsInTheConnection(h)) h.put(HttpHeader.CONNECTION, "close");
        });
        if (body.length > 0) request.body(new BytesRequestContent(x.forwarded.get(HttpHeader.CONTENT_TYPE), body));
        HeadListener listener = new HeadListener();
        request.send(listener);
        // the upstream's part: its answer's head, and the whole answer when it is read to be stored
        Scheduler.Task deadline = client.getScheduler()
                .schedule(
                        () -> {
                            request.abort(new TimeoutException("Total timeout " + timeout + " ms elapsed"));
                            listener.head.complete(null);
                        },
                        timeout,
                        TimeUnit.MILLISECONDS);
        try {
            // No timed wait here: the deadline above ends it. A timed wait on a virtual thread schedules a
            // JDK timer and cancels it, each waking the JDK's delay-scheduler thread (2% of a replica's CPU
            // in the proxy-waiters bench, with the cache's own timed waits)
            listener.head.get();
            Response r = listener.get(HEAD_GRACE_MILLIS, TimeUnit.MILLISECONDS);
            if (r.getStatus() < 200) { // an upgrade nobody asked for (the proxy never forwards Upgrade)
                request.abort(new IOException("unsolicited " + r.getStatus()));
                throw new UpstreamFailure(
                        502, "the upstream answered " + r.getStatus() + " to a request that asked no upgrade", null);
            }
            int headerBytes = 0;
            for (HttpField f : r.getHeaders())
                headerBytes += f.getName().length() + f.getValue().length() + 4;
            if (headerBytes > MAX_RESPONSE_HEADER_BYTES) {
                request.abort(new IOException("response headers too large"));
                throw new UpstreamFailure(
                        502, "the upstream's answer headers are over " + MAX_RESPONSE_HEADER_BYTES + " bytes", null);
            }
            List<String[]> headers = new ArrayList<>();
            List<String> dropped = HeaderRules.connectionTokens(r.getHeaders());
            for (HttpField f : r.getHeaders()) {
                String name = f.getLowerCaseName();
                if (HeaderRules.HOP_BY_HOP.contains(name) || dropped.contains(name)) continue;
                // the proxy writes the length of what it sends; a HEAD's answer keeps the upstream's
                // (and a 304's, which states the length of the answer it stands for: RFC 9110 8.6)
                if (name.equals("content-length") && !method.equals("HEAD") && r.getStatus() != 304) continue;
                headers.add(new String[] {f.getName(), f.getValue()});
            }
            if (r.getHeaders().get(HttpHeader.DATE) == null) { // RFC 9110 6.6.1: a recipient with a clock adds one
                headers.add(new String[] {"Date", DateGenerator.formatDate(System.currentTimeMillis())});
            }
            InputStream in = listener.getInputStream();
            long limit = config.maxCachedResponseBytes();
            long declared = r.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
            // Larger than the cache takes: handed over as a stream, never buffered whole, never stored; from
            // here on the client's reading sets the pace
            if (declared > limit) return new StreamedResponse(r.getStatus(), headers, new byte[0], in, declared, false);
            return buffered(r.getStatus(), headers, in, limit, declared, x); // read whole, or the rest streamed
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UpstreamFailure(502, "interrupted while waiting for the upstream", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof java.io.EOFException
                    || e.getCause() instanceof java.nio.channels.ClosedChannelException)
                throw new ClosedBeforeAnswering(e.getCause());
            throw classify(e.getCause());
        } catch (TimeoutException e) {
            request.abort(e);
            throw classify(e);
        } catch (IOException e) {
            throw classify(e.getCause() != null ? e.getCause() : e);
        } finally {
            deadline.cancel(); // the answer is in, or handed over to be streamed at its client's pace
        }
    }

    /**
     * The answer read into memory, up to the cache's limit, counted in the replica's budget ({@link
     * AnswerMemory#read}); past the limit or the budget, what was read and the rest are handed over as a
     * stream (passed through, never stored). What the read took stays with the request ({@link
     * ProxyRequest#held}) until its answer is being written: given back here, it left the copies made
     * while the answer was stored (the cache's encoding: 8 MB more per answer) uncounted, and 200 clients
     * asking for chunked 8 MB answers they never read ran a 256 MB heap out of memory (helper-23).
     */
    private Answer buffered(
            int status, List<String[]> headers, InputStream in, long limit, long declared, ProxyRequest x)
            throws IOException {
        long[] held = {0};
        boolean handedOn = false;
        try {
            AnswerMemory.Read read = memory.read(in, limit, declared, held);
            Answer answer = read.refused() || read.bytes().length > limit
                    ? new StreamedResponse(status, headers, read.bytes(), in, declared, read.refused())
                    : new StoredResponse(status, headers, read.bytes());
            if (answer instanceof StoredResponse) in.close();
            handedOn = true;
            return answer;
        } finally {
            if (handedOn) x.held.addAndGet(held[0]);
            else memory.give(held[0]);
        }
    }

    /** A failure as one line for the client; the detail goes to the log, never to the client. */
    private UpstreamFailure classify(Throwable cause) {
        String upstream = config.upstreamForDisplay();
        if (cause instanceof TimeoutException) {
            return new UpstreamFailure(
                    504,
                    "the upstream did not answer within "
                            + config.upstreamTimeout().toMillis() + " ms",
                    cause);
        }
        if (cause instanceof RejectedExecutionException) {
            return new UpstreamFailure(
                    503,
                    "too many requests waiting for the upstream (over " + config.maxQueuedUpstreamRequests()
                            + "); retry shortly",
                    cause);
        }
        if (cause instanceof ConnectException
                || cause instanceof UnresolvedAddressException
                || cause instanceof java.net.SocketTimeoutException) {
            // no address: an API key in the upstream's base path (/v2/KEY) went to every client in this
            // answer, and into the row's error column (helper-76); the proxy's own log names it
            log.debug("the upstream {} is unreachable: {}", upstream, Errors.oneLine(cause));
            return new UpstreamFailure(502, "the upstream is unreachable", cause);
        }
        log.warn("the upstream {} failed: {}", upstream, Errors.oneLine(cause));
        return new UpstreamFailure(
                502, "the upstream failed (" + cause.getClass().getSimpleName() + "); see the proxy's log", cause);
    }

    @Override
    public void close() throws Exception {
        client.stop();
    }
}
