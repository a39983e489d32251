package dev.once.proxy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.util.URIUtil;

/**
 * One client request as it will be forwarded, built once: the normalised path (routed, keyed and
 * forwarded alike), the query exactly as sent, the headers that survive {@link HeaderRules}, the body.
 * Its keys are computed from what is forwarded and nothing else, so two requests share a stored answer
 * only if the upstream would have received the same request from both.
 *
 * <p>Key texts (the table keeps a SHA-256 of them, and the text for inspection):
 *
 * <pre>
 * api mode:   origin, "METHOD path?query", each keyed header "name: value" (credentials as
 *             "name-sha256: hash"), sorted by name, and "body-sha256: hash" when there is a body
 * http mode:  origin, "uri path?query"  holds the URI's epoch ({@link UriRecord});
 *             that key, "epoch E", the credentials' hashes and the normalised Accept-Encoding holds the
 *             answer, or a {@link VaryRecord} whose variants add the Vary headers' values
 * </pre>
 */
final class ProxyRequest {
    final String method;
    final String path;
    final String query;
    final Route route;
    /** The headers as the client sent them (for its own conditionals and cache directives). */
    final HttpFields headers;
    /** The headers as they will be forwarded. */
    final HttpFields forwarded;

    final byte[] body;
    final String client;
    final String scheme;
    private final String origin;
    private final Set<String> credentials;
    private final boolean keyCredentials;

    private ProxyRequest(
            String method,
            String path,
            String query,
            Route route,
            HttpFields headers,
            HttpFields forwarded,
            byte[] body,
            String client,
            String scheme,
            ProxyConfig config) {
        this.method = method;
        this.path = path;
        this.query = query;
        this.route = route;
        this.headers = headers;
        this.forwarded = forwarded;
        this.body = body;
        this.client = client;
        this.scheme = scheme;
        this.origin = config.origin();
        this.credentials = config.credentialHeaders();
        this.keyCredentials = config.keyAuthorization();
    }

    /** The request to forward; {@code path} is already {@link #normalisePath normalised}. */
    static ProxyRequest of(
            ProxyConfig config,
            String method,
            String path,
            String query,
            HttpFields headers,
            byte[] body,
            String client,
            String scheme) {
        Route route = config.route(path);
        HttpFields.Mutable forwarded = HttpFields.build();
        for (HttpField f : HeaderRules.forwarded(headers)) {
            if (route != null && !route.http() && !route.vary().isEmpty() && !declared(route, config, f)) continue;
            forwarded.add(f);
        }
        return new ProxyRequest(
                method, path, query, route, headers, forwarded.asImmutable(), body, client, scheme, config);
    }

    /** api mode with a {@code vary} list: only the listed headers, credentials, encodings, body type and neutral ones go. */
    private static boolean declared(Route route, ProxyConfig config, HttpField f) {
        String name = f.getLowerCaseName();
        return route.vary().contains(name)
                || config.credentialHeaders().contains(name)
                || neutral(route, name)
                || name.equals("accept-encoding")
                || name.equals("content-type");
    }

    private static boolean neutral(Route route, String name) {
        return HeaderRules.NEUTRAL.contains(name)
                || (route != null && route.neutral().contains(name));
    }

    String pathQuery() {
        return query == null ? path : path + "?" + query;
    }

    /** Whether the client asked for part of an answer or made its request conditional. */
    boolean conditional() {
        for (HttpField f : headers) if (HeaderRules.CONDITIONAL.contains(f.getLowerCaseName())) return true;
        return false;
    }

    /** api mode: the key of the whole forwarded request. */
    String key() {
        StringBuilder key = new StringBuilder(256)
                .append(origin)
                .append('\n')
                .append(method)
                .append(' ')
                .append(pathQuery());
        appendHeaders(key, false);
        if (body.length > 0) key.append("\nbody-sha256: ").append(sha256(body));
        return key.toString();
    }

    /** http mode: the key of this request's URI, which holds its epoch. */
    String uriKey() {
        return uriKey(origin, pathQuery());
    }

    static String uriKey(String origin, String pathQuery) {
        return origin + "\nuri " + pathQuery;
    }

    /** http mode: the key of this request's answer under the URI's epoch: credentials and encoding decide. */
    String answerKey(UriRecord uri) {
        StringBuilder key = new StringBuilder(uriKey()).append("\nepoch ").append(uri.epoch());
        appendHeaders(key, true);
        return key.toString();
    }

    /** http mode: the key of one variant of an answer that varies. */
    String variantKey(String answerKey, VaryRecord vary) {
        return answerKey + "\nvariant\n" + Rfc9111.variant(vary.names(), forwarded);
    }

    /**
     * The keyed headers, sorted by name (values of one name keep their order). In http mode only the
     * credentials and the normalised Accept-Encoding: the origin's Vary names the rest.
     */
    private void appendHeaders(StringBuilder key, boolean httpMode) {
        List<HttpField> keyed = new ArrayList<>();
        for (HttpField f : forwarded) {
            String name = f.getLowerCaseName();
            boolean credential = credentials.contains(name);
            if (credential && !keyCredentials) continue;
            if (httpMode ? !credential && !name.equals("accept-encoding") : neutral(route, name)) continue;
            keyed.add(f);
        }
        keyed.sort(Comparator.comparing(HttpField::getLowerCaseName));
        for (HttpField f : keyed) {
            String name = f.getLowerCaseName();
            key.append('\n').append(name);
            if (credentials.contains(name)) {
                key.append("-sha256: ").append(sha256(f.getValue().getBytes(StandardCharsets.UTF_8)));
            } else {
                key.append(": ").append(f.getValue());
            }
        }
    }

    /**
     * The path as routed, keyed and forwarded: percent-escapes of unreserved characters decoded and the
     * others upper-cased (RFC 3986 6.2.2), dot segments removed; null when it climbs above the root or
     * has a malformed escape.
     */
    static String normalisePath(String raw) {
        if (raw == null || !raw.startsWith("/")) return null;
        StringBuilder b = new StringBuilder(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c != '%') {
                b.append(c);
                continue;
            }
            if (i + 2 >= raw.length()) return null;
            int hi = Character.digit(raw.charAt(i + 1), 16);
            int lo = Character.digit(raw.charAt(i + 2), 16);
            if (hi < 0 || lo < 0) return null;
            char decoded = (char) (hi * 16 + lo);
            if (unreserved(decoded)) b.append(decoded);
            else b.append('%').append(raw.substring(i + 1, i + 3).toUpperCase(Locale.ROOT));
            i += 2;
        }
        return URIUtil.normalizePath(b.toString());
    }

    private static boolean unreserved(char c) {
        return (c >= 'a' && c <= 'z')
                || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9')
                || c == '-'
                || c == '.'
                || c == '_'
                || c == '~';
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
