package dev.once.proxy;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * How a credential appears in a key: never as sent. Without a key secret, as its SHA-256 ({@code
 * sha256=hex}): whoever can read the cache's table can test guesses of a short API key against it.
 * With one ({@link ProxyConfig#keySecret}, kept outside the database), as its HMAC-SHA256 under that
 * secret ({@code hmac=hex}): the table alone tells nothing about the credential. Replicas share keys
 * only if they share the secret; the two spellings never collide.
 */
final class CredentialDigest {
    private final Mac prototype;

    CredentialDigest(String secret) {
        if (secret == null) {
            prototype = null;
            return;
        }
        try {
            prototype = Mac.getInstance("HmacSHA256");
            prototype.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    /** The credential as keys hold it. */
    String of(String credential) {
        byte[] value = credential.getBytes(StandardCharsets.UTF_8);
        if (prototype == null) return "sha256=" + ProxyRequest.sha256(value);
        return "hmac=" + HexFormat.of().formatHex(mac().doFinal(value));
    }

    /**
     * A key for another purpose taken from the secret: its HMAC of {@code label}, never the secret itself;
     * null without a secret.
     */
    byte[] derived(String label) {
        return prototype == null ? null : mac().doFinal(label.getBytes(StandardCharsets.UTF_8));
    }

    private static final java.util.regex.Pattern DIGEST = java.util.regex.Pattern.compile("(sha256|hmac)=[0-9a-f]{64}");

    /**
     * A text for a log line with every credential digest in it as {@code sha256=***} or {@code hmac=***}:
     * once-cache's messages name a failed key's text (a loader's failure in another process, say), and a
     * key's text holds its credentials' digests; a plain SHA-256 of a short API key can be guessed
     * (helper-61).
     */
    static String masked(String text) {
        return text == null ? null : DIGEST.matcher(text).replaceAll("$1=***");
    }

    /** A Mac of its own for this call (one Mac is not safe across threads; a clone skips the key set-up). */
    private Mac mac() {
        try {
            return (Mac) prototype.clone();
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException("HmacSHA256 of the JDK's provider can be cloned", e);
        }
    }
}
