package dev.once.examples.quotes;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.cache.annotation.EnableCaching;

/**
 * A quote service in front of a slow paid API. With once-spring-boot-starter on the class path and a
 * DataSource, {@code @Cacheable(sync = true)} loads each symbol once across every replica; profile
 * {@code local-cache} switches to Spring's ConcurrentMapCacheManager for comparison.
 */
@SpringBootApplication
@EnableCaching
public class QuotesApplication {
    public static void main(String[] args) {
        SpringApplication.run(QuotesApplication.class, args);
    }
}
