package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * A namespace's hashes are remembered for keys asked lately (a hot key's SHA-256 was worked out on
 * every near-cache hit): the remembered hash must be the one the key has, however many keys pass and
 * however long they are.
 */
class KeyHashMemoTest {
    /** The hash as the table's documentation defines it: SHA-256 of the namespace's length, UTF-8, then the key. */
    private static String expected(String namespace, String key) throws Exception {
        MessageDigest d = MessageDigest.getInstance("SHA-256");
        byte[] ns = namespace.getBytes(StandardCharsets.UTF_8);
        d.update(new byte[] {
            (byte) (ns.length >>> 24), (byte) (ns.length >>> 16), (byte) (ns.length >>> 8), (byte) ns.length
        });
        d.update(ns);
        return HexFormat.of().formatHex(d.digest(key.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void of_rememberedOrNot_theKeysOwnHash() throws Exception {
        KeyHash hashes = new KeyHash("memo");
        String longKey = "k".repeat(KeyHash.MEMO_CHARS + 1);
        for (int round = 0; round < 2; round++) {
            // more keys than the memo holds, so it starts over in the middle of each round
            for (int i = 0; i < KeyHash.MEMO_ENTRIES + 100; i++) {
                String key = "GET /item/" + i;
                assertThat(hashes.of(key)).as("key %s, round %d", key, round).isEqualTo(expected("memo", key));
            }
            assertThat(hashes.of(longKey)).isEqualTo(expected("memo", longKey));
        }
        // another namespace's memo never answers for this one
        assertThat(new KeyHash("other").of("GET /item/0")).isEqualTo(expected("other", "GET /item/0"));
        assertThat(hashes.of("GET /item/0")).isNotEqualTo(expected("other", "GET /item/0"));
    }
}
