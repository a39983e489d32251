package dev.once.spring;

import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.cache.metrics.CacheMeterBinderProvider;
import org.springframework.context.annotation.Bean;

/** Binds once caches to Spring Boot's cache metrics when Micrometer and spring-boot-cache are present. */
@AutoConfiguration(after = OnceCacheAutoConfiguration.class)
@ConditionalOnClass({MeterRegistry.class, CacheMeterBinderProvider.class})
@ConditionalOnBean(OnceCacheManager.class)
public class OnceCacheMetricsAutoConfiguration {
    /** Instantiated by Spring Boot's auto-configuration. */
    public OnceCacheMetricsAutoConfiguration() {}

    /**
     * The binder Spring Boot's cache metrics use for {@link OnceSpringCache}s: the caches that exist at
     * startup ({@code once.cache.cache-names}) are bound, as for Spring Boot's other cache managers.
     *
     * @return the meter binder provider for once caches
     */
    @Bean
    public OnceCacheMeterBinderProvider onceCacheMeterBinderProvider() {
        return new OnceCacheMeterBinderProvider();
    }
}
