package dev.once.spring;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/** The {@code once} health indicator, with Spring Boot's health support on the class path. */
@AutoConfiguration(after = OnceCacheAutoConfiguration.class)
@ConditionalOnClass(HealthIndicator.class)
@ConditionalOnBean(OnceCacheManager.class)
@ConditionalOnEnabledHealthIndicator("once")
public class OnceCacheHealthAutoConfiguration {
    @Bean
    @ConditionalOnMissingBean(name = "onceHealthIndicator")
    public OnceCacheHealthIndicator onceHealthIndicator(OnceCacheManager manager, OnceCacheProperties properties) {
        return new OnceCacheHealthIndicator(
                manager, properties.isNotify(), OnceCacheAutoConfiguration.healthTimeout(properties));
    }
}
