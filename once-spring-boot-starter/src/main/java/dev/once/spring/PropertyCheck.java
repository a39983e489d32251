package dev.once.spring;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.type.TypeFactory;
import dev.once.cache.OnceCache;
import dev.once.cache.OnceCacheBuilder;
import java.util.function.Consumer;
import javax.sql.DataSource;

/**
 * Checks the {@code once.cache.*} properties when the cache manager is made, every cache's included,
 * so a bad value fails the application's startup naming the property and the value, instead of failing
 * every call of a cache made on first use. The checks are once-cache's own: each value is given to a
 * scratch {@link OnceCacheBuilder}, which refuses what it would refuse for a real cache (nothing is
 * built, the database is not touched).
 */
final class PropertyCheck {
    private final OnceCacheBuilder<byte[]> scratch;

    private PropertyCheck(DataSource dataSource) {
        scratch = OnceCache.builder(dataSource);
    }

    /**
     * Throws {@link IllegalArgumentException} naming the first bad property and its value; every cache's
     * namespace is checked under {@code namespacePrefix}.
     */
    static void check(OnceCacheProperties p, DataSource dataSource, String namespacePrefix) {
        PropertyCheck c = new PropertyCheck(dataSource);
        c.value("once.cache.table", p.getTable(), b -> b.table(p.getTable()));
        if (!namespacePrefix.isEmpty())
            c.value(
                    "once.cache.namespace-prefix (or spring.application.name)",
                    namespacePrefix,
                    b -> b.namespace(namespacePrefix));
        c.value("once.cache.ttl", p.getTtl(), b -> b.ttl(p.getTtl()));
        c.value(
                "once.cache.stale-while-revalidate",
                p.getStaleWhileRevalidate(),
                b -> b.staleWhileRevalidate(p.getStaleWhileRevalidate()));
        c.value("once.cache.negative-ttl", p.getNegativeTtl(), b -> b.negativeTtl(p.getNegativeTtl()));
        c.value("once.cache.near-cache", p.getNearCache(), b -> b.nearCache(p.getNearCache()));
        c.value(
                "once.cache.near-cache-max-bytes",
                p.getNearCacheMaxBytes(),
                b -> b.nearCacheMaxBytes(p.getNearCacheMaxBytes().toBytes()));
        c.value("once.cache.lease", p.getLease(), b -> b.lease(p.getLease()));
        c.value("once.cache.store-timeout", p.getStoreTimeout(), b -> b.storeTimeout(p.getStoreTimeout()));
        for (String name : p.getCacheNames())
            c.value("once.cache.cache-names", name, b -> b.namespace(namespacePrefix + name));
        p.getCaches().forEach((name, spec) -> {
            String prefix = "once.cache.caches." + name + ".";
            c.value(prefix + "*", name, b -> b.namespace(namespacePrefix + name));
            if (spec.getTtl() != null) c.value(prefix + "ttl", spec.getTtl(), b -> b.ttl(spec.getTtl()));
            if (spec.getStaleWhileRevalidate() != null)
                c.value(
                        prefix + "stale-while-revalidate",
                        spec.getStaleWhileRevalidate(),
                        b -> b.staleWhileRevalidate(spec.getStaleWhileRevalidate()));
            if (spec.getNegativeTtl() != null)
                c.value(prefix + "negative-ttl", spec.getNegativeTtl(), b -> b.negativeTtl(spec.getNegativeTtl()));
            if (spec.getNearCache() != null)
                c.value(prefix + "near-cache", spec.getNearCache(), b -> b.nearCache(spec.getNearCache()));
        });
    }

    /** A configured value type, parsed (and its classes loaded: the application named them). */
    static JavaType type(String cache, String type, ClassLoader classLoader) {
        try {
            return TypeFactory.defaultInstance().withClassLoader(classLoader).constructFromCanonical(type.strip());
        } catch (IllegalArgumentException e) {
            throw refused("once.cache.caches." + cache + ".type", type, e);
        }
    }

    private void value(String property, Object value, Consumer<OnceCacheBuilder<byte[]>> apply) {
        try {
            apply.accept(scratch);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw refused(property, value, e);
        }
    }

    private static IllegalArgumentException refused(String property, Object value, RuntimeException e) {
        return new IllegalArgumentException(property + " = " + value + " is refused: " + e.getMessage(), e);
    }
}
