package dev.once.spring;

import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.type.TypeFactory;
import dev.once.cache.Codec;
import java.io.IOException;
import java.lang.reflect.Modifier;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A Spring cache's values as JSON: {@code {"t": type, "d": cache type, "v": value}}, or {@code {"v":
 * null}} for a cached null. {@code "t"} is the value's class (absent under a configured type), {@code
 * "d"} the type the cache knew when it wrote the row (absent when it knew none): a cache that knows its
 * type reads only rows written under that same type.
 *
 * <p><b>The hazard.</b> Anyone who can write the cache table can write any type name into a row. A
 * codec that loads and instantiates whatever class a row names (Jackson's default typing, Java
 * serialization) turns that into code execution through gadget chains. So the type a row names is
 * only a claim, and the application, not the row, says what a value is:
 *
 * <ul>
 *   <li>a cache with a configured type ({@code once.cache.caches.NAME.type}) reads every value as that
 *       type and ignores the row's type;
 *   <li>so does a cache whose {@code @Cacheable}/{@code @CachePut} methods all return one type
 *       ({@link DeclaredValueTypes}); when that type is an interface or abstract class without
 *       {@code @JsonTypeInfo}, the row's type is checked as below and must also be a subtype of it;
 *   <li>otherwise each class in the row's type (its elements' too, for collections) must be a plain
 *       JDK value type (String, the boxed primitives, BigDecimal, BigInteger, UUID, List, Set, Map) or
 *       sit in one of the allowed packages (by default the application's own, from
 *       {@code @SpringBootApplication}), checked as text before any class is loaded ({@link AllowedTypes}).
 * </ul>
 *
 * Inside a value, a class id ({@code @JsonTypeInfo(use = CLASS)}) is held to the same names by the
 * mapper's {@link com.fasterxml.jackson.databind.jsontype.PolymorphicTypeValidator}. A value is stored
 * only if it reads back. A row that fails these checks or does not parse decodes to {@link Unreadable}:
 * the cache treats it as a miss and logs why; it never throws from inside the claim protocol.
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

    private static final Pattern TYPE_TOKENS = Pattern.compile("[<>,\\s]+");

    /**
     * The one type the methods filling a cache declare ({@link DeclaredValueTypes}). {@code direct}: every
     * row is read as it; otherwise (an interface or abstract class Jackson cannot pick a subtype of) the
     * row's type is checked as usual and must also be a subtype of it.
     */
    record Declared(JavaType type, boolean direct) {
        static Declared of(JavaType type) {
            Class<?> raw = type.getRawClass();
            boolean concrete = !raw.isInterface() && !Modifier.isAbstract(raw.getModifiers());
            return new Declared(
                    type,
                    concrete
                            || type.isContainerType()
                            || type.isArrayType()
                            || raw.isAnnotationPresent(JsonTypeInfo.class));
        }
    }

    private final String cache;
    private final ObjectMapper mapper;
    private final JavaType configuredType;
    private final Map<String, Declared> declaredTypes;
    private final AllowedTypes allowed;
    private final ClassLoader classLoader;

    /**
     * @param configuredType the configured type ({@code once.cache.caches.NAME.type}), or null
     * @param declaredTypes the manager's types learned from the methods, by cache name (read on every
     *     use: they are learned after the caches in {@code cache-names} are built)
     */
    ValueCodec(
            String cache,
            ObjectMapper mapper,
            JavaType configuredType,
            Map<String, Declared> declaredTypes,
            AllowedTypes allowed,
            ClassLoader classLoader) {
        this.cache = cache;
        this.mapper = mapper;
        this.configuredType = configuredType;
        this.declaredTypes = declaredTypes;
        this.allowed = allowed;
        this.classLoader = classLoader;
    }

    /**
     * Encodes a value the caller is about to cache; throws {@link IllegalArgumentException} naming the
     * cache and the type when Jackson cannot write it, or when this cache could not read it back.
     */
    Encoded encodeValue(Object value) {
        if (value == null) return new Encoded(null, "{\"v\":null}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Declared declared = configuredType != null ? null : declaredTypes.get(cache);
        JavaType expected = expected(declared);
        String type = configuredType != null ? null : typeOf(value);
        if (type != null && (declared == null || !declared.direct())) {
            String refused = refusal(type);
            if (refused != null)
                throw new IllegalArgumentException(
                        "cache '" + cache + "': a value of type " + type + " would not be read back: " + refused);
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(256);
        try (JsonGenerator g = mapper.createGenerator(out)) {
            g.writeStartObject();
            if (type != null) g.writeStringField("t", type);
            if (expected != null) g.writeStringField("d", expected.toCanonical());
            g.writeFieldName("v");
            mapper.writeValue(g, value);
            g.writeEndObject();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(
                    "cache '" + cache + "': a value of type " + value.getClass().getName()
                            + " cannot be stored as JSON: " + firstLine(e.getMessage()),
                    e);
        }
        byte[] bytes = out.toByteArray();
        if (decode(bytes, declared)
                instanceof Unreadable u) // stored only what reads back: no reload loop, no wrong type
        throw new IllegalArgumentException(
                    "cache '" + cache + "': a value of type " + value.getClass().getName()
                            + " would not be read back"
                            + (declared == null ? "" : " as " + declared.type().toCanonical())
                            + ": " + u.reason() + ". Give an abstract type @JsonTypeInfo, or make the method return a"
                            + " concrete type");
        return new Encoded(value, bytes);
    }

    @Override
    public byte[] encode(Object value) {
        return value instanceof Encoded e ? e.bytes() : encodeValue(value).bytes();
    }

    /**
     * Reads {@code {"t": ..., "d": ..., "v": ...}} in that order (as written) with a streaming parser, so
     * numbers reach the value's own types unrounded; any other shape is {@link Unreadable}.
     */
    @Override
    public Object decode(byte[] bytes) {
        return decode(bytes, configuredType != null ? null : declaredTypes.get(cache));
    }

    /**
     * The type this cache holds when it knows one: the configured type, else the one its methods declare.
     * Written into each row as {@code "d"} and required on reading: a row written under another type
     * whose JSON happens to read as this one (a method's return type changed in a rolling deploy, two
     * applications of one name on one table) is a miss, not a value of the wrong type. A claim, like
     * {@code "t"}: it keeps careless writers apart, not hostile ones.
     */
    private JavaType expected(Declared declared) {
        return configuredType != null ? configuredType : declared == null ? null : declared.type();
    }

    private Object decode(byte[] bytes, Declared declared) {
        try (JsonParser p = mapper.createParser(bytes)) {
            if (p.nextToken() != JsonToken.START_OBJECT) return new Unreadable("not a Spring cache value");
            String t = null;
            JsonToken token = p.nextToken();
            if (token == JsonToken.FIELD_NAME && "t".equals(p.currentName())) {
                if (p.nextToken() != JsonToken.VALUE_STRING) return new Unreadable("the row's type is not a string");
                t = p.getText();
                token = p.nextToken();
            }
            String d = null;
            if (token == JsonToken.FIELD_NAME && "d".equals(p.currentName())) {
                if (p.nextToken() != JsonToken.VALUE_STRING)
                    return new Unreadable("the row's cache type is not a string");
                d = p.getText();
                token = p.nextToken();
            }
            if (token != JsonToken.FIELD_NAME || !"v".equals(p.currentName()))
                return new Unreadable("not a Spring cache value");
            if (p.nextToken() == JsonToken.VALUE_NULL) return NULL;
            JavaType expected = expected(declared);
            if (expected != null && !expected.toCanonical().equals(d))
                return new Unreadable(
                        d == null
                                ? "the row was written without this cache's type " + expected.toCanonical()
                                        + " (by a cache that knew no type, or an older version)"
                                : "the row was written for a cache of type " + shown(d) + ", this one holds "
                                        + expected.toCanonical());
            JavaType type = configuredType;
            if (declared != null && declared.direct()) type = declared.type();
            if (type == null) {
                if (t == null) return new Unreadable("the row names no type");
                String refused = refusal(t);
                if (refused != null) return new Unreadable(refused);
                type = TypeFactory.defaultInstance()
                        .withClassLoader(classLoader)
                        .constructFromCanonical(t);
            }
            Object value = mapper.readValue(p, type);
            if (value == null) return NULL;
            if (declared != null && !declared.type().getRawClass().isInstance(value))
                return new Unreadable("the row holds a " + value.getClass().getName() + " where the methods of this"
                        + " cache return " + declared.type().toCanonical());
            return value;
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
            if (!AllowedTypes.isClassName(base)) return "'" + name + "' is not a class name";
            if (allowed.allows(base)) continue;
            return "type " + base + " is not in the allowed packages " + allowed.packages()
                    + " (once.cache.allowed-packages) nor a JDK value type, and this cache has no configured"
                    + " type (once.cache.caches." + cache + ".type); it is never loaded";
        }
        return null;
    }

    /** A row's type text for a log line: type-name characters only, at most 200 of them. */
    private static String shown(String typeText) {
        String kept = typeText.replaceAll("[^\\p{Alnum}_$.<>,\\[\\] ]", "?");
        return kept.length() <= 200 ? kept : kept.substring(0, 200) + "...";
    }

    private static String firstLine(String message) {
        if (message == null) return "";
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
