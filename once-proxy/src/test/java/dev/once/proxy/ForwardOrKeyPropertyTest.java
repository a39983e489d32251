package dev.once.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import dev.once.proxy.HttpModeTest.Origin;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.eclipse.jetty.http.HttpField;

/**
 * The invariant of issue 10, checked on generated requests over real HTTP: <b>a client only ever
 * receives an answer that the upstream made for the request this client's request forwards</b>, and
 * the upstream never sees a header no client sent.
 *
 * <p>The origin echoes what it received. For each generated request (header sets from a small pool so
 * that requests collide, names in random case, repeated headers, {@code Connection} lists, repeated
 * query parameters, encodings, credentials, bodies), the test computes on its own, as an independent
 * model of the rules in docs/once-serve.md, what the proxy should forward, and compares it with the echo in the
 * answer, whether the answer was a MISS or came from the cache. In http mode the origin says {@code Vary:
 * Accept-Language}, so there only what the rule keys (path, query, credentials, encoding) and the Vary
 * header must match.
 */
class ForwardOrKeyPropertyTest {
    private static Origin origin;
    private static OnceProxy api;
    private static OnceProxy httpMode;
    private static final Set<String> OUTCOMES = java.util.concurrent.ConcurrentHashMap.newKeySet();

    @BeforeContainer
    static void start() throws Exception {
        origin = new Origin();
        origin.fallback = (r, n) ->
                new HttpModeTest.Reply(200, echo(r), "Cache-Control", "max-age=600", "Vary", "Accept-Language");
        api = proxy(Route.of("/", Duration.ofMinutes(10)));
        httpMode = proxy(Route.http("/"));
    }

    private static OnceProxy proxy(Route route) throws Exception {
        return OnceProxy.start(
                ProxyConfig.builder(URI.create(origin.url()))
                        .host("127.0.0.1")
                        .port(0)
                        .namespace(TestDatabases.newTable("prop"))
                        .routes(List.of(route))
                        .build(),
                TestDatabases.shared(Db.SQLITE));
    }

    @AfterContainer
    static void stop() throws Exception {
        api.close();
        httpMode.close();
        origin.close();
        // the pools are small on purpose: the generated requests must have met each other in the cache
        assertThat(OUTCOMES).contains("HIT", "MISS");
    }

    /** What the origin received: method, target, headers (lower-case names, sorted, values in order), body. */
    static String echo(org.eclipse.jetty.server.Request r) {
        TreeMap<String, List<String>> headers = new TreeMap<>();
        for (HttpField f : r.getHeaders()) {
            String name = f.getLowerCaseName();
            if (Set.of("host", "content-length", "x-forwarded-for", "x-forwarded-proto")
                    .contains(name)) continue;
            headers.computeIfAbsent(name, k -> new ArrayList<>()).add(f.getValue());
        }
        String body;
        try {
            body = org.eclipse.jetty.io.Content.Source.asString(r, StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            body = "?";
        }
        return r.getMethod() + " " + r.getHttpURI().getPathQuery() + "\n" + headers + "\n" + body;
    }

    // ---- generated requests ----

    record Req(String path, String query, List<String[]> headers, String body) {
        String raw() {
            StringBuilder b = new StringBuilder("GET ").append(path);
            if (!query.isEmpty()) b.append('?').append(query);
            b.append(" HTTP/1.1\r\nHost: proxy\r\n");
            for (String[] h : headers) b.append(h[0]).append(": ").append(h[1]).append("\r\n");
            if (!body.isEmpty())
                b.append("Content-Length: ").append(body.length()).append("\r\n");
            return b.append("Connection: close\r\n\r\n").append(body).toString();
        }
    }

    private static final List<String[]> POOL = List.of(
            new String[] {"Authorization", "Bearer alice"},
            new String[] {"Authorization", "Bearer ALICE"},
            new String[] {"Cookie", "session=1"},
            new String[] {"Cookie", "session=2"},
            new String[] {"X-API-Key", "k1"},
            new String[] {"Accept-Language", "fr"},
            new String[] {"Accept-Language", "FR"},
            new String[] {"Accept-Language", "en"},
            new String[] {"Accept-Encoding", "gzip"},
            new String[] {"Accept-Encoding", "br"},
            new String[] {"Accept-Encoding", "gzip, br"},
            new String[] {"Accept-Encoding", "gzip;q=0"},
            new String[] {"X-Custom", "v"},
            new String[] {"X-Custom", "V"},
            new String[] {"X-Forwarded-Host", "evil.example"},
            new String[] {"X-HTTP-Method-Override", "DELETE"},
            new String[] {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            new String[] {"Keep-Alive", "timeout=5"});

    private static final List<String> CONNECTION_TOKENS =
            List.of("Accept-Language", "X-Custom", "Cookie", "Accept-Encoding", "X-API-Key");

    @Provide
    Arbitrary<Req> requests() {
        Arbitrary<String> path = Arbitraries.of("/p", "/p/", "/q", "/p/../q", "/%70");
        Arbitrary<String> query = Arbitraries.of("", "a=1", "a=1&a=2", "a=2&a=1", "b=%41", "b=A");
        Arbitrary<List<String[]>> headers = Arbitraries.of(POOL)
                .map(ForwardOrKeyPropertyTest::randomCase)
                .list()
                .ofMaxSize(4);
        Arbitrary<List<String>> connection =
                Arbitraries.of(CONNECTION_TOKENS).list().ofMaxSize(2);
        Arbitrary<String> body = Arbitraries.of("", "", "", "id=alice", "id=bob");
        return Combinators.combine(path, query, headers, connection, body).as((p, q, h, c, b) -> {
            List<String[]> all = new ArrayList<>(h);
            if (!c.isEmpty()) all.add(new String[] {"Connection", String.join(", ", c)});
            return new Req(p, q, all, b);
        });
    }

    private static String[] randomCase(String[] header) {
        String name = java.util.concurrent.ThreadLocalRandom.current().nextBoolean()
                ? header[0]
                : header[0].toLowerCase(Locale.ROOT);
        return new String[] {name, header[1]};
    }

    // ---- the model: what the proxy should forward ----

    private static final Set<String> HOP = Set.of("connection", "keep-alive", "te", "trailer", "upgrade");
    private static final Set<String> DROP = Set.of("x-forwarded-host", "x-http-method-override");
    private static final Set<String> NEUTRAL = Set.of("traceparent");
    private static final Set<String> CREDENTIALS = Set.of("authorization", "cookie", "x-api-key");
    /**
     * http mode: the credentials and what the origin's Vary names decide; the encoding does not (an
     * answer gzipped for one client is decoded for another; this origin never encodes).
     */
    private static final Set<String> HTTP_KEYED = Set.of("authorization", "cookie", "x-api-key", "accept-language");

    /** The forwarded headers by the model: lower-case name to values in order. */
    static Map<String, List<String>> forwarded(Req r) {
        Set<String> listed = new java.util.HashSet<>();
        for (String[] h : r.headers())
            if (h[0].equalsIgnoreCase("Connection"))
                for (String t : h[1].split(",")) listed.add(t.trim().toLowerCase(Locale.ROOT));
        Map<String, List<String>> out = new TreeMap<>();
        Boolean gzip = null;
        for (String[] h : r.headers()) {
            String name = h[0].toLowerCase(Locale.ROOT);
            if (HOP.contains(name) || DROP.contains(name) || listed.contains(name)) continue;
            if (name.equals("accept-encoding")) {
                for (String item : h[1].split(",")) {
                    String coding = item.split(";")[0].trim();
                    if (coding.equals("gzip")) gzip = !item.replace(" ", "").contains("q=0");
                }
                continue;
            }
            out.computeIfAbsent(name, k -> new ArrayList<>()).add(h[1]);
        }
        if (Boolean.TRUE.equals(gzip) && !listed.contains("accept-encoding"))
            out.put("accept-encoding", List.of("gzip"));
        return out;
    }

    static String normalisedPath(String path) {
        String p = path.replace("%70", "p");
        return p.equals("/p/../q") ? "/q" : p;
    }

    /** The parts of what the upstream received that must match, as text. */
    static String expected(Req r, boolean http) {
        Map<String, List<String>> headers = new TreeMap<>(forwarded(r));
        if (http) headers.keySet().retainAll(HTTP_KEYED);
        else headers.keySet().removeAll(NEUTRAL);
        String target = normalisedPath(r.path()) + (r.query().isEmpty() ? "" : "?" + r.query());
        return "GET " + target + "\n" + headers + "\n" + (http ? "" : r.body());
    }

    static String received(String echo, boolean http) {
        String[] lines = echo.split("\n", 3);
        Map<String, List<String>> headers = parse(lines[1]);
        if (http) headers.keySet().retainAll(HTTP_KEYED);
        else headers.keySet().removeAll(NEUTRAL);
        return lines[0] + "\n" + headers + "\n" + (http ? "" : lines.length > 2 ? lines[2] : "");
    }

    /** "{a=[x, y], b=[z]}" back into a map (values hold no ", " or "=" in this test's pool, but "=" in cookies). */
    static Map<String, List<String>> parse(String text) {
        Map<String, List<String>> out = new TreeMap<>();
        String inner = text.substring(1, text.length() - 1);
        if (inner.isEmpty()) return out;
        for (String entry : inner.split("], ")) {
            int eq = entry.indexOf('=');
            String values = entry.substring(eq + 2).replaceAll("]$", "");
            out.put(entry.substring(0, eq), new ArrayList<>(List.of(values.split(", (?=[^ ])"))));
        }
        return out;
    }

    // ---- the property ----

    @Property(tries = 250)
    void anAnswer_isAlwaysTheUpstreamsAnswerToThisVeryForwardedRequest(@ForAll("requests") Req r) throws Exception {
        for (boolean http : List.of(false, true)) {
            if (http && !r.body().isEmpty()) continue; // a GET with a body is passed through in http mode
            String response = send(http ? httpMode : api, r.raw());
            assertThat(response).as(r.raw()).startsWith("HTTP/1.1 200");
            String outcome = header(response, "X-Once-Cache");
            OUTCOMES.add(outcome);
            String body = response.substring(response.indexOf("\r\n\r\n") + 4);
            assertThat(received(body, http))
                    .as("%s mode, %s, for%n%s", http ? "http" : "api", outcome, r.raw())
                    .isEqualTo(expected(r, http));
        }
    }

    private static String header(String response, String name) {
        for (String line : response.split("\r\n")) {
            if (line.regionMatches(true, 0, name + ":", 0, name.length() + 1))
                return line.substring(name.length() + 1).trim();
        }
        return "none";
    }

    private static String send(OnceProxy p, String raw) throws Exception {
        try (Socket s = new Socket("127.0.0.1", p.port())) {
            s.getOutputStream().write(raw.getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toString(StandardCharsets.UTF_8);
        }
    }
}
