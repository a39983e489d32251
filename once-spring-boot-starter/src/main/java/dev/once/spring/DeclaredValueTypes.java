package dev.once.spring;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.type.TypeFactory;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.cache.interceptor.CacheOperation;
import org.springframework.cache.interceptor.CacheOperationSource;
import org.springframework.cache.interceptor.CachePutOperation;
import org.springframework.cache.interceptor.CacheableOperation;
import org.springframework.core.ResolvableType;
import org.springframework.util.ClassUtils;
import org.springframework.util.ReflectionUtils;

/**
 * Learns each cache's value type from the methods that fill it (run once every singleton exists): for every
 * bean class, the {@code @Cacheable} and {@code @CachePut} methods (as Spring's
 * {@link CacheOperationSource} sees them, {@code @CacheConfig} included) and their generic return types,
 * unwrapped as Spring unwraps them for caching ({@code Optional}, {@code CompletableFuture} and other
 * futures, Reactor's {@code Mono}; a {@code Flux} is cached as a {@code List}).
 *
 * <p>A cache whose methods all declare one type reads every row as that type (see
 * {@link ValueCodec}); a row cannot choose it. A cache whose methods declare different types, or a type
 * that says nothing ({@code Object}, a type variable), keeps reading the type each row names, checked
 * against the allowed packages. Caches filled through the {@code Cache} API only, or through a
 * {@code CacheResolver} that picks names at run time, are not seen here.
 */
final class DeclaredValueTypes {
    private static final Logger log = LoggerFactory.getLogger(DeclaredValueTypes.class);

    /** Stands for a method whose return type says nothing (Object, a type variable). */
    private static final JavaType UNKNOWN = TypeFactory.defaultInstance().constructType(Object.class);

    private final ListableBeanFactory beans;
    private final CacheOperationSource source;

    DeclaredValueTypes(ListableBeanFactory beans, CacheOperationSource source) {
        this.beans = beans;
        this.source = source;
    }

    /** Each cache name with the one type its methods declare; names whose methods disagree are left out. */
    Map<String, JavaType> scan() {
        Map<String, Set<JavaType>> declared = new LinkedHashMap<>();
        Map<String, List<String>> methods = new LinkedHashMap<>();
        Set<Class<?>> seen = new LinkedHashSet<>();
        for (String name : beans.getBeanDefinitionNames()) {
            Class<?> type;
            try {
                type = beans.getType(name, false);
            } catch (RuntimeException e) {
                continue;
            }
            if (type == null) continue;
            type = ClassUtils.getUserClass(type);
            if (!seen.add(type) || !source.isCandidateClass(type)) continue;
            for (Method m : ReflectionUtils.getUniqueDeclaredMethods(type, ReflectionUtils.USER_DECLARED_METHODS)) {
                Collection<CacheOperation> ops = source.getCacheOperations(m, type);
                if (ops == null) continue;
                for (CacheOperation op : ops) {
                    if (!(op instanceof CacheableOperation || op instanceof CachePutOperation)) continue;
                    JavaType t = valueType(ResolvableType.forMethodReturnType(m, type));
                    for (String cache : op.getCacheNames()) {
                        declared.computeIfAbsent(cache, c -> new LinkedHashSet<>())
                                .add(t == null ? UNKNOWN : t);
                        methods.computeIfAbsent(cache, c -> new ArrayList<>())
                                .add(type.getSimpleName() + "." + m.getName() + " -> "
                                        + (t == null ? "?" : t.toCanonical()));
                    }
                }
            }
        }
        Map<String, JavaType> agreed = new LinkedHashMap<>();
        declared.forEach((cache, types) -> {
            if (types.size() == 1 && !types.contains(UNKNOWN)) {
                agreed.put(cache, types.iterator().next());
            } else if (types.size() > 1) {
                log.warn(
                        "cache '{}' is used by methods of different value types ({}): its rows are read as the type"
                                + " each names, checked against the allowed packages; give each type a cache of its own,"
                                + " or set once.cache.caches.{}.type",
                        cache,
                        methods.get(cache),
                        cache);
            }
        });
        return agreed;
    }

    /** The type Spring caches for a method returning {@code returned}, or null when it says nothing. */
    static JavaType valueType(ResolvableType returned) {
        Class<?> raw = returned.resolve();
        if (raw == null || raw == void.class || raw == Void.class) return null;
        ResolvableType cached = returned;
        if (raw == Optional.class) cached = returned.getGeneric(0);
        else if (CompletionStage.class.isAssignableFrom(raw))
            cached = returned.as(CompletionStage.class).getGeneric(0);
        else if (Future.class.isAssignableFrom(raw))
            cached = returned.as(Future.class).getGeneric(0);
        else if (raw.getName().equals("reactor.core.publisher.Mono")) cached = returned.getGeneric(0);
        else if (raw.getName().equals("reactor.core.publisher.Flux"))
            cached = ResolvableType.forClassWithGenerics(List.class, returned.getGeneric(0));
        Class<?> top = cached.resolve();
        if (top == null || top == Object.class) return null;
        try {
            return javaType(cached, TypeFactory.defaultInstance());
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static JavaType javaType(ResolvableType t, TypeFactory types) {
        Class<?> raw = t.resolve(Object.class);
        if (t.isArray()) return types.constructArrayType(javaType(t.getComponentType(), types));
        raw = ClassUtils.resolvePrimitiveIfNecessary(raw);
        ResolvableType[] generics = t.getGenerics();
        if (generics.length == 0 || generics.length != raw.getTypeParameters().length) return types.constructType(raw);
        JavaType[] args = new JavaType[generics.length];
        for (int i = 0; i < generics.length; i++) args[i] = javaType(generics[i], types);
        return types.constructParametricType(raw, args);
    }
}
