package dev.once.spring;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/** The {@code once.cache.*} properties: defaults for every cache, and overrides per cache name. */
@ConfigurationProperties("once.cache")
public class OnceCacheProperties {
    /** Whether to auto-configure the once-cache CacheManager (false: Spring Boot's own cache choice applies). */
    private boolean enabled = true;

    /** The cache table, created on first use when missing (see create-table). */
    private String table = "once_entry";

    /** Whether to create the table when it is missing (CREATE TABLE IF NOT EXISTS). */
    private boolean createTable = true;

    /** How long a value stays fresh, by the database's clock. */
    private Duration ttl = Duration.ofMinutes(10);

    /** Serve an expired value this long after its TTL while exactly one replica refreshes it (0: off). */
    private Duration staleWhileRevalidate = Duration.ZERO;

    /** Cache a method's exception this long, so every replica gets it without calling again (0: off). */
    private Duration negativeTtl = Duration.ZERO;

    /** Entries kept in each replica's in-process near cache per cache (0: off). */
    private long nearCache;

    /** How long a leader's claim lasts without renewal: how long a crashed replica can keep others waiting. */
    private Duration lease = Duration.ofSeconds(5);

    /** The longest one statement on the cache table may take before the database counts as down. */
    private Duration storeTimeout = Duration.ofSeconds(1);

    /** While the database is down: call methods directly (true) or fail (false). */
    private boolean failOpen = true;

    /** Whether to wake waiters with PostgreSQL LISTEN/NOTIFY (false: polling, as on other databases). */
    private boolean notify = true;

    /** Whether null results are cached. */
    private boolean allowNullValues = true;

    /** Caches to create at startup (and bind to cache metrics). Others are created on first use unless dynamic is false. */
    private List<String> cacheNames = new ArrayList<>();

    /** Whether an unknown cache name creates a cache on first use. */
    private boolean dynamic = true;

    /**
     * Packages whose classes may be read back as values by caches without a configured type; default the
     * application's own packages (those of @SpringBootApplication). JDK value types are always allowed.
     */
    private List<String> allowedPackages = new ArrayList<>();

    /** Per-cache overrides, by cache name. */
    private Map<String, CacheSpec> caches = new LinkedHashMap<>();

    /** Overrides for one cache; unset values take the defaults above. */
    public static class CacheSpec {
        /** How long a value of this cache stays fresh. */
        private Duration ttl;

        /** This cache's stale-while-revalidate window. */
        private Duration staleWhileRevalidate;

        /** This cache's negative TTL. */
        private Duration negativeTtl;

        /** This cache's near-cache size. */
        private Long nearCache;

        /**
         * The type of every value of this cache, read whatever type a row names, e.g. com.example.Quote or
         * java.util.List&lt;com.example.Quote&gt;.
         */
        private String type;

        public Duration getTtl() {
            return ttl;
        }

        public void setTtl(Duration ttl) {
            this.ttl = ttl;
        }

        public Duration getStaleWhileRevalidate() {
            return staleWhileRevalidate;
        }

        public void setStaleWhileRevalidate(Duration staleWhileRevalidate) {
            this.staleWhileRevalidate = staleWhileRevalidate;
        }

        public Duration getNegativeTtl() {
            return negativeTtl;
        }

        public void setNegativeTtl(Duration negativeTtl) {
            this.negativeTtl = negativeTtl;
        }

        public Long getNearCache() {
            return nearCache;
        }

        public void setNearCache(Long nearCache) {
            this.nearCache = nearCache;
        }

        public String getType() {
            return type;
        }

        public void setType(String type) {
            this.type = type;
        }
    }

    public boolean isEnabled() {
        return enabled;
    }

    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public String getTable() {
        return table;
    }

    public void setTable(String table) {
        this.table = table;
    }

    public boolean isCreateTable() {
        return createTable;
    }

    public void setCreateTable(boolean createTable) {
        this.createTable = createTable;
    }

    public Duration getTtl() {
        return ttl;
    }

    public void setTtl(Duration ttl) {
        this.ttl = ttl;
    }

    public Duration getStaleWhileRevalidate() {
        return staleWhileRevalidate;
    }

    public void setStaleWhileRevalidate(Duration staleWhileRevalidate) {
        this.staleWhileRevalidate = staleWhileRevalidate;
    }

    public Duration getNegativeTtl() {
        return negativeTtl;
    }

    public void setNegativeTtl(Duration negativeTtl) {
        this.negativeTtl = negativeTtl;
    }

    public long getNearCache() {
        return nearCache;
    }

    public void setNearCache(long nearCache) {
        this.nearCache = nearCache;
    }

    public Duration getLease() {
        return lease;
    }

    public void setLease(Duration lease) {
        this.lease = lease;
    }

    public Duration getStoreTimeout() {
        return storeTimeout;
    }

    public void setStoreTimeout(Duration storeTimeout) {
        this.storeTimeout = storeTimeout;
    }

    public boolean isFailOpen() {
        return failOpen;
    }

    public void setFailOpen(boolean failOpen) {
        this.failOpen = failOpen;
    }

    public boolean isNotify() {
        return notify;
    }

    public void setNotify(boolean notify) {
        this.notify = notify;
    }

    public boolean isAllowNullValues() {
        return allowNullValues;
    }

    public void setAllowNullValues(boolean allowNullValues) {
        this.allowNullValues = allowNullValues;
    }

    public List<String> getCacheNames() {
        return cacheNames;
    }

    public void setCacheNames(List<String> cacheNames) {
        this.cacheNames = cacheNames;
    }

    public boolean isDynamic() {
        return dynamic;
    }

    public void setDynamic(boolean dynamic) {
        this.dynamic = dynamic;
    }

    public List<String> getAllowedPackages() {
        return allowedPackages;
    }

    public void setAllowedPackages(List<String> allowedPackages) {
        this.allowedPackages = allowedPackages;
    }

    public Map<String, CacheSpec> getCaches() {
        return caches;
    }

    public void setCaches(Map<String, CacheSpec> caches) {
        this.caches = caches;
    }
}
