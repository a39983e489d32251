package dev.once.proxy;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;

/**
 * Which request headers reach the upstream, and which of them join the cache key: every header rule
 * of the proxy, in one place.
 *
 * <p><b>Forward or key.</b> A request header reaches the upstream only if it is in the key, or is
 * answer-neutral (the tracing headers below, or headers a route declares neutral). Hop-by-hop headers,
 * headers named in {@code Connection}, and inputs that would steer the upstream without being keyed
 * ({@link #DROPPED}), and names with anything but letters, digits and dashes ({@link #oddlySpelled}) are never forwarded. Credentials ({@link #CREDENTIALS} and configured names) are
 * keyed by their SHA-256, never by value, unless the configuration says answers are the same for every
 * caller. {@code Accept-Encoding} is reduced to what every HTTP client can decode ({@code gzip}) or
 * removed, and keyed in that form, so an answer encoded for one client never reaches a client that
 * did not ask for the encoding.
 */
final class HeaderRules {
    private HeaderRules() {}

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

    /**
     * Never forwarded: headers the proxy writes itself ({@code Host}, {@code Content-Length}, {@code
     * X-Forwarded-Proto}) and unkeyed inputs that make some upstreams answer for another host, URL or
     * method than the one keyed.
     */
    static final Set<String> DROPPED = Set.of(
            "host",
            "content-length",
            "expect",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-forwarded-port",
            "x-forwarded-prefix",
            "x-forwarded-server",
            "x-forwarded-scheme",
            "x-forwarded-ssl",
            "forwarded",
            "x-original-url",
            "x-rewrite-url",
            "x-original-host",
            "x-host",
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
            // the client's address or scheme as some server or framework believes it, unkeyed: one client's
            // claim would decide the answer for everyone (X-Forwarded-For is the proxy's own, the peer)
            "x-real-ip",
            "true-client-ip",
            "cf-connecting-ip",
            "x-client-ip",
            "x-cluster-client-ip",
            "fastly-client-ip",
            "client-ip",
            "x-forwarded",
            "forwarded-for",
            "x-original-forwarded-for",
            "akamai-client-ip",
            "x-azure-clientip",
            "x-appengine-user-ip",
            "x-envoy-external-address",
            "x-originating-ip",
            "x-remote-ip",
            "x-remote-addr",
            "remote-addr",
            "x-original-uri",
            "x-forwarded-uri",
            "x-forwarded-path",
            "x-envoy-original-path",
            "x-forwarded-protocol",
            "front-end-https",
            "x-url-scheme",
            "x-forwarded-client-cert",
            "x-ssl-client-cert",
            // Tornado's scheme and WSGI's mount point (helper-68, by reading): the URL the upstream believes
            "x-scheme",
            "x-script-name");

    /** Forwarded without joining the key: tracing headers, which no answer depends on. */
    static final Set<String> NEUTRAL = Set.of(
            "traceparent",
            "tracestate",
            "baggage",
            "x-request-id",
            "x-correlation-id",
            "x-amzn-trace-id",
            "x-cloud-trace-context",
            "b3",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-parentspanid",
            "x-b3-sampled",
            "x-b3-flags",
            "uber-trace-id",
            "sentry-trace",
            "x-forwarded-for");

    /** Keyed by hash, never by value; shared only when the configuration says answers are the same for all. */
    static final Set<String> CREDENTIALS = Set.of(
            "authorization",
            "cookie",
            "x-api-key",
            "api-key",
            "apikey",
            "x-api-token",
            "x-auth-token",
            "x-access-token",
            "private-token",
            "x-goog-api-key",
            "ocp-apim-subscription-key",
            "x-rapidapi-key",
            "x-amz-security-token",
            "x-csrf-token");

    /**
     * Words that make a request header a credential whatever else its name says, dashes and underscores
     * aside: {@code X-Authorization}, {@code X-Auth}, {@code X-Token}, {@code X-Session-Token}, {@code
     * X-Client-Secret}. A list of names alone missed these (helper-47: in http mode one user's answer
     * under {@code X-Authorization} was served to another's and to a caller without one). A header taken
     * for a credential by mistake only keys its value by hash: its callers share less, never more.
     */
    private static final List<String> CREDENTIAL_WORDS = List.of(
            "auth",
            "token",
            "secret",
            "passw",
            "apikey",
            "accesskey",
            "session",
            "jwt",
            "signature",
            "credential",
            "cookie",
            // X-Mashape-Key, X-Master-Key, X-Subscription-Key, X-License-Key, Key: API keys under names that
            // hold none of the words above were forwarded unkeyed in http mode, one caller's answer served
            // to the next (helper-60), and in api mode stored in the key's text as sent
            "key",
            "passphrase",
            // who the caller is, as an authenticating gateway in front says (oauth2-proxy's X-Forwarded-User,
            // Authelia's Remote-User, Azure's X-MS-Client-Principal-Name, AWS ALB's X-Amzn-Oidc-Identity,
            // Kong's X-Consumer-Id, Hasura's X-Hasura-User-Id) or its certificate (Traefik's
            // X-Forwarded-Tls-Client-Cert, Azure's X-ARR-ClientCert): forwarded unkeyed in http mode, bob got
            // alice's answer (helper-68). Not "user" alone: User-Agent holds it
            "forwardeduser",
            "forwardedemail",
            "forwardedgroups",
            "remoteuser",
            "remoteemail",
            "remotegroups",
            "remotename",
            "principal",
            "oidc",
            "userinfo",
            "userid",
            "username",
            "useremail",
            "consumer",
            "hasura",
            "identity",
            "clientcert");

    /** Names judged so far: a few per deployment, but a hostile client can send any, so the memo is bounded. */
    private static final java.util.concurrent.ConcurrentHashMap<String, Boolean> JUDGED =
            new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Whether a request header (lower-case name) is a credential by name: {@code configured} or {@link
     * #CREDENTIALS}. Only these are shared under {@code keyAuthorization: false}; one that is a credential
     * by its words alone stays keyed, by digest: {@code X-Region-Key} or {@code Idempotency-Key}, keyed by
     * value before {@code key} became a word, was then forwarded unkeyed and one caller's answer served to
     * another (helper-61, reading helper-60's fix).
     */
    static boolean named(Set<String> configured, String name) {
        return configured.contains(name) || CREDENTIALS.contains(name);
    }

    /** Whether a request header (lower-case name) carries credentials: {@code configured}, or by its words. */
    static boolean credential(Set<String> configured, String name) {
        if (configured.contains(name)) return true;
        Boolean judged = JUDGED.get(name);
        if (judged != null) return judged;
        // "X-Forwarded-User-Agent" holds "forwardeduser": a user agent is no credential (helper-71)
        String plain = name.replace("-", "").replace("_", "").replace("useragent", "");
        boolean credential = CREDENTIAL_WORDS.stream().anyMatch(plain::contains);
        if (JUDGED.size() < 4096) JUDGED.put(name, credential);
        return credential;
    }

    /** Client conditionals and ranges: a request carrying one is answered for that client alone in api mode. */
    static final Set<String> CONDITIONAL =
            Set.of("if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range");

    /** The encoding the proxy keeps answers in when a client accepts it; anything else is asked for as identity. */
    static final String GZIP = "gzip";

    /**
     * Whether a request header name is never forwarded for its spelling: anything but letters, digits and
     * {@code -}. CGI, WSGI, Rack and PHP upstreams read {@code X_Forwarded_Host} and {@code
     * X-Forwarded-Host} as one variable ({@code HTTP_X_FORWARDED_HOST}), and PHP turns {@code .} and a
     * space into {@code _} as well, so such a name would pass every rule here spelled with dashes: a
     * dropped header would steer the upstream, a credential would be forwarded unkeyed. nginx drops these
     * names by default ({@code ignore_invalid_headers on}, {@code underscores_in_headers off}).
     */
    static boolean oddlySpelled(String name) {
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')) return true;
        }
        return name.isEmpty();
    }

    /**
     * Header names from the configuration, trimmed and in lower case; one with an underscore is refused
     * ({@link #oddlySpelled}: such a header never reaches the upstream, so naming it would do nothing).
     *
     * @param what where they were given, for the message
     */
    static List<String> configuredNames(String what, java.util.Collection<String> names) {
        List<String> out = new ArrayList<>(names.size());
        for (String n : names) {
            String name = n.trim().toLowerCase(Locale.ROOT);
            if (oddlySpelled(name))
                throw new IllegalArgumentException(what + ": the header name '" + n.trim() + "' holds a character"
                        + " other than letters, digits and '-'; such request headers are never forwarded (CGI-style"
                        + " upstreams read '_' and '.' as '-', which would slip them past the proxy's rules; nginx"
                        + " drops them too): spell it with '-'");
            out.add(name);
        }
        return List.copyOf(out);
    }

    /**
     * The headers to forward, in their order, with their exact names and values: hop-by-hop, {@code
     * Connection}-listed, {@link #DROPPED} and {@link #oddlySpelled} headers removed, {@code
     * Accept-Encoding} normalised.
     */
    static List<HttpField> forwarded(HttpFields request) {
        List<String> listed = connectionTokens(request);
        List<HttpField> out = new ArrayList<>(request.size());
        boolean gzip = acceptsGzip(request);
        for (HttpField f : request) {
            String name = f.getLowerCaseName();
            if (HOP_BY_HOP.contains(name) || DROPPED.contains(name) || listed.contains(name) || oddlySpelled(name))
                continue;
            if (f.getHeader() == HttpHeader.ACCEPT_ENCODING) continue; // normalised below
            out.add(f);
        }
        if (gzip && !listed.contains("accept-encoding")) out.add(new HttpField(HttpHeader.ACCEPT_ENCODING, GZIP));
        return out;
    }

    /** Header names (lower case) listed in {@code Connection}. */
    static List<String> connectionTokens(HttpFields headers) {
        List<String> tokens = new ArrayList<>();
        for (String v : headers.getValuesList(HttpHeader.CONNECTION)) {
            for (String t : v.split(",")) {
                String token = t.trim().toLowerCase(Locale.ROOT);
                if (!token.isEmpty()) tokens.add(token);
            }
        }
        return tokens;
    }

    /** RFC 9110 12.5.3: gzip (or x-gzip, or *) with a non-zero weight. */
    static boolean acceptsGzip(HttpFields request) {
        return accepts(request, "gzip");
    }

    /**
     * RFC 9110 12.5.3: whether the request's Accept-Encoding lists this coding (or {@code *}) with a
     * non-zero weight; {@code gzip} and {@code x-gzip} are one. A request without the field is taken
     * to accept nothing but identity here (most API clients without it cannot decode).
     */
    static boolean accepts(HttpFields request, String coding) {
        boolean gzip = isGzip(coding);
        boolean star = false;
        Boolean named = null;
        for (String v : request.getValuesList(HttpHeader.ACCEPT_ENCODING)) {
            for (String item : v.split(",")) {
                String[] parts = item.split(";");
                String c = parts[0].trim();
                boolean accepted = weight(parts) > 0;
                if (gzip ? isGzip(c) : c.equalsIgnoreCase(coding.trim())) named = accepted;
                else if (c.equals("*")) star = accepted;
            }
        }
        return named != null ? named : star;
    }

    /** RFC 9110 8.4.1.3: {@code gzip} and {@code x-gzip} name one coding, in any case. */
    static boolean isGzip(String coding) {
        String c = coding.trim();
        return c.equalsIgnoreCase("gzip") || c.equalsIgnoreCase("x-gzip");
    }

    private static double weight(String[] parts) {
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i].trim().toLowerCase(Locale.ROOT);
            if (p.startsWith("q=")) {
                try {
                    return Double.parseDouble(p.substring(2).trim());
                } catch (NumberFormatException e) {
                    return 0;
                }
            }
        }
        return 1;
    }
}
