package dev.once.spring;

/**
 * Adjusts the auto-configured {@link OnceCacheManager} before it is built, after the {@code once.cache.*}
 * properties are applied: declare beans of this type for what properties do not cover (a once-cache
 * option such as {@code loadTimeout}, value types, your own Jackson 2 mapper).
 *
 * <pre>{@code
 * @Bean
 * OnceCacheManagerCustomizer quotesAsQuotes() {
 *     return builder -> builder.valueType("quotes", Quote.class)
 *             .configure("quotes", b -> b.loadTimeout(Duration.ofSeconds(30)));
 * }
 * }</pre>
 */
@FunctionalInterface
public interface OnceCacheManagerCustomizer {
    /**
     * Changes the builder before the manager is built; customizers run in their {@code @Order}.
     *
     * @param builder the builder, with the {@code once.cache.*} properties already applied: a setting
     *     made here overrides the property's, except that {@code cacheNames} and {@code allowedPackages}
     *     add to the configured ones, and that options for every cache are applied before the per-cache
     *     ones ({@code once.cache.caches.NAME.*} included)
     */
    void customize(OnceCacheManager.Builder builder);
}
