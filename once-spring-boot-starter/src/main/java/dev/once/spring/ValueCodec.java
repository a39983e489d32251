package dev.once.spring;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.type.TypeFactory;
import dev.once.cache.Codec;
import java.io.IOException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A Spring cache's values as JSON: {@code {"t": type, "v": value}}, or {@code {"v": null}} for a
 * cached null.
 *
 * <p><b>The hazard.</b> Anyone who can write the cache table can write any type name into a row. A
 * codec that loads and instantiates whatever class a row names (Jackson's default typing, Java
 * serialization) turns that into code execution through gadget chains. So the type a row names is
 * only a claim, checked as text before any class is loaded:
 *
 * <ul>
 *   <li>a cache with a configured type ({@code once.cache.caches.NAME.type}) reads every value as that
 *       type and ignores the row's type;
 *   <li>otherwise each class in the row's type (its elements' too, for collections) must be a plain
 *       JDK value type (String, the boxed primitives, BigDecimal, BigInteger, UUID, List, Set, Map) or
 *       sit in one of the allowed packages (by default the application's own, from
 *       {@code @SpringBootApplication}). Polymorphic typing stays off, so nothing inside the value can
 *       name a class either.
 * </ul>
 *
 * A row that fails these checks or does not parse decodes to {@link Unreadable}: the cache treats it as
 * a miss and logs why; it never throws from inside the claim protocol.
 */
final class ValueCodec implements Codec<Object> {
    /** A cached null (Spring's {@code allowNullValues}). */
    static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** A value and its bytes, encoded before the cache stores it so that a failure is the caller's. */
    record Encoded(Object value, byte[] bytes) {}

    /** A row this cache refuses to read, and why. */
    record Unreadable(String reason) {}

    private static final Set<String> JDK_TYPES = Set.of(
            "java.lang.String",
            "java.lang.Integer",
            "java.lang.Long",
            "java.lang.Short",
            "java.lang.Byte",
            "java.lang.Double",
            "java.lang.Float",
            "java.lang.Boolean",
            "java.lang.Character",
            "java.math.BigDecimal",
            "java.math.BigInteger",
            "java.util.UUID",
            "java.time.Instant",
            "java.time.LocalDate",
            "java.time.LocalDateTime",
            "java.time.LocalTime",
            "java.time.OffsetDateTime",
            "java.time.ZonedDateTime",
            "java.time.Duration",
            "java.util.List",
            "java.util.Set",
            "java.util.Map");
    private static final Pattern CLASS_NAME = Pattern.compile("[A-Za-z_$][A-Za-z0-9_$]*(\\.[A-Za-z_$][A-Za-z0-9_$]*)*");
    private static final Pattern TYPE_TOKENS = Pattern.compile("[<>,\\s]+");

    private final String cache;
    private final ObjectMapper mapper;
    private final JavaType configuredType;
    private final List<String> allowedPackages;
    private final ClassLoader classLoader;

    ValueCodec(
            String cache,
            ObjectMapper mapper,
            JavaType configuredType,
            List<String> allowedPackages,
            ClassLoader classLoader) {
        this.cache = cache;
        this.mapper = mapper;
        this.configuredType = configuredType;
        this.allowedPackages =
                allowedPackages.stream().map(p -> p.endsWith(".") ? p : p + ".").toList();
        this.classLoader = classLoader;
    }

    /**
     * Encodes a value the caller is about to cache; throws {@link IllegalArgumentException} naming the
     * cache and the type when Jackson cannot write it, or when this cache could not read it back.
     */
    Encoded encodeValue(Object value) {
        if (value == null) return new Encoded(null, "{\"v\":null}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        String type = configuredType != null ? null : typeOf(value);
        if (type != null) {
            String refused = refusal(type);
            if (refused != null)
                throw new IllegalArgumentException(
                        "cache '" + cache + "': a value of type " + type + " would not be read back: " + refused);
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(256);
        try (JsonGenerator g = mapper.createGenerator(out)) {
            g.writeStartObject();
            if (type != null) g.writeStringField("t", type);
            g.writeFieldName("v");
            mapper.writeValue(g, value);
            g.writeEndObject();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(
                    "cache '" + cache + "': a value of type " + value.getClass().getName()
                            + " cannot be stored as JSON: " + firstLine(e.getMessage()),
                    e);
        }
        return new Encoded(value, out.toByteArray());
    }

    @Override
    public byte[] encode(Object value) {
        return value instanceof Encoded e ? e.bytes() : encodeValue(value).bytes();
    }

    /**
     * Reads {@code {"t": ..., "v": ...}} in that order (as written) with a streaming parser, so numbers
     * reach the value's own types unrounded; any other shape is {@link Unreadable}.
     */
    @Override
    public Object decode(byte[] bytes) {
        try (JsonParser p = mapper.createParser(bytes)) {
            if (p.nextToken() != JsonToken.START_OBJECT) return new Unreadable("not a Spring cache value");
            String t = null;
            JsonToken token = p.nextToken();
            if (token == JsonToken.FIELD_NAME && "t".equals(p.currentName())) {
                if (p.nextToken() != JsonToken.VALUE_STRING) return new Unreadable("the row's type is not a string");
                t = p.getText();
                token = p.nextToken();
            }
            if (token != JsonToken.FIELD_NAME || !"v".equals(p.currentName()))
                return new Unreadable("not a Spring cache value");
            if (p.nextToken() == JsonToken.VALUE_NULL) return NULL;
            JavaType type = configuredType;
            if (type == null) {
                if (t == null) return new Unreadable("the row names no type");
                String refused = refusal(t);
                if (refused != null) return new Unreadable(refused);
                type = TypeFactory.defaultInstance()
                        .withClassLoader(classLoader)
                        .constructFromCanonical(t);
            }
            Object value = mapper.readValue(p, type);
            return value == null ? NULL : value;
        } catch (IOException | RuntimeException e) {
            return new Unreadable("the value does not parse: " + firstLine(e.getMessage()));
        }
    }

    /** The value's type as Jackson's canonical text, with collections' element types where they are uniform. */
    private static String typeOf(Object value) {
        if (value instanceof List<?> l) return "java.util.List" + elements(l);
        if (value instanceof Set<?> s) return "java.util.Set" + elements(s);
        if (value instanceof Map<?, ?> m) {
            String k = uniform(m.keySet());
            String v = uniform(m.values());
            return "java.util.Map" + (k == null || v == null ? "" : "<" + k + "," + v + ">");
        }
        return value.getClass().getName();
    }

    private static String elements(Collection<?> c) {
        String e = uniform(c);
        return e == null ? "" : "<" + e + ">";
    }

    /** The one class of every non-null element, or null when there are none or several. */
    private static String uniform(Collection<?> c) {
        Class<?> type = null;
        for (Object o : c) {
            if (o == null) continue;
            if (type == null) type = o.getClass();
            else if (type != o.getClass()) return null;
        }
        if (type == null
                || type.isArray()
                || Collection.class.isAssignableFrom(type)
                || Map.class.isAssignableFrom(type)) return null;
        return type.getName();
    }

    /** Null when every class the type text names may be read; else why not. Loads no class. */
    String refusal(String typeText) {
        if (typeText.length() > 1000) return "a type name over 1000 characters";
        for (String name : TYPE_TOKENS.split(typeText.strip())) {
            if (name.isEmpty()) continue;
            String base = name.endsWith("[]") ? name.substring(0, name.indexOf('[')) : name;
            if (!CLASS_NAME.matcher(base).matches()) return "'" + name + "' is not a class name";
            if (JDK_TYPES.contains(base)) continue;
            if (allowedPackages.stream().anyMatch(base::startsWith)) continue;
            return "type " + base + " is not in the allowed packages " + allowedPackages
                    + " (once.cache.allowed-packages) nor a JDK value type, and this cache has no configured"
                    + " type (once.cache.caches." + cache + ".type); it is never loaded";
        }
        return null;
    }

    private static String firstLine(String message) {
        if (message == null) return "";
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
