package dev.once.spring;

import java.lang.reflect.Field;
import java.lang.reflect.RecordComponent;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.UUID;
import org.springframework.cache.interceptor.SimpleKey;

/**
 * The text of a Spring cache key, identical in every JVM: it is hashed into the table's primary key,
 * so two replicas must turn equal keys into equal text, and unequal keys into unequal text.
 *
 * <p>A {@link String} is its own text (readable in the table), unless it starts with {@code #}; every
 * other key is {@code #} and a typed form: {@code int:42}, {@code long:42}, {@code BigDecimal:1.50},
 * {@code enum:com.example.Side.BUY}, a record as {@code com.example.Req(a, b)}, a {@link SimpleKey} as
 * {@code [a, b]}, lists as {@code list[...]}, sets and maps sorted by their elements' text. The
 * types match Java's {@code equals}: {@code 1} (int) and {@code 1L} are different keys, as they are in
 * a {@code ConcurrentHashMap}.
 *
 * <p>A key whose text could differ between JVMs, or be shared by two unequal keys, is refused, naming
 * its type, instead of falling back to {@link Object#toString()}, which for most classes holds an
 * identity hash code and would make every replica miss. JDK classes have exact forms of their own
 * ({@code Date} as its epoch milliseconds, {@code Timestamp} with its nanoseconds, {@code Optional}
 * with its content's typed form, {@code Pattern} with its flags) or sit on a short list of classes
 * known to print exactly; any other JDK class is refused. An application class that overrides
 * {@code toString()} is taken at its word (as Spring Data Redis does), one that does not is refused.
 */
final class KeyText {
    private static final Field SIMPLE_KEY_PARAMS = simpleKeyParams();
    /** JDK classes (beyond those with a form of their own below) whose toString is exact and zone-free. */
    private static final java.util.Set<String> EXACT_TO_STRING = java.util.Set.of(
            "java.util.Locale",
            "java.util.Currency",
            "java.net.URI",
            "java.util.OptionalInt",
            "java.util.OptionalLong",
            "java.util.OptionalDouble",
            "java.time.ZoneRegion",
            "java.time.ZoneOffset");

    private KeyText() {}

    /** The text of a key of the named cache; throws {@link IllegalArgumentException} naming an unstable type. */
    static String of(String cache, Object key) {
        if (key instanceof String s && !s.startsWith("#")) return s;
        StringBuilder out = new StringBuilder("#");
        append(cache, out, key, key);
        return out.toString();
    }

    private static void append(String cache, StringBuilder out, Object key, Object whole) {
        switch (key) {
            case null -> out.append("null");
            case String s -> quote(out, s);
            case Integer i -> out.append("int:").append(i);
            case Long l -> out.append("long:").append(l);
            case Short s -> out.append("short:").append(s);
            case Byte b -> out.append("byte:").append(b);
            case Double d -> out.append("double:").append(d);
            case Float f -> out.append("float:").append(f);
            case Boolean b -> out.append(b);
            case Character c -> out.append("char:").append((int) c);
            case BigInteger b -> out.append("BigInteger:").append(b);
            case BigDecimal b -> out.append("BigDecimal:").append(b); // scale kept: 1.5 and 1.50 differ in equals
            case UUID u -> out.append("uuid:").append(u);
            case Enum<?> e ->
                out.append("enum:")
                        .append(e.getDeclaringClass().getName())
                        .append('.')
                        .append(e.name());
            case Class<?> c -> out.append("class:").append(c.getName());
            case SimpleKey k -> {
                out.append('[');
                elements(cache, out, java.util.Arrays.asList(simpleKeyParams(cache, k)), whole); // nulls kept
                out.append(']');
            }
            case Record r -> {
                out.append(r.getClass().getName()).append('(');
                RecordComponent[] components = r.getClass().getRecordComponents();
                List<Object> values = new ArrayList<>(components.length);
                for (RecordComponent c : components) values.add(component(cache, r, c));
                elements(cache, out, values, whole);
                out.append(')');
            }
            case Object[] array -> {
                out.append("array[");
                elements(cache, out, java.util.Arrays.asList(array), whole);
                out.append(']');
            }
            case List<?> list -> {
                out.append("list[");
                elements(cache, out, list, whole);
                out.append(']');
            }
            case Set<?> set -> {
                out.append(set instanceof SortedSet<?> ? "sortedset[" : "set[");
                sorted(cache, out, set, whole);
                out.append(']');
            }
            case Map<?, ?> map -> {
                out.append(map instanceof SortedMap<?, ?> ? "sortedmap{" : "map{");
                List<String> entries = new ArrayList<>(map.size());
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    StringBuilder entry = new StringBuilder();
                    append(cache, entry, e.getKey(), whole);
                    entry.append('=');
                    append(cache, entry, e.getValue(), whole);
                    entries.add(entry.toString());
                }
                entries.sort(null);
                out.append(String.join(", ", entries)).append('}');
            }
            case java.time.Duration d -> out.append("Duration:").append(d);
            case java.sql.Timestamp t -> // equals compares the nanoseconds too; toString is in the JVM's zone
                out.append(t.getClass().getName())
                        .append(':')
                        .append(t.getTime())
                        .append('.')
                        .append(t.getNanos());
            case java.util.Date d ->
                out.append(d.getClass().getName()).append(':').append(d.getTime());
            case java.util.Optional<?> o -> {
                if (o.isEmpty()) out.append("Optional.empty");
                else {
                    out.append("Optional[");
                    append(cache, out, o.get(), whole);
                    out.append(']');
                }
            }
            case java.util.regex.Pattern p -> {
                out.append("Pattern:").append(p.flags()).append(':');
                quote(out, p.pattern());
            }
            default -> {
                if (key instanceof java.time.temporal.TemporalAccessor t
                        && t.getClass().getName().startsWith("java.time.")) {
                    out.append(t.getClass().getSimpleName()).append(':').append(t);
                } else if (key.getClass().isArray()) { // primitive arrays
                    out.append(key.getClass().getComponentType().getName()).append("[]:");
                    int n = java.lang.reflect.Array.getLength(key);
                    for (int i = 0; i < n; i++) {
                        if (i > 0) out.append(',');
                        out.append(java.lang.reflect.Array.get(key, i));
                    }
                } else if (EXACT_TO_STRING.contains(key.getClass().getName())
                        || (!isJdk(key.getClass()) && declaresToString(key.getClass()))) {
                    out.append(key.getClass().getName()).append(':');
                    quote(out, key.toString());
                } else {
                    throw unstable(cache, key, whole);
                }
            }
        }
    }

    private static void elements(String cache, StringBuilder out, Collection<?> values, Object whole) {
        boolean first = true;
        for (Object v : values) {
            if (!first) out.append(", ");
            first = false;
            append(cache, out, v, whole);
        }
    }

    /** A set's elements sorted by their text: iteration order is not part of a set's equality. */
    private static void sorted(String cache, StringBuilder out, Collection<?> values, Object whole) {
        List<String> texts = new ArrayList<>(values.size());
        for (Object v : values) {
            StringBuilder t = new StringBuilder();
            append(cache, t, v, whole);
            texts.add(t.toString());
        }
        texts.sort(null);
        out.append(String.join(", ", texts));
    }

    private static void quote(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') out.append('\\');
            out.append(c);
        }
        out.append('"');
    }

    /**
     * A JDK class's toString is used only when it is known to tell every two unequal values apart, in
     * every JVM, time zone and locale; other JDK classes are refused (Date printed in the JVM's zone to
     * the second; Optional dropped its content's type; Pattern its flags).
     */
    private static boolean isJdk(Class<?> type) {
        String n = type.getName();
        return n.startsWith("java.")
                || n.startsWith("javax.")
                || n.startsWith("jdk.")
                || n.startsWith("sun.")
                || n.startsWith("com.sun.");
    }

    private static boolean declaresToString(Class<?> type) {
        for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
            try {
                c.getDeclaredMethod("toString");
                return true;
            } catch (NoSuchMethodException e) {
                // look in the superclass
            }
        }
        return false;
    }

    private static IllegalArgumentException unstable(String cache, Object part, Object whole) {
        String type = part.getClass().getName();
        String in = part == whole
                ? ""
                : " (inside a key of type " + whole.getClass().getName() + ")";
        boolean jdk = isJdk(part.getClass());
        String why = jdk
                ? type + " is not known to print every value exactly and the same in every JVM (its"
                        + " toString() may drop part of the value or depend on the time zone or locale), so two"
                        + " unequal keys could share a row."
                : type + " does not override toString(), so Object.toString() would put an identity hash code"
                        + " in the key and every replica would miss.";
        return new IllegalArgumentException("cache '" + cache + "': a key of type " + type + in
                + " has no text that is the same in every JVM: " + why
                + " Use a String, number, enum, UUID, record or SimpleKey of those as the key (a"
                + " @Cacheable key = \"...\" SpEL expression)"
                + (jdk ? "" : ", or override toString() in " + type + " with a text that" + " identifies the value"));
    }

    private static Object component(String cache, Record r, RecordComponent c) {
        try {
            var accessor = c.getAccessor();
            accessor.setAccessible(true);
            return accessor.invoke(r);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalArgumentException(
                    "cache '" + cache + "': cannot read component " + c.getName() + " of key type "
                            + r.getClass().getName() + ": " + e,
                    e);
        }
    }

    private static Object[] simpleKeyParams(String cache, SimpleKey k) {
        if (SIMPLE_KEY_PARAMS == null)
            throw new IllegalArgumentException("cache '" + cache + "': cannot read the parameters of a SimpleKey in"
                    + " this Spring version; give the @Cacheable a key = \"...\" expression");
        try {
            return (Object[]) SIMPLE_KEY_PARAMS.get(k);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Field simpleKeyParams() {
        try {
            Field f = SimpleKey.class.getDeclaredField("params");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}
