package dev.once.spring;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.cfg.MapperConfig;
import com.fasterxml.jackson.databind.jsontype.PolymorphicTypeValidator;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The classes a row may name, decided on the name alone, before any class is loaded: plain JDK value
 * types, and classes in the allowed packages (with their subpackages). It checks both a row's type
 * ({@code "t"}) and every class id inside a value ({@code @JsonTypeInfo(use = CLASS)}), through the
 * {@link PolymorphicTypeValidator} the starter sets on its mapper: Jackson asks it with the class name,
 * before loading the class (and running its static initialiser).
 */
final class AllowedTypes {
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
    /** Collections a polymorphic value may name as its class (Jackson writes the runtime class). */
    private static final Set<String> JDK_COLLECTIONS = Set.of(
            "java.util.ArrayList",
            "java.util.LinkedList",
            "java.util.HashMap",
            "java.util.LinkedHashMap",
            "java.util.TreeMap",
            "java.util.HashSet",
            "java.util.LinkedHashSet",
            "java.util.TreeSet");

    private static final Pattern CLASS_NAME = Pattern.compile("[A-Za-z_$][A-Za-z0-9_$]*(\\.[A-Za-z_$][A-Za-z0-9_$]*)*");

    private final List<String> packages;

    AllowedTypes(List<String> packages) {
        this.packages =
                packages.stream().map(p -> p.endsWith(".") ? p : p + ".").toList();
    }

    List<String> packages() {
        return packages;
    }

    /** Whether the text has the shape of a Java class name (dotted identifiers). */
    static boolean isClassName(String text) {
        return CLASS_NAME.matcher(text).matches();
    }

    /** Whether a class of this name may be read from a row. Loads nothing. */
    boolean allows(String className) {
        if (!isClassName(className)) return false;
        return JDK_TYPES.contains(className) || packages.stream().anyMatch(className::startsWith);
    }

    /** The validator for class ids inside values; it sees names only, so it denies before loading. */
    PolymorphicTypeValidator validator() {
        return new PolymorphicTypeValidator.Base() {
            @Override
            public Validity validateSubClassName(MapperConfig<?> config, JavaType baseType, String subClassName) {
                return allows(subClassName) || JDK_COLLECTIONS.contains(subClassName)
                        ? Validity.ALLOWED
                        : Validity.DENIED;
            }

            @Override
            public Validity validateSubType(MapperConfig<?> config, JavaType baseType, JavaType subType) {
                return validateSubClassName(
                        config, baseType, subType.getRawClass().getName());
            }
        };
    }
}
