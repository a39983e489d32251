package dev.once.spring;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.binder.cache.CacheMeterBinder;
import org.springframework.boot.cache.metrics.CacheMeterBinderProvider;

/**
 * Spring Boot's cache metrics ({@code cache.gets{result=hit|miss}}, {@code cache.puts},
 * {@code cache.evictions}) for once caches, counted by {@link OnceSpringCache}: a hit is any answer that
 * did not call the method (from the table, the near cache, another caller's load, or stale). The
 * once-cache meters ({@code once.cache.*}) are registered with the same registry besides.
 */
public final class OnceCacheMeterBinderProvider implements CacheMeterBinderProvider<OnceSpringCache> {
    /** Instantiated by {@link OnceCacheMetricsAutoConfiguration}. */
    public OnceCacheMeterBinderProvider() {}

    @Override
    public MeterBinder getMeterBinder(OnceSpringCache cache, Iterable<Tag> tags) {
        return new CacheMeterBinder<>(cache, cache.getName(), tags) {
            @Override
            protected Long size() {
                return null; // the table's row count is not read for a gauge
            }

            @Override
            protected long hitCount() {
                return cache.hits.sum();
            }

            @Override
            protected Long missCount() {
                return cache.misses.sum();
            }

            @Override
            protected Long evictionCount() {
                return cache.evictions.sum();
            }

            @Override
            protected long putCount() {
                return cache.puts.sum();
            }

            @Override
            protected void bindImplementationSpecificMetrics(MeterRegistry registry) {}
        };
    }
}
