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
    /** Instantiated by Spring Boot's auto-configuration. */
    public OnceCacheHealthAutoConfiguration() {}

    /**
     * The {@code once} health indicator, unless the application defines a bean named
     * {@code onceHealthIndicator}; switched off with {@code management.health.once.enabled=false}.
     *
     * @param manager the auto-configured cache manager, whose table and caches are checked
     * @param properties read for {@code notify} and {@code store-timeout}: the probe waits
     *     {@code store-timeout} + 1 s for the table
     * @return the health indicator
     */
    @Bean
    @ConditionalOnMissingBean(name = "onceHealthIndicator")
    public OnceCacheHealthIndicator onceHealthIndicator(OnceCacheManager manager, OnceCacheProperties properties) {
        return new OnceCacheHealthIndicator(
                manager, properties.isNotify(), OnceCacheAutoConfiguration.healthTimeout(properties));
    }
}
