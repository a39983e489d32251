package dev.once.spring;

import dev.once.cache.OnceCache;
import dev.once.cache.OnceCacheBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurationPackages;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.cache.CacheManager;
import org.springframework.cache.annotation.AnnotationCacheOperationSource;
import org.springframework.cache.interceptor.CacheOperationSource;
import org.springframework.context.annotation.Bean;

/**
 * A {@link OnceCacheManager} on the application's {@link DataSource}, unless the application defines
 * its own {@link CacheManager}, has no single DataSource, or sets {@code once.cache.enabled=false}.
 * Runs before Spring Boot's cache auto-configuration, which then backs off.
 */
@AutoConfiguration(
        afterName = "org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration",
        beforeName = "org.springframework.boot.cache.autoconfigure.CacheAutoConfiguration")
@ConditionalOnClass({CacheManager.class, OnceCache.class})
@ConditionalOnSingleCandidate(DataSource.class)
@ConditionalOnMissingBean(CacheManager.class)
@ConditionalOnProperty(prefix = "once.cache", name = "enabled", havingValue = "true", matchIfMissing = true)
@EnableConfigurationProperties(OnceCacheProperties.class)
public class OnceCacheAutoConfiguration {
    /** Instantiated by Spring Boot's auto-configuration. */
    public OnceCacheAutoConfiguration() {}

    /**
     * {@code once.cache.namespace-prefix}, or the application's name and a colon: caches are shared by
     * namespace across everything on the table, and two applications on one database with a cache of the
     * same name read each other's values (helper-62); replicas of one application share their name.
     */
    static String namespacePrefix(
            OnceCacheProperties properties, org.springframework.core.env.Environment environment) {
        if (properties.getNamespacePrefix() != null) return properties.getNamespacePrefix();
        String name = environment.getProperty("spring.application.name");
        return name == null || name.isBlank() ? "" : name.strip() + ":";
    }

    /**
     * The application's {@code CacheManager}: the {@code once.cache.*} properties applied to
     * {@link OnceCacheManager#builder}, then every {@link OnceCacheManagerCustomizer} bean in order. Its
     * once-cache meters go to the application's {@link MeterRegistry} when there is one. Spring closes it
     * with the context, which closes its caches.
     *
     * @param dataSource the database holding the cache table (the application's single DataSource)
     * @param properties the {@code once.cache.*} properties
     * @param customizers the application's customizers, applied after the properties
     * @param meterRegistry the registry for once-cache's meters, if Micrometer is configured
     * @param beanFactory where the application's packages (the default allowed packages) and class loader
     *     are found
     * @param environment where {@code spring.application.name}, the default namespace prefix, is read
     * @return the cache manager, with the caches in {@code once.cache.cache-names} already built
     * @throws IllegalArgumentException naming the property and its value if a property is refused (a
     *     duration that must be positive, a negative size, a table name that is not letters, digits and _,
     *     a {@code once.cache.caches.NAME.type} that is not a type Jackson can parse), or if a customizer
     *     gives an {@code ObjectMapper} with default typing on
     */
    @Bean
    public OnceCacheManager cacheManager(
            DataSource dataSource,
            OnceCacheProperties properties,
            ObjectProvider<OnceCacheManagerCustomizer> customizers,
            ObjectProvider<MeterRegistry> meterRegistry,
            BeanFactory beanFactory,
            org.springframework.core.env.Environment environment) {
        String prefix = namespacePrefix(properties, environment);
        // every cache's, dynamic ones included, before any is made
        PropertyCheck.check(properties, dataSource, prefix);
        OnceCacheManager.Builder builder = OnceCacheManager.builder(dataSource)
                .table(properties.getTable())
                .namespacePrefix(prefix)
                .dynamic(properties.isDynamic())
                .allowNullValues(properties.isAllowNullValues())
                .failOpen(properties.isFailOpen())
                .cacheNames(properties.getCacheNames().toArray(String[]::new))
                .allowedPackages(allowedPackages(properties, beanFactory).toArray(String[]::new));
        ClassLoader classLoader =
                beanFactory instanceof org.springframework.beans.factory.config.ConfigurableBeanFactory c
                                && c.getBeanClassLoader() != null
                        ? c.getBeanClassLoader()
                        : Thread.currentThread().getContextClassLoader();
        builder.classLoader(classLoader);
        MeterRegistry registry = meterRegistry.getIfAvailable();
        builder.configure(b -> {
            b.createTable(properties.isCreateTable())
                    .ttl(properties.getTtl())
                    .staleWhileRevalidate(properties.getStaleWhileRevalidate())
                    .negativeTtl(properties.getNegativeTtl())
                    .nearCache(properties.getNearCache())
                    .nearCacheMaxBytes(properties.getNearCacheMaxBytes().toBytes())
                    .lease(properties.getLease())
                    .storeTimeout(properties.getStoreTimeout())
                    .failOpen(properties.isFailOpen())
                    .notify(properties.isNotify())
                    .notifyValues(properties.isNotifyValues());
            if (registry != null) b.meterRegistry(registry);
        });
        properties.getCaches().forEach((name, spec) -> {
            builder.configure(name, b -> apply(spec, b));
            if (spec.getType() != null && !spec.getType().isBlank()) {
                builder.valueType(name, PropertyCheck.type(name, spec.getType(), classLoader));
            }
        });
        customizers.orderedStream().forEach(c -> c.customize(builder));
        return builder.build();
    }

    /**
     * Learns each cache's value type from the {@code @Cacheable}/{@code @CachePut} methods that use it,
     * once every singleton exists (see {@code DeclaredValueTypes}).
     *
     * @param beanFactory the beans whose classes are scanned
     * @param sources Spring's {@code CacheOperationSource} ({@code @EnableCaching}'s), else the annotations
     * @param manager the cache manager told the types
     * @return the learner, run by Spring after the singletons are instantiated
     */
    @Bean
    static SmartInitializingSingleton onceCacheDeclaredValueTypes(
            ListableBeanFactory beanFactory,
            ObjectProvider<CacheOperationSource> sources,
            ObjectProvider<OnceCacheManager> manager) {
        return () -> {
            OnceCacheManager m = manager.getIfUnique();
            if (m == null) return;
            CacheOperationSource source = sources.getIfUnique(AnnotationCacheOperationSource::new);
            m.declareValueTypes(new DeclaredValueTypes(beanFactory, source).scan());
        };
    }

    private static void apply(OnceCacheProperties.CacheSpec spec, OnceCacheBuilder<?> b) {
        if (spec.getTtl() != null) b.ttl(spec.getTtl());
        if (spec.getStaleWhileRevalidate() != null) b.staleWhileRevalidate(spec.getStaleWhileRevalidate());
        if (spec.getNegativeTtl() != null) b.negativeTtl(spec.getNegativeTtl());
        if (spec.getNearCache() != null) b.nearCache(spec.getNearCache());
    }

    /** The configured packages, else the application's own (those of {@code @SpringBootApplication}). */
    private static List<String> allowedPackages(OnceCacheProperties properties, BeanFactory beanFactory) {
        if (!properties.getAllowedPackages().isEmpty()) return properties.getAllowedPackages();
        List<String> packages = new ArrayList<>();
        if (AutoConfigurationPackages.has(beanFactory)) packages.addAll(AutoConfigurationPackages.get(beanFactory));
        return packages;
    }

    static Duration healthTimeout(OnceCacheProperties properties) {
        return properties.getStoreTimeout().plusSeconds(1);
    }
}
