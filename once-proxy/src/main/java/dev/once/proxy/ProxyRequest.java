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
import org.eclipse.jetty.http.HttpHeader;
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
 * (in both, the value of a query parameter named like a credential, {@link #CREDENTIAL_PARAMETERS}, is
 * its digest ({@link CredentialDigest}): "?api_key=sha256=hash", or "hmac=" under a key secret; the
 * table holds no credential it was sent)
 * api mode:   origin, "METHOD path?query", each keyed header "name: value" (credentials as
 *             "credential name " and the digest), sorted by name, "body sha256=hash" when there is a body,
 *             and "policy P" (ProxyConfig#keyPolicy)
 * http mode:  origin, "uri path?query" with each credential parameter's value as "*" holds the URI's
 *             epoch ({@link UriRecord}), one for every credential, so that an invalidation reaches
 *             them all; that key, "epoch E", "target path?query" (credential values digested) and the
 *             credential headers' hashes holds the answer, or a
 *             {@link VaryRecord} whose variants add the Vary headers' values
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
    /**
     * The answer memory this request's upstream reads still hold ({@link AnswerMemory}): kept until its
     * answer is being written, so that the copies made on the way (the cache's encoding, the driver's)
     * are covered; given back by the proxy's handler once the write has counted the answer itself.
     */
    final java.util.concurrent.atomic.AtomicLong held = new java.util.concurrent.atomic.AtomicLong();

    private final String origin;
    private final Set<String> credentials;
    private final CredentialDigest digest;
    private final boolean keyCredentials;
    /** What decides the key besides the request (credential names and sharing, the route's vary and neutral lists), as a hash: replicas or restarts with another policy never share keys. */
    private final String policy;

    private ProxyRequest(
            String method,
            String path,
            String query,
            Route route,
            HttpFields headers,
            HttpFields forwarded,
            byte[] body,
            ProxyConfig config,
            String origin,
            String policy,
            CredentialDigest digest) {
        this.method = method;
        this.path = path;
        this.query = query;
        this.route = route;
        this.headers = headers;
        this.forwarded = forwarded;
        this.body = body;
        this.origin = origin;
        this.credentials = config.credentialHeaders();
        this.keyCredentials = config.keyAuthorization();
        this.policy = policy;
        this.digest = digest;
    }

    /**
     * The request to forward; {@code path} is already {@link #normalisePath normalised}; {@code origin},
     * {@code policy} and {@code digest} are the config's {@link ProxyConfig#origin()}, the route's {@link
     * ProxyConfig#keyPolicy} and the digest of the config's key secret, made once by the caller, not per
     * request. Null when its query holds
     * bytes that cannot be forwarded as they came (not UTF-8).
     */
    static ProxyRequest of(
            ProxyConfig config,
            Route route,
            String origin,
            String policy,
            CredentialDigest digest,
            String method,
            String path,
            String query,
            HttpFields headers,
            byte[] body,
            String client,
            String scheme) {
        String forwardedQuery = query == null ? null : encodeTarget(query, true);
        if (query != null && forwardedQuery == null) return null;
        HttpFields.Mutable forwarded = HttpFields.build();
        for (HttpField f : HeaderRules.forwarded(headers)) {
            // the client's own X-Forwarded-For is dropped: it is not keyed, and an upstream that believed its
            // first address (allow-lists, regions, rate tiers) would answer one client's claim for everyone
            if (f.getHeader() == HttpHeader.X_FORWARDED_FOR) continue;
            if (route != null && !route.http() && !route.vary().isEmpty() && !declared(route, config, f)) continue;
            forwarded.add(f);
        }
        // the proxy's own headers are part of the request as forwarded, so Vary and keys see what goes
        forwarded.add(HttpHeader.X_FORWARDED_FOR, client);
        forwarded.add(HttpHeader.X_FORWARDED_PROTO, scheme);
        return new ProxyRequest(
                method,
                path,
                forwardedQuery,
                route,
                headers,
                forwarded.asImmutable(),
                body,
                config,
                origin,
                policy,
                digest);
    }

    /** api mode with a {@code vary} list: only the listed headers, credentials, encodings, body type and neutral ones go. */
    private static boolean declared(Route route, ProxyConfig config, HttpField f) {
        String name = f.getLowerCaseName();
        return route.vary().contains(name)
                || HeaderRules.credential(config.credentialHeaders(), name)
                || neutral(route, name)
                || name.equals("accept-encoding")
                || name.equals("content-type");
    }

    /**
     * api mode: whether the request forwards a header of this name whose value the key leaves out (a
     * neutral header, the proxy's {@code X-Forwarded-For}, a credential where answers are declared the
     * same for every caller). An answer whose Vary names one differs by something the key does not hold.
     */
    boolean forwardedUnkeyed(String name) {
        return forwardedUnkeyed(route, keyCredentials, credentials, name);
    }

    /** {@link #forwardedUnkeyed(String)} for a route under a configuration (its start-up check of vary lists). */
    static boolean forwardedUnkeyed(Route route, boolean keyCredentials, Set<String> credentials, String name) {
        return neutral(route, name) || (!keyCredentials && HeaderRules.named(credentials, name));
    }

    static boolean neutral(Route route, String name) {
        return HeaderRules.NEUTRAL.contains(name)
                || (route != null && route.neutral().contains(name));
    }

    /**
     * A path or query as it is forwarded: characters a URI cannot carry raw (space, {@code | { } ^ " \}
     * ..., non-ASCII as its UTF-8 bytes) and a {@code %} that starts no escape are percent-encoded, the
     * rest kept as sent. Null when the text holds a character that stood for undecodable bytes (U+FFFD):
     * two different requests would forward the same bytes.
     */
    static String encodeTarget(String text, boolean query) {
        StringBuilder b = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\uFFFD') return null;
            boolean keep = c < 0x7F && (Character.isLetterOrDigit(c) || ALLOWED.indexOf(c) >= 0);
            if (c == '%') keep = i + 2 < text.length() && hex(text.charAt(i + 1)) && hex(text.charAt(i + 2));
            if (c == '?' && !query) keep = false;
            if (keep) {
                if (b != null) b.append(c);
                continue;
            }
            if (b == null) b = new StringBuilder(text.length() + 16).append(text, 0, i);
            i = percentUtf8(b, text, i);
        }
        return b == null ? text : b.toString();
    }

    /**
     * Appends the character at {@code i} of {@code text} (a surrogate pair as one) as the percent-escapes
     * of its UTF-8 bytes; returns the index of its last {@code char}.
     */
    static int percentUtf8(StringBuilder b, String text, int i) {
        int end = Character.isHighSurrogate(text.charAt(i)) && i + 1 < text.length() ? i + 2 : i + 1;
        for (byte x : text.substring(i, end).getBytes(StandardCharsets.UTF_8)) percent(b, x & 0xFF);
        return end - 1;
    }

    /** Appends {@code %XX} for one octet, upper-case hex digits (RFC 3986 2.1). */
    static void percent(StringBuilder b, int octet) {
        b.append('%')
                .append(Character.toUpperCase(Character.forDigit(octet >> 4, 16)))
                .append(Character.toUpperCase(Character.forDigit(octet & 0xF, 16)));
    }

    /** RFC 3986: the characters a path or query carries raw besides letters and digits ('%' decided apart). */
    private static final String ALLOWED = "-._~!$&'()*+,;=:@/?";

    private static boolean hex(char c) {
        return c < 0x7F && Character.digit(c, 16) >= 0;
    }

    /** The Accept-Encoding as forwarded ("gzip" or empty): what an answer fetched for this request was asked in. */
    String encodingAsked() {
        String asked = forwarded.get(HttpHeader.ACCEPT_ENCODING);
        return asked == null ? "" : asked;
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
                .append(keyedTarget(pathQuery(), digest));
        appendHeaders(key, false);
        if (body.length > 0) key.append("\nbody sha256=").append(sha256(body));
        return key.append("\npolicy ").append(policy).toString();
    }

    /** http mode: the key of this request's URI, which holds its epoch. */
    String uriKey() {
        String k = uriKey;
        if (k == null) uriKey = k = uriKey(pathQuery()); // made once: a hit needs it for the epoch and the answer's key
        return k;
    }

    /** {@link #uriKey()}, once made (a race makes it twice, the same). */
    private String uriKey;

    /**
     * http mode: the key of another URI of the same upstream (an invalidation's Location). Credential
     * parameters' values are left out, as credential headers are: every credential's answers for a URI
     * hang on one epoch, and a PUT with one {@code api_key} invalidates the copies of every other
     * (helper-55: they were other URIs, and each kept its old answer). The answer's own key still holds
     * each value's digest ({@link #answerKey}): no answer is shared across credentials.
     */
    String uriKey(String pathQuery) {
        return origin + URI_MARK + maskCredentialParameters(pathQuery, v -> "*");
    }

    private static final String URI_MARK = "\nuri ";

    /** The path and query a {@link #uriKey} names (credential parameters' values as {@code *}). */
    static String targetOf(String uriKey) {
        int at = uriKey.indexOf(URI_MARK);
        return at < 0 ? uriKey : uriKey.substring(at + URI_MARK.length());
    }

    /**
     * Parameters that carry credentials, named in lower case without {@code -}, {@code _}, {@code .},
     * brackets, {@code +} or spaces (after percent-decoding): {@code api_key}, {@code X-Amz-Signature},
     * {@code api[key]}, {@code access_token}; a nested name is one when any of its parts is ({@code
     * filter[token]}, {@code auth[api_key]}, {@code user.password}: helper-22).
     */
    static final Set<String> CREDENTIAL_PARAMETERS = Set.of(
            "apikey",
            "key",
            "token",
            "accesstoken",
            "authtoken",
            "idtoken",
            "refreshtoken",
            "privatetoken",
            "apitoken",
            "clienttoken",
            "accesskey",
            "secretkey",
            "apisecret",
            "clientsecret",
            "secret",
            "password",
            "passwd",
            "pwd",
            "auth",
            "authorization",
            "signature",
            "sig",
            "sessionid",
            "jsessionid",
            "phpsessid",
            "sessid",
            "clientassertion",
            "jwt",
            "bearer",
            "sessiontoken",
            "oauthtoken",
            "oauthtokensecret",
            "oauthsignature",
            "oauthverifier",
            "accesstokensecret",
            "subscriptionkey",
            "xamzsignature",
            "xamzcredential",
            "xamzsecuritytoken",
            "xgoogsignature",
            "xgoogcredential");

    /**
     * A target as keys hold it: each credential parameter's value as its digest, the rest as sent.
     * One-to-one: every value of such a name is digested, so no value sent raw spells another's digest.
     */
    static String keyedTarget(String pathQuery, CredentialDigest digest) {
        return maskCredentialParameters(pathQuery, digest::of);
    }

    /** A target for a log line: each credential parameter's value as {@code ***}. */
    static String loggedTarget(String pathQuery) {
        return pathQuery == null ? null : maskCredentialParameters(pathQuery, v -> "***");
    }

    /**
     * Masks the value of every parameter whose name is a credential's. In the path, parameters sit between
     * {@code /} and {@code ;} (the path parameters some servers read: {@code ;jsessionid=}), and a value
     * ends at the next of them. In the query a value ends only at the next {@code &}: no framework splits
     * a query on {@code /} or {@code ?}, and most not on {@code ;}, so {@code ?api_key=AAAA/SECRET}'s
     * credential is all of {@code AAAA/SECRET}, of which only {@code AAAA} was masked, the rest stored in
     * the key's text and logged as sent (helper-62). A name after a {@code ;} inside a query chunk counts
     * too (CGI.pm and Rack 2 read {@code ;} as {@code &}), and its value is masked to the chunk's end.
     * One-to-one: what comes before a masked value is kept as sent, and the mask holds no separator.
     */
    private static String maskCredentialParameters(String pathQuery, java.util.function.UnaryOperator<String> mask) {
        int q = pathQuery.indexOf('?');
        String path = q < 0 ? pathQuery : pathQuery.substring(0, q);
        StringBuilder b = null;
        int from = 0;
        for (int i = 0; i <= path.length(); i++) {
            if (i < path.length() && path.charAt(i) != '/' && path.charAt(i) != ';') continue;
            int eq = indexIn(path, '=', from, i);
            if (eq >= 0 && credentialParameter(path.substring(from, eq))) {
                if (b == null) b = new StringBuilder(pathQuery.length() + 64).append(pathQuery, 0, from);
                b.append(path, from, eq + 1).append(mask.apply(path.substring(eq + 1, i)));
            } else if (b != null) {
                b.append(path, from, i);
            }
            if (b != null && i < path.length()) b.append(path.charAt(i));
            from = i + 1;
        }
        if (q < 0) return b == null ? pathQuery : b.toString();
        if (b != null) b.append('?');
        for (int chunk = q + 1; chunk <= pathQuery.length(); ) {
            int end = pathQuery.indexOf('&', chunk);
            if (end < 0) end = pathQuery.length();
            int masked = credentialValueAt(pathQuery, chunk, end);
            if (masked >= 0) {
                if (b == null) b = new StringBuilder(pathQuery.length() + 64).append(pathQuery, 0, chunk);
                b.append(pathQuery, chunk, masked).append(mask.apply(pathQuery.substring(masked, end)));
            } else if (b != null) {
                b.append(pathQuery, chunk, end);
            }
            if (b != null && end < pathQuery.length()) b.append('&');
            chunk = end + 1;
        }
        return b == null ? pathQuery : b.toString();
    }

    /**
     * Where the credential value of the query chunk {@code [from, end)} starts (after its {@code =}): the
     * chunk's own name's, or that of a name after a {@code ;} in it; -1 when it holds none. A name may
     * hold {@code =} itself: qs reads {@code a[x=y][token]=S} as the name {@code a[x=y][token]} (it splits
     * at {@code ]=} first), so each {@code =} ends a candidate name, first to last (helper-62).
     */
    private static int credentialValueAt(String s, int from, int end) {
        for (int name = from; name < end; ) {
            int semi = indexIn(s, ';', name, end);
            if (semi < 0) semi = end;
            int first = indexIn(s, '=', name, semi);
            // each candidate name is read whole, so a segment of many '=' cost its length squared: 7,000
            // of them (14 KB, under the request line's limit) took 0.8 s on the I/O thread per lookup, hits
            // too (helper-76). No real name holds that many: such a segment's value is masked whole, from
            // its first '=', which only hides more of its text (the key still tells values apart)
            if (first >= 0 && count(s, '=', first, semi) > MOST_EQUALS_IN_A_NAME) return first + 1;
            for (int eq = first; eq >= 0; eq = indexIn(s, '=', eq + 1, semi))
                if (credentialParameter(s.substring(name, eq))) return eq + 1;
            name = semi + 1;
        }
        return -1;
    }

    /** The most '=' signs a query segment's name is searched through for a credential name. */
    static final int MOST_EQUALS_IN_A_NAME = 16;

    private static int count(String s, char c, int from, int end) {
        int n = 0;
        for (int i = from; i < end; i++) if (s.charAt(i) == c) n++;
        return n;
    }

    /**
     * The first index of {@code c} in {@code s} within {@code [from, end)}, or -1: a search bounded by its
     * segment, so a target of many short parameters costs its length once, not its length per parameter.
     */
    private static int indexIn(String s, char c, int from, int end) {
        for (int i = from; i < end; i++) if (s.charAt(i) == c) return i;
        return -1;
    }

    private static boolean credentialParameter(String rawName) {
        String name = rawName;
        if (rawName.indexOf('%') >= 0 || rawName.indexOf('+') >= 0) { // decoded only when it needs to be: hits pay this
            try {
                name = java.net.URLDecoder.decode(rawName.replace("+", " "), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException malformed) {
                name = rawName;
            }
        }
        // PHP ends a name at its first NUL: ?key%00x= is $_GET['key'] there (helper-62)
        int nul = name.indexOf('\u0000');
        if (nul >= 0 && credentialParameter(name.substring(0, nul))) return true;
        // the whole name, however long once padded with characters frameworks drop (60 '+' before api_key
        // is api_key to PHP, and was passed over as a name over 64 characters: helper-62)
        if (credentialName(plain(name))) return true;
        // nested names, as Rails, PHP and qs read them: filter[token], auth[api_key], user.password, however
        // long the whole (a name over 64 characters was passed over, and its token stored as sent: helper-47)
        for (String part : name.split("[\\[\\].]+")) {
            if (!part.isEmpty()
                    && part.length() <= LONGEST_NAME
                    && part.length() < name.length()
                    && credentialName(plain(part))) return true;
        }
        return false;
    }

    /**
     * Whether a parameter's plain name ({@link #plain}) is a credential's: listed ({@link
     * #CREDENTIAL_PARAMETERS}), holding one of {@link #CREDENTIAL_PARAMETER_WORDS}, or ending in {@code key}.
     * A list alone stored {@code user_key}, {@code app_key}, {@code hapikey}, {@code x-api-key} as sent in
     * the key's text and the access log (helper-61). A name taken for a credential by mistake ({@code
     * sort_key}, {@code author}) only has its value digested in keys and masked in logs: one-to-one, so its
     * callers share what they shared before; http mode's invalidation of a URI then covers every value of it.
     */
    private static boolean credentialName(String plain) {
        if (CREDENTIAL_PARAMETERS.contains(plain) || plain.endsWith("key")) return true;
        for (String word : CREDENTIAL_PARAMETER_WORDS) if (plain.contains(word)) return true;
        return false;
    }

    /** The words of {@link HeaderRules}' credential headers that no common parameter name holds otherwise. */
    private static final List<String> CREDENTIAL_PARAMETER_WORDS = List.of(
            "auth", "token", "secret", "passw", "apikey", "accesskey", "session", "jwt", "signature", "credential");

    /** Parts of a nested name longer than this are not read (the whole name always is). */
    private static final int LONGEST_NAME = 64;

    /**
     * A parameter's name lower case, without {@code - _ . [ ] +}, spaces, tabs, NULs, quotes and {@code !}
     * (Spring binds {@code !pwd} to {@code pwd} and reads {@code creds['pwd']} as {@code creds[pwd]}:
     * helper-62).
     */
    private static String plain(String name) {
        StringBuilder n = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if ("-_.[]+ \t\u0000!'\"".indexOf(c) < 0) n.append(Character.toLowerCase(c));
        }
        return n.toString();
    }

    /**
     * http mode: the key of this request's answer under the URI's epoch: the credentials decide (the
     * encoding does not: an answer the upstream gzipped is decoded for a client that does not take gzip,
     * see {@link HttpMode}).
     */
    String answerKey(UriRecord uri) {
        StringBuilder key = new StringBuilder(uriKey())
                .append("\nepoch ")
                .append(uri.epoch())
                .append("\ntarget ")
                .append(keyedTarget(pathQuery(), digest));
        appendHeaders(key, true);
        return key.append("\npolicy ").append(policy).toString();
    }

    /** http mode: the key of one variant of an answer that varies. */
    String variantKey(String answerKey, VaryRecord vary) {
        return answerKey + "\nvariant " + variant(vary.names());
    }

    /** RFC 9111 4.1: whether this request selects the stored answer: no Vary, or the same values as forwarded. */
    boolean selects(StoredResponse r) {
        List<String> names = Rfc9111.varyNames(r);
        return names.isEmpty() || variant(names).equals(r.variant());
    }

    /**
     * RFC 9110 5.6.1 list fields a cache knows: their members are compared without the whitespace around
     * commas. Other fields are compared exactly ({@code red  shoes} is not {@code red shoes}).
     */
    private static final Set<String> LIST_FIELDS =
            Set.of("accept", "accept-charset", "accept-encoding", "accept-language");

    /**
     * RFC 9111 4.1: this request's values of the named headers as forwarded, list fields' lines combined
     * and members trimmed, other fields' lines kept apart and exact; an absent header differs from an empty one;
     * credentials by hash, never by value.
     */
    String variant(List<String> names) {
        StringBuilder b = new StringBuilder();
        for (String name : names) {
            List<String> values = forwarded.getValuesList(name);
            b.append(name);
            if (values.isEmpty()) {
                b.append(" absent");
            } else {
                String joined = LIST_FIELDS.contains(name)
                        ? String.join(
                                ",",
                                values.stream()
                                        .flatMap(v -> java.util.Arrays.stream(v.split(",")))
                                        .map(String::strip)
                                        .toList())
                        // other fields' lines apart: a singleton field sent as two lines ("a", "b") is not the
                        // one line "a,b" to an upstream that reads the first (helper-47 found them one variant);
                        // no field value holds a line break
                        : String.join("\n", values);
                if (HeaderRules.credential(credentials, name)) b.append(' ').append(digest.of(joined));
                else {
                    // length first: a value holding " ;x-size = M" cannot spell another header's pair
                    // (helper-56: two requests' X-Color and X-Size values made one variant)
                    String shown = joined.replace("\\", "\\\\").replace("\u0000", "\\0");
                    b.append(" = ").append(shown.length()).append(':').append(shown);
                }
            }
            b.append(" ;");
        }
        return b.toString();
    }

    /**
     * The keyed headers, sorted by name (values of one name keep their order). In http mode only the
     * credentials: the origin's Vary names the rest.
     */
    private void appendHeaders(StringBuilder key, boolean httpMode) {
        List<HttpField> keyed = new ArrayList<>();
        for (HttpField f : forwarded) {
            String name = f.getLowerCaseName();
            boolean credential = HeaderRules.credential(credentials, name);
            if (credential && !keyCredentials && HeaderRules.named(credentials, name)) continue;
            if (httpMode ? !credential : neutral(route, name)) continue;
            keyed.add(f);
        }
        keyed.sort(Comparator.comparing(HttpField::getLowerCaseName));
        for (HttpField f : keyed) {
            String name = f.getLowerCaseName();
            // "name: value" for a header, "credential name sha256=..." (or hmac=) for a credential: no header line can
            // spell a credential's (a field name has no space), nor the body's or the policy's
            if (HeaderRules.credential(credentials, name)) {
                key.append("\ncredential ").append(name).append(' ').append(digest.of(f.getValue()));
            } else {
                key.append('\n').append(name).append(": ").append(f.getValue());
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
        String normal = URIUtil.normalizePath(b.toString());
        // a path that begins "//" is a network-path reference to whatever resolves it (the upstream's URL is
        // the route's base resolved with the target): Jetty refuses one today, and so does this (helper-62)
        if (normal == null || normal.startsWith("//")) return null;
        return encodeTarget(normal, false);
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
