package dev.once.cache;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A key's primary-key column: the SHA-256, in hex (64 characters), of its namespace and its text: the
 * namespace's UTF-8 after its length (4 bytes), then the key's {@link ExactText#bytes} (UTF-8 unless the
 * text has an unpaired surrogate, which UTF-8 cannot hold: "?" and U+D800 alone were one key, and the
 * second got the first's value). The namespace is in the hash as well as in its own column because the
 * column compares by its collation, which a table made by hand may choose: namespaces that a MariaDB
 * UCA, a PostgreSQL nondeterministic or an SQLite NOCASE collation calls equal ("Quotes" and "quotes",
 * "ns" and "ns" with a soft hyphen) shared rows, and values (helper-28). Now they share no key.
 */
final class KeyHash {
    /**
     * The prototype each namespace's digest is cloned from; that one is cloned per hash. A thread-local digest measured 134 ns against 144 ns for a clone
     * (once-jmh KeyHashBench), but the proxy runs each request on a new virtual thread, where a
     * thread-local starts empty: a fresh {@code getInstance} (185 ns) and a thread-local map each time.
     */
    private static final MessageDigest SHA256;

    static {
        try {
            SHA256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    /** SHA-256 having absorbed the namespace's length and UTF-8: each key's hash clones it. */
    private final MessageDigest prefixed;

    /** The hashes of one namespace's keys; the namespace is encoded once, not per lookup. */
    KeyHash(String namespace) {
        byte[] ns = namespace.getBytes(java.nio.charset.StandardCharsets.UTF_8); // well-formed: the builder checks
        prefixed = copy(SHA256);
        prefixed.update(new byte[] {
            (byte) (ns.length >>> 24), (byte) (ns.length >>> 16), (byte) (ns.length >>> 8), (byte) ns.length
        });
        prefixed.update(ns);
    }

    /** The key's hash in this namespace. */
    String of(String key) {
        if (key.length() > MEMO_CHARS) return hash(key);
        String known = recent.get(key);
        if (known != null) return known;
        String hash = hash(key);
        if (recent.size() >= MEMO_ENTRIES) recent.clear(); // many new keys: the memo starts over
        recent.put(key, hash);
        return hash;
    }

    private String hash(String key) {
        return HexFormat.of().formatHex(copy(prefixed).digest(ExactText.bytes(key)));
    }

    /**
     * The hashes of keys asked lately: a hot key's hash was worked out on every near-cache hit (SHA-256
     * of its UTF-8 and the hex, a fifth of a proxy's near-hit work by async-profiler, issue 12), where
     * looking it up costs the text's hash code and one comparison. Keys are compared exactly, so a
     * collision of hash codes only costs time. Bounded: at most {@value #MEMO_ENTRIES} keys of at most
     * {@value #MEMO_CHARS} characters (a few MB at the worst).
     */
    private final java.util.concurrent.ConcurrentHashMap<String, String> recent =
            new java.util.concurrent.ConcurrentHashMap<>();

    static final int MEMO_ENTRIES = 4096;
    static final int MEMO_CHARS = 512;

    /** The key's hash in the namespace (for tests and tools; a cache keeps its {@link #KeyHash(String)}). */
    static String of(String namespace, String key) {
        return new KeyHash(namespace).of(key);
    }

    private static MessageDigest copy(MessageDigest digest) {
        try {
            return (MessageDigest) digest.clone();
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException("SHA-256 digest cannot be cloned", e);
        }
    }

    /** Characters of a key's text kept in its row's {@code key_text}, for people reading the table. */
    static final int SHOWN_CHARS = 1_000;

    /**
     * The key's text as its row shows it: cut to {@value #SHOWN_CHARS} characters, NUL and unpaired
     * surrogates replaced by U+FFFD, which every database stores (PostgreSQL refuses NUL in text; MariaDB's
     * TEXT holds 64 KB). Only the hash identifies the key.
     */
    static String shown(String key) {
        String cut = key.length() > SHOWN_CHARS ? key.substring(0, SHOWN_CHARS) : key;
        if (cut.indexOf('\u0000') < 0 && ExactText.wellFormed(cut)) return cut;
        StringBuilder b = new StringBuilder(cut.length());
        // code points pair the surrogates that can be paired; a lone one stays a code point of its own
        cut.codePoints()
                .forEach(cp ->
                        b.appendCodePoint(cp == 0 || cp <= 0xFFFF && Character.isSurrogate((char) cp) ? 0xFFFD : cp));
        return b.toString();
    }
}
