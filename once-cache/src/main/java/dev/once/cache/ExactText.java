package dev.once.cache;

import java.nio.charset.StandardCharsets;

/**
 * Text as bytes without loss. UTF-8 has no form for an unpaired surrogate: Java's encoders (UTF-16's
 * too) write a replacement for it, so two texts that differ only there came out as the same bytes. Such
 * text is written as 0xFF and its UTF-16 code units instead, which no UTF-8 text begins with; any other
 * text is its UTF-8, as before.
 */
final class ExactText {
    private ExactText() {}

    private static final byte MARK = (byte) 0xFF;

    static byte[] bytes(String text) {
        if (wellFormed(text)) return text.getBytes(StandardCharsets.UTF_8);
        byte[] marked = new byte[1 + 2 * text.length()];
        marked[0] = MARK;
        for (int i = 0; i < text.length(); i++) {
            marked[1 + 2 * i] = (byte) (text.charAt(i) >> 8);
            marked[2 + 2 * i] = (byte) text.charAt(i);
        }
        return marked;
    }

    static String string(byte[] bytes) {
        if (bytes.length == 0 || bytes[0] != MARK || bytes.length % 2 == 0)
            return new String(bytes, StandardCharsets.UTF_8);
        char[] chars = new char[(bytes.length - 1) / 2];
        for (int i = 0; i < chars.length; i++)
            chars[i] = (char) (((bytes[1 + 2 * i] & 0xFF) << 8) | (bytes[2 + 2 * i] & 0xFF));
        return new String(chars);
    }

    /** True when every surrogate in the text is part of a pair. */
    static boolean wellFormed(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (!Character.isSurrogate(c)) continue;
            if (Character.isLowSurrogate(c) || i + 1 == text.length() || !Character.isLowSurrogate(text.charAt(++i)))
                return false;
        }
        return true;
    }
}
