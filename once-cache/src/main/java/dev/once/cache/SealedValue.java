package dev.once.cache;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * A stored value sent with the NOTIFY that announces it, so that waiting processes need not read the
 * row again (PostgreSQL).
 *
 * <p>PostgreSQL checks no privilege on LISTEN or NOTIFY: any role that can connect may hear every
 * payload on the channel, and send its own. So the value travels sealed (AES-256-GCM) under a key
 * derived (HMAC-SHA256) from two things: the table's seal secret, 32 random bytes in {@code
 * <table>_seal}, which only the cache's own role reads; and the claim token of the load that produced
 * it, 128 random bits of its process ({@link java.security.SecureRandom}) and a counter, written only to
 * the row's {@code lease_owner}. A waiter knows the token because it read the lease, or because its own
 * claim lost to it. Hence:
 *
 * <ul>
 *   <li>a role that cannot read the seal table can neither read a sealed value nor make one that opens,
 *       even if it can read the cache table and so every lease token;
 *   <li>a sealed value opens only for the load it announces: a payload recorded earlier and sent again
 *       (a replay) is sealed under an older claim's token, which no waiter of a later load holds;
 *   <li>a payload that does not open (forged, replayed, damaged, or this process lacks the token or the
 *       secret) is a plain wake-up: the waiter reads the row, as it would without this.
 * </ul>
 *
 * <p>Payload: {@code v/<namespace>/<key hash>/<base64url(nonce ‖ ciphertext ‖ tag)>}, the plaintext the
 * value's freshness in ms (8 bytes) then the value; the namespace and key hash are authenticated as
 * well. NOTIFY payloads must be under 8,000 bytes: larger values are announced without the value.
 */
final class SealedValue {
    /** PostgreSQL's limit is 8,000 bytes; a margin for the channel's own framing. */
    static final int MAX_PAYLOAD = 7_900;

    private static final int NONCE = 12;
    private static final int TAG_BITS = 128;
    private static final byte[] CONTEXT = "once-cache notify value v1\0".getBytes(StandardCharsets.US_ASCII);

    /** What a waiter takes from an opened payload. */
    record Opened(long freshMillis, byte[] value) {}

    private SealedValue() {}

    /** The payload for this value, or null when it would be over NOTIFY's limit. */
    static String seal(byte[] secret, String token, String namespace, String keyHash, long freshMillis, byte[] value) {
        String prefix = prefix(namespace, keyHash);
        int sealed = NONCE + 8 + value.length + TAG_BITS / 8;
        if (prefix.getBytes(StandardCharsets.UTF_8).length + (sealed + 2) / 3 * 4 > MAX_PAYLOAD) return null;
        byte[] nonce = new byte[NONCE]; // unique per key is all GCM asks; each token's key seals one value
        ThreadLocalRandom.current().nextBytes(nonce);
        try {
            Cipher c = cipher(Cipher.ENCRYPT_MODE, secret, token, nonce, namespace, keyHash);
            byte[] out = new byte[sealed];
            System.arraycopy(nonce, 0, out, 0, NONCE);
            byte[] plain = ByteBuffer.allocate(8 + value.length)
                    .putLong(freshMillis)
                    .put(value)
                    .array();
            c.doFinal(plain, 0, plain.length, out, NONCE);
            return prefix + Base64.getUrlEncoder().withoutPadding().encodeToString(out);
        } catch (GeneralSecurityException e) {
            return null; // no AES-GCM here: announce without the value
        }
    }

    /**
     * The value in a {@code v/} payload for this namespace and key, if it opens under {@code token};
     * else null (forged, replayed, damaged, or another namespace's or key's).
     */
    static Opened open(byte[] secret, String payload, String token, String namespace, String keyHash) {
        if (secret == null || token == null || payload == null) return null;
        String prefix = prefix(namespace, keyHash);
        if (!payload.startsWith(prefix)) return null;
        byte[] sealed;
        try {
            sealed = Base64.getUrlDecoder().decode(payload.substring(prefix.length()));
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (sealed.length < NONCE + 8 + TAG_BITS / 8) return null;
        try {
            Cipher c = cipher(
                    Cipher.DECRYPT_MODE, secret, token, java.util.Arrays.copyOf(sealed, NONCE), namespace, keyHash);
            byte[] plain = c.doFinal(sealed, NONCE, sealed.length - NONCE);
            ByteBuffer b = ByteBuffer.wrap(plain);
            long fresh = b.getLong();
            byte[] value = new byte[b.remaining()];
            b.get(value);
            return new Opened(fresh, value);
        } catch (GeneralSecurityException e) {
            return null; // AEADBadTagException among them: it does not open
        }
    }

    private static String prefix(String namespace, String keyHash) {
        return "v/" + namespace + "/" + keyHash + "/";
    }

    /**
     * The key and hash a {@code v/} payload names, or null when it is not one: {@code [namespace, key
     * hash]}. A key hash is 64 hex digits, so a namespace may itself contain slashes.
     */
    static String[] address(String payload) {
        int last = payload.lastIndexOf('/');
        if (!payload.startsWith("v/") || last < 2 + 1 + 64 || payload.charAt(last - 65) != '/') return null;
        return new String[] {payload.substring(2, last - 65), payload.substring(last - 64, last)};
    }

    /**
     * The secret values are sealed under when a key from outside the database ({@code sealKey}) is given:
     * HMAC-SHA256 of the table's secret under that key, so neither alone opens a payload.
     */
    static byte[] combine(byte[] sealKey, byte[] tableSecret) {
        try {
            Mac hmac = Mac.getInstance("HmacSHA256");
            hmac.init(new SecretKeySpec(sealKey, "HmacSHA256"));
            hmac.update("once-cache seal key\0".getBytes(StandardCharsets.UTF_8));
            return hmac.doFinal(tableSecret);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    private static Cipher cipher(int mode, byte[] secret, String token, byte[] nonce, String namespace, String keyHash)
            throws GeneralSecurityException {
        Mac hmac = Mac.getInstance("HmacSHA256");
        hmac.init(new SecretKeySpec(secret, "HmacSHA256"));
        hmac.update(CONTEXT);
        byte[] key = hmac.doFinal(token.getBytes(StandardCharsets.UTF_8));
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(mode, new SecretKeySpec(key, "AES"), new GCMParameterSpec(TAG_BITS, nonce));
        c.updateAAD((namespace + "\0" + keyHash).getBytes(StandardCharsets.UTF_8));
        return c;
    }
}
