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
    private KeyHash() {}

    /**
     * A prototype cloned per hash. A thread-local digest measured 134 ns against 144 ns for a clone
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

    static String of(String namespace, String key) {
        try {
            MessageDigest digest = (MessageDigest) SHA256.clone();
            byte[] ns = namespace.getBytes(java.nio.charset.StandardCharsets.UTF_8); // well-formed: the builder checks
            digest.update(new byte[] {
                (byte) (ns.length >>> 24), (byte) (ns.length >>> 16), (byte) (ns.length >>> 8), (byte) ns.length
            });
            digest.update(ns);
            return HexFormat.of().formatHex(digest.digest(ExactText.bytes(key)));
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
        for (int i = 0; i < cut.length(); i++) {
            char c = cut.charAt(i);
            boolean pair =
                    Character.isHighSurrogate(c) && i + 1 < cut.length() && Character.isLowSurrogate(cut.charAt(i + 1));
            if (pair) {
                b.append(c).append(cut.charAt(++i));
            } else {
                b.append(c == '\u0000' || Character.isSurrogate(c) ? '\uFFFD' : c);
            }
        }
        return b.toString();
    }
}
