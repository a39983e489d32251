package dev.once.proxy;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.eclipse.jetty.http.DateParser;
import org.eclipse.jetty.http.HttpFields;

/**
 * RFC 9111's arithmetic on a stored response: which directives apply, whether it may be stored, how
 * long it is fresh, how old it is, and when stale use is allowed. Times in epoch ms.
 */
final class Rfc9111 {
    /** RFC 9110 15.1: statuses cacheable by default, so heuristic freshness may apply. */
    static final Set<Integer> HEURISTIC = Set.of(200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501);

    /**
     * Statuses this cache understands (for {@code must-understand}). Other final statuses are stored
     * only with explicit freshness; partial content (206) and 304 never.
     */
    static final Set<Integer> UNDERSTOOD = Set.of(
            200, 203, 204, 300, 301, 302, 303, 307, 308, 400, 403, 404, 405, 406, 410, 414, 421, 451, 500, 501, 502,
            503, 504);

    /** The cap on heuristic freshness: 10 % of the time since Last-Modified, at most a day. */
    static final long HEURISTIC_CAP_MILLIS = 24 * 3600 * 1000L;

    /** Statuses after which stale-if-error may serve a stale copy (RFC 5861 4). */
    static final Set<Integer> ERRORS = Set.of(500, 502, 503, 504);

    private Rfc9111() {}

    /**
     * RFC 9213: a CDN-Cache-Control field, when present and valid, replaces Cache-Control and Expires.
     * It is a Structured Field dictionary (RFC 8941); one that does not parse, or that gives a
     * delta-seconds directive a value that is not an integer, is ignored as a whole.
     */
    static boolean targeted(StoredResponse r) {
        List<String> lines = r.headerValues("CDN-Cache-Control");
        if (lines.isEmpty()) return false;
        for (String line : lines) {
            for (String member : line.split(",")) {
                String m = member.trim();
                if (m.isEmpty()) return false;
                String keyAndValue = m.split(";", 2)[0].trim();
                int eq = keyAndValue.indexOf('=');
                String key = eq < 0 ? keyAndValue : keyAndValue.substring(0, eq);
                if (!SF_KEY.matcher(key).matches()) return false;
                if (eq < 0) continue;
                String value = keyAndValue.substring(eq + 1);
                if (!SF_ITEM.matcher(value).matches()) return false;
                if (DELTA_SECONDS.contains(key) && !value.matches("-?\\d{1,15}")) return false;
            }
        }
        return true;
    }

    private static final java.util.regex.Pattern SF_KEY = java.util.regex.Pattern.compile("[a-z*][a-z0-9_\\-.*]*");
    private static final java.util.regex.Pattern SF_ITEM = java.util.regex.Pattern.compile(
            "-?\\d{1,15}(\\.\\d{1,3})?|\\?[01]|\"([^\"\\\\]|\\\\[\"\\\\])*\"|[A-Za-z*][!#$%&'*+\\-.^_`|~:/0-9A-Za-z]*");
    private static final Set<String> DELTA_SECONDS =
            Set.of("max-age", "s-maxage", "stale-while-revalidate", "stale-if-error");

    static CacheControl directives(StoredResponse r) {
        return CacheControl.parse(r.headerValues(targeted(r) ? "CDN-Cache-Control" : "Cache-Control"));
    }

    static CacheControl requestDirectives(HttpFields request) {
        List<String> cc = request.getValuesList("Cache-Control");
        if (!cc.isEmpty()) return CacheControl.parse(cc);
        for (String p : request.getValuesList("Pragma")) { // RFC 9111 5.4: only without Cache-Control
            if (p.toLowerCase(Locale.ROOT).contains("no-cache")) return CacheControl.parse(List.of("no-cache"));
        }
        return CacheControl.NONE;
    }

    /** Why a response to a GET may not be stored by a shared cache, or null when it may. */
    static String notStorable(HttpFields request, StoredResponse r, boolean requestNoStore) {
        CacheControl cc = directives(r);
        if (requestNoStore) return "the request says no-store";
        if (r.status() < 200 || r.status() == 206 || r.status() == 304 || r.status() > 599) {
            return "status " + r.status() + " is not stored";
        }
        boolean mustUnderstand = cc.has("must-understand"); // RFC 9111 5.2.2.3
        if (mustUnderstand && !UNDERSTOOD.contains(r.status())) return "must-understand, status " + r.status();
        if (cc.has("no-store") && !mustUnderstand) return "no-store"; // must-understand overrides no-store
        if (cc.has("private")) return "private";
        if (request.contains("Authorization")
                && !(cc.has("public") || cc.has("s-maxage") || cc.has("must-revalidate"))) {
            return "a request with Authorization, and the response does not allow sharing it";
        }
        if (varyNames(r).contains("*")) return "Vary: * (or a member that is no header name)";
        if (!r.headerValues("Set-Cookie").isEmpty() && !(cc.has("public") || cc.has("s-maxage"))) {
            return "Set-Cookie without public or s-maxage";
        }
        boolean explicit = cc.has("public")
                || cc.has("max-age")
                || cc.has("s-maxage")
                || (!targeted(r) && r.header("Expires") != null);
        boolean heuristic = HEURISTIC.contains(r.status());
        boolean revalidatable = cc.has("no-cache") && (r.header("ETag") != null || r.header("Last-Modified") != null);
        if (!explicit && !heuristic && !revalidatable)
            return "no explicit freshness and status not cacheable by default";
        return null;
    }

    /** RFC 9111 4.2.1: s-maxage, max-age, Expires - Date, heuristic, in that order. */
    static long lifetimeMillis(StoredResponse r) {
        CacheControl cc = directives(r);
        if (cc.has("no-cache")) return 0; // stored, but every use is revalidated
        long s = cc.seconds("s-maxage");
        if (s == CacheControl.INVALID) return 0;
        if (s >= 0) return s * 1000;
        long m = cc.seconds("max-age");
        if (m == CacheControl.INVALID) return 0;
        if (m >= 0) return m * 1000;
        if (!targeted(r)) {
            List<String> expires = r.headerValues("Expires");
            if (expires.size() > 1) return 0; // duplicated: stale
            if (expires.size() == 1) {
                long e = HttpDate.parse(expires.get(0).trim());
                if (e < 0) return 0; // invalid, such as "0": already expired
                return Math.max(0, e - date(r));
            }
        }
        if (HEURISTIC.contains(r.status()) || cc.has("public")) {
            String lm = r.header("Last-Modified");
            long modified = lm == null ? -1 : DateParser.parseDate(lm.trim());
            if (modified >= 0 && modified < date(r)) return Math.min(HEURISTIC_CAP_MILLIS, (date(r) - modified) / 10);
        }
        return 0;
    }

    /** The Date header, or the time the response arrived when it has none or an invalid one. */
    static long date(StoredResponse r) {
        String d = r.header("Date");
        long parsed = d == null ? -1 : DateParser.parseDate(d.trim());
        return parsed >= 0 ? parsed : r.responseTime();
    }

    /** RFC 9111 4.2.3: corrected_initial_age. */
    static long initialAgeMillis(StoredResponse r) {
        long apparent = Math.max(0, r.responseTime() - date(r));
        long ageValue = 0;
        String age = r.header("Age");
        if (age != null) { // the first value of the first line, without parameters ("7200;foo=bar", "0, 7200")
            long v = CacheControl.deltaSeconds(age.split(",")[0].split(";")[0].trim());
            if (v >= 0) ageValue = v * 1000;
        }
        long delay = Math.max(0, r.responseTime() - r.requestTime());
        return Math.max(apparent, ageValue + delay);
    }

    static long currentAgeMillis(StoredResponse r, long now) {
        return initialAgeMillis(r) + Math.max(0, now - r.responseTime());
    }

    /** How long from now the response stays fresh (0 or less: stale). */
    static long remainingMillis(StoredResponse r, long now) {
        return lifetimeMillis(r) - currentAgeMillis(r, now);
    }

    /** must-revalidate, proxy-revalidate and s-maxage forbid a shared cache to serve it stale. */
    static boolean staleForbidden(StoredResponse r) {
        CacheControl cc = directives(r);
        return cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage") || cc.has("no-cache");
    }

    /** RFC 5861 stale-while-revalidate, or the route's window, unless stale use is forbidden. */
    static long staleWhileRevalidateMillis(StoredResponse r, long routeMillis) {
        if (staleForbidden(r)) return 0;
        long s = directives(r).seconds("stale-while-revalidate");
        return Math.max(routeMillis, s >= 0 ? s * 1000 : 0);
    }

    /** RFC 5861 stale-if-error from the response or the request, unless stale use is forbidden. */
    static long staleIfErrorMillis(StoredResponse r, CacheControl request) {
        if (staleForbidden(r)) return 0;
        long s = Math.max(directives(r).seconds("stale-if-error"), request.seconds("stale-if-error"));
        return s >= 0 ? s * 1000 : 0;
    }

    /**
     * RFC 9111 3.2: the stored headers updated by a 304's: each field the 304 carries replaces the stored
     * one, except Content-Length (and the hop-by-hop fields, which never arrive here).
     */
    static List<String[]> freshenedHeaders(StoredResponse stored, StoredResponse notModified) {
        // Content-Length, and the fields that describe the stored bytes themselves (RFC 9111 3.2 lets a
        // cache keep them for the integrity of what it stores): a 304 cannot re-encode a body
        List<String> replaced = new ArrayList<>();
        for (String[] h : notModified.headers()) {
            String name = h[0].toLowerCase(Locale.ROOT);
            if (!KEPT_ON_304.contains(name) && !replaced.contains(name)) replaced.add(name);
        }
        List<String[]> out = new ArrayList<>();
        for (String[] h : stored.headers()) if (!replaced.contains(h[0].toLowerCase(Locale.ROOT))) out.add(h);
        for (String[] h : notModified.headers()) if (replaced.contains(h[0].toLowerCase(Locale.ROOT))) out.add(h);
        return out;
    }

    private static final Set<String> KEPT_ON_304 = Set.of("content-length", "content-encoding", "content-range");

    /** The Vary names of a response, lower case, in order; empty when it has none. */
    static List<String> varyNames(StoredResponse r) {
        List<String> names = new ArrayList<>();
        for (String v : r.headerValues("Vary")) {
            for (String n : v.split(",")) {
                String name = n.trim().toLowerCase(Locale.ROOT);
                // a member that names no header the proxy forwards (letters, digits and "-" only) matches no
                // request, so every request "lacked" it and selected one variant: "Vary: X-User X-Lang", "X-User;"
                // and "\"X-User\"" served one user's answer to all (helper-60); "HTTP_X_USER" is X-User to a
                // CGI app (helper-61). It varies on something unknown: "*"
                if (!name.isEmpty() && !name.equals("*") && HeaderRules.oddlySpelled(name)) name = "*";
                if (!name.isEmpty() && !names.contains(name)) names.add(name);
            }
        }
        return names;
    }

    /** RFC 9110 13.1.2 / 13.1.3: whether a client's conditional GET is answered 304 by this stored response. */
    static boolean notModified(HttpFields request, StoredResponse r) {
        List<String> inm = request.getValuesList("If-None-Match");
        if (!inm.isEmpty()) {
            String etag = r.header("ETag");
            if (etag == null) return false;
            String mine = weak(etag.trim());
            for (String line : inm) {
                for (String tag : line.split(",")) {
                    String t = tag.trim();
                    if (t.equals("*") || weak(t).equals(mine)) return true;
                }
            }
            return false;
        }
        String ims = request.get("If-Modified-Since");
        if (ims == null) return false;
        long since = DateParser.parseDate(ims.trim());
        if (since < 0) return false;
        String lm = r.header("Last-Modified");
        long modified = lm == null ? date(r) : DateParser.parseDate(lm.trim());
        return modified >= 0 && modified <= since;
    }

    /**
     * RFC 9110 14.2: the one byte range a GET asks of a stored complete response, as {start, end}
     * inclusive; null to send the whole response (no Range, several ranges, another unit, an If-Range
     * that does not match); {-1, -1} when the range cannot be satisfied (416).
     */
    static long[] byteRange(HttpFields request, StoredResponse r) {
        String range = request.get("Range");
        if (range == null || r.status() != 200) return null;
        String ifRange = request.get("If-Range");
        if (ifRange != null && !ifRangeMatches(ifRange.trim(), r)) return null;
        String spec = range.trim();
        if (!spec.regionMatches(true, 0, "bytes=", 0, 6)) return null;
        spec = spec.substring(6).trim();
        if (spec.contains(",")) return null; // several ranges: the whole answer is allowed, and simpler
        long length = r.body().length;
        java.util.regex.Matcher m =
                java.util.regex.Pattern.compile("(\\d*)-(\\d*)").matcher(spec);
        if (!m.matches() || (m.group(1).isEmpty() && m.group(2).isEmpty())) return null;
        try {
            if (m.group(1).isEmpty()) { // suffix: the last N bytes
                long n = Long.parseLong(m.group(2));
                if (n == 0 || length == 0) return new long[] {-1, -1};
                return new long[] {Math.max(0, length - n), length - 1};
            }
            long start = Long.parseLong(m.group(1));
            long end = m.group(2).isEmpty() ? length - 1 : Math.min(Long.parseLong(m.group(2)), length - 1);
            if (!m.group(2).isEmpty() && Long.parseLong(m.group(2)) < start) return null; // invalid: ignore it
            if (start >= length) return new long[] {-1, -1};
            return new long[] {start, end};
        } catch (NumberFormatException tooLarge) {
            return null;
        }
    }

    /** If-Range: a strong ETag equal to the stored one, or the stored Last-Modified exactly. */
    private static boolean ifRangeMatches(String ifRange, StoredResponse r) {
        if (ifRange.startsWith("\"") || ifRange.startsWith("W/")) {
            String etag = r.header("ETag");
            return etag != null
                    && !ifRange.startsWith("W/")
                    && !etag.trim().startsWith("W/")
                    && etag.trim().equals(ifRange);
        }
        String lm = r.header("Last-Modified");
        long date = HttpDate.parse(ifRange);
        return lm != null && date >= 0 && date == HttpDate.parse(lm.trim());
    }

    private static String weak(String tag) {
        return tag.startsWith("W/") ? tag.substring(2) : tag;
    }
}
