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
    @Bean
    public OnceCacheMeterBinderProvider onceCacheMeterBinderProvider() {
        return new OnceCacheMeterBinderProvider();
    }
}
