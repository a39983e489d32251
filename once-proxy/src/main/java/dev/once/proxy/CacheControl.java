package dev.once.proxy;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The directives of {@code Cache-Control} (or {@code CDN-Cache-Control}) field lines, RFC 9111 5.2:
 * names case-insensitive, values a token or a quoted string, several lines one list.
 */
final class CacheControl {
    /** RFC 9111 1.2.2: a delta-seconds too large to represent is taken as 2^31. */
    static final long MAX_SECONDS = 2_147_483_648L;

    static final long ABSENT = -1;
    static final long INVALID = -2;

    static final CacheControl NONE = new CacheControl(Map.of(), Set.of());

    private final Map<String, String> directives;
    private final Set<String> duplicated;

    private CacheControl(Map<String, String> directives, Set<String> duplicated) {
        this.directives = directives;
        this.duplicated = duplicated;
    }

    static CacheControl parse(List<String> lines) {
        if (lines == null || lines.isEmpty()) return NONE;
        Map<String, String> d = new HashMap<>();
        Set<String> dup = new HashSet<>();
        for (String line : lines) {
            int i = 0;
            int n = line.length();
            while (i < n) {
                while (i < n && (line.charAt(i) == ',' || line.charAt(i) == ' ' || line.charAt(i) == '\t')) i++;
                int nameStart = i;
                while (i < n && line.charAt(i) != '=' && line.charAt(i) != ',') i++;
                String name = line.substring(nameStart, i).trim().toLowerCase(Locale.ROOT);
                String value = "";
                if (i < n && line.charAt(i) == '=') {
                    i++;
                    while (i < n && (line.charAt(i) == ' ' || line.charAt(i) == '\t')) i++;
                    if (i < n && line.charAt(i) == '"') {
                        StringBuilder v = new StringBuilder();
                        i++;
                        while (i < n && line.charAt(i) != '"') {
                            if (line.charAt(i) == '\\' && i + 1 < n) i++;
                            v.append(line.charAt(i++));
                        }
                        i++; // closing quote
                        value = v.toString();
                        while (i < n && line.charAt(i) != ',') i++;
                    } else {
                        int valueStart = i;
                        while (i < n && line.charAt(i) != ',') i++;
                        value = line.substring(valueStart, i).trim();
                    }
                }
                if (!name.isEmpty() && d.putIfAbsent(name, value) != null) dup.add(name);
            }
        }
        return new CacheControl(d, dup);
    }

    boolean isEmpty() {
        return directives.isEmpty();
    }

    boolean has(String name) {
        return directives.containsKey(name);
    }

    /**
     * A delta-seconds directive: its value, {@link #ABSENT}, or {@link #INVALID} when it is not a
     * number or appears twice (RFC 9111 4.2.1: such freshness information makes the response stale).
     */
    long seconds(String name) {
        String v = directives.get(name);
        if (v == null) return ABSENT;
        if (duplicated.contains(name)) return INVALID;
        return deltaSeconds(v);
    }

    /** RFC 9111 1.2.2 delta-seconds: digits only; {@link #INVALID} otherwise; capped at 2^31. */
    static long deltaSeconds(String v) {
        if (v.isEmpty()) return INVALID;
        for (int i = 0; i < v.length(); i++) if (v.charAt(i) < '0' || v.charAt(i) > '9') return INVALID;
        if (v.length() > 10) return MAX_SECONDS;
        return Math.min(Long.parseLong(v), MAX_SECONDS);
    }

    /**
     * {@code max-stale} may come without a value: any staleness is then acceptable.
     */
    long maxStale() {
        if (!has("max-stale")) return ABSENT;
        if (directives.get("max-stale").isEmpty()) return MAX_SECONDS;
        return seconds("max-stale");
    }
}
