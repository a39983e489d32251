package dev.once.cache;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Turns values into the bytes stored in the cache table and back.
 *
 * @param <V> the value type
 */
public interface Codec<V> {
    /**
     * The bytes to store for a value.
     *
     * @param value a value the loader produced, never null
     * @return its encoding
     */
    byte[] encode(V value);

    /**
     * The value stored as these bytes.
     *
     * @param bytes what {@link #encode} produced (possibly in another process)
     * @return the value
     */
    V decode(byte[] bytes);

    /**
     * Bytes as they are.
     *
     * @return the identity codec
     */
    static Codec<byte[]> bytes() {
        return new Codec<>() {
            @Override
            public byte[] encode(byte[] value) {
                return value;
            }

            @Override
            public byte[] decode(byte[] bytes) {
                return bytes;
            }
        };
    }

    /**
     * Strings as UTF-8; a string UTF-8 cannot hold exactly (an unpaired surrogate, which it would write as
     * "?") as its UTF-16 code units after a 0xFF mark ({@link ExactText}).
     *
     * @return the codec
     */
    static Codec<String> string() {
        return new Codec<>() {
            @Override
            public byte[] encode(String value) {
                return ExactText.bytes(value); // UTF-8, unless it cannot hold the text exactly
            }

            @Override
            public String decode(byte[] bytes) {
                return ExactText.string(bytes);
            }
        };
    }

    /**
     * JSON through Jackson, for a class.
     *
     * @param <V> the value type
     * @param type the values' class
     * @return the codec, with a default ObjectMapper
     */
    static <V> Codec<V> json(Class<V> type) {
        return json(new ObjectMapper(), new ObjectMapper().constructType(type));
    }

    /**
     * JSON through Jackson, for a generic type: {@code Codec.json(new TypeReference<List<Quote>>() {})}.
     *
     * @param <V> the value type
     * @param type the values' type
     * @return the codec, with a default ObjectMapper
     */
    static <V> Codec<V> json(TypeReference<V> type) {
        return json(new ObjectMapper(), new ObjectMapper().constructType(type));
    }

    /**
     * JSON through your own configured ObjectMapper.
     *
     * @param <V> the value type
     * @param mapper the mapper to write and read with
     * @param type the values' type, from that mapper
     * @return the codec
     */
    static <V> Codec<V> json(ObjectMapper mapper, JavaType type) {
        return new Codec<>() {
            @Override
            public byte[] encode(V value) {
                try {
                    return mapper.writeValueAsBytes(value);
                } catch (IOException e) {
                    throw new UncheckedIOException(
                            "cannot encode " + value.getClass().getName() + " as JSON", e);
                }
            }

            @Override
            public V decode(byte[] bytes) {
                try {
                    return mapper.readValue(bytes, type);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot decode a cached value as " + type, e);
                }
            }
        };
    }
}
