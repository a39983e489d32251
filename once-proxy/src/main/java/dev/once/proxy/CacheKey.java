package dev.once.proxy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * The cache key of a request: method, path, the query with its parameters sorted, the route's
 * {@code Vary} headers, a SHA-256 of the body when the route asks, and a SHA-256 of {@code
 * Authorization} (by default), so one client never gets another client's answer.
 */
final class CacheKey {
    private CacheKey() {}

    static String of(
            String method,
            String path,
            String query,
            List<String> vary,
            Function<String, List<String>> headers,
            byte[] body,
            boolean bodyInKey,
            boolean keyAuthorization) {
        StringBuilder key = new StringBuilder(128).append(method).append(' ').append(path);
        if (query != null && !query.isEmpty()) {
            String[] params = query.split("&");
            Arrays.sort(params);
            key.append('?').append(String.join("&", params));
        }
        for (String h : vary) {
            List<String> values = headers.apply(h);
            key.append('\n').append(h).append(": ");
            if (values != null)
                key.append(String.join(", ", values.stream().map(String::trim).toList())
                        .toLowerCase(Locale.ROOT));
        }
        if (bodyInKey) key.append("\nbody-sha256: ").append(sha256(body));
        if (keyAuthorization) {
            List<String> auth = headers.apply("authorization");
            if (auth != null && !auth.isEmpty()) {
                key.append("\nauthorization-sha256: ")
                        .append(sha256(String.join("\n", auth).getBytes(StandardCharsets.UTF_8)));
            }
        }
        return key.toString();
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
