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
    /** The defaults listed on each property; Spring Boot binds {@code once.cache.*} onto them. */
    public OnceCacheProperties() {}

    /** Whether to auto-configure the once-cache CacheManager (false: Spring Boot's own cache choice applies). */
    private boolean enabled = true;

    /** The cache table, created on first use when missing (see create-table). */
    private String table = "once_entry";

    /**
     * What each cache's namespace in the table starts with; unset, the application's name and a colon
     * ({@code spring.application.name}), or nothing when that is unset too.
     */
    private String namespacePrefix;

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

    /** What the values in each near cache may weigh together, as stored (both this and near-cache bound it). */
    private org.springframework.util.unit.DataSize nearCacheMaxBytes =
            org.springframework.util.unit.DataSize.ofMegabytes(64);

    /** How long a leader's claim lasts without renewal: how long a crashed replica can keep others waiting. */
    private Duration lease = Duration.ofSeconds(5);

    /** The longest one statement on the cache table may take before the database counts as down. */
    private Duration storeTimeout = Duration.ofSeconds(1);

    /** While the database is down: call methods directly (true) or fail (false). */
    private boolean failOpen = true;

    /** Whether to wake waiters with PostgreSQL LISTEN/NOTIFY (false: polling, as on other databases). */
    private boolean notify = true;

    private boolean notifyValues = false;

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
        /** An override with nothing set: every value is the cache manager's default. */
        public CacheSpec() {}

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

        /**
         * This cache's freshness ({@code once.cache.caches.NAME.ttl}), or null for the default
         * {@code once.cache.ttl}.
         *
         * @return this cache's freshness
         */
        public Duration getTtl() {
            return ttl;
        }

        /**
         * Sets this cache's freshness.
         *
         * @param ttl this cache's freshness; null for the default
         */
        public void setTtl(Duration ttl) {
            this.ttl = ttl;
        }

        /**
         * This cache's stale-while-revalidate window, or null for the default.
         *
         * @return this cache's stale-while-revalidate window
         */
        public Duration getStaleWhileRevalidate() {
            return staleWhileRevalidate;
        }

        /**
         * Sets this cache's stale-while-revalidate window.
         *
         * @param staleWhileRevalidate this cache's stale-while-revalidate window; null for the default
         */
        public void setStaleWhileRevalidate(Duration staleWhileRevalidate) {
            this.staleWhileRevalidate = staleWhileRevalidate;
        }

        /**
         * How long this cache keeps a method's exception, or null for the default.
         *
         * @return how long this cache keeps a method's exception
         */
        public Duration getNegativeTtl() {
            return negativeTtl;
        }

        /**
         * Sets how long this cache keeps a method's exception.
         *
         * @param negativeTtl how long this cache keeps a method's exception; null for the default
         */
        public void setNegativeTtl(Duration negativeTtl) {
            this.negativeTtl = negativeTtl;
        }

        /**
         * The number of this cache's entries each replica keeps in memory, or null for the default.
         *
         * @return this cache's near-cache size
         */
        public Long getNearCache() {
            return nearCache;
        }

        /**
         * Sets this cache's near-cache size.
         *
         * @param nearCache the number of this cache's entries each replica keeps in memory; null for the
         *     default
         */
        public void setNearCache(Long nearCache) {
            this.nearCache = nearCache;
        }

        /**
         * The type every value of this cache is read as ({@code once.cache.caches.NAME.type}), or null to
         * check the type each row names against the allowed packages.
         *
         * @return the type of every value of this cache
         */
        public String getType() {
            return type;
        }

        /**
         * Sets the type of every value of this cache.
         *
         * @param type the canonical type of every value of this cache, e.g. {@code com.example.Quote} or
         *     {@code java.util.List<com.example.Quote>}; null or blank for none
         */
        public void setType(String type) {
            this.type = type;
        }
    }

    /**
     * Whether the once {@code CacheManager} is auto-configured ({@code once.cache.enabled}, default true).
     *
     * @return whether the once cache manager is auto-configured
     */
    public boolean isEnabled() {
        return enabled;
    }

    /**
     * Sets whether the once cache manager is auto-configured.
     *
     * @param enabled false to leave the choice of cache to Spring Boot (e.g. {@code spring.cache.type})
     */
    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    /**
     * What each cache's namespace starts with ({@code once.cache.namespace-prefix}): unset (null), the
     * application's name and a colon; empty, no prefix (caches of the same name shared with every
     * application on the table).
     *
     * @return the prefix, or null when unset
     */
    public String getNamespacePrefix() {
        return namespacePrefix;
    }

    /**
     * Sets what each cache's namespace starts with.
     *
     * @param namespacePrefix the prefix; empty for none
     */
    public void setNamespacePrefix(String namespacePrefix) {
        this.namespacePrefix = namespacePrefix;
    }

    /**
     * The cache table's name ({@code once.cache.table}, default {@code once_entry}).
     *
     * @return the cache table's name
     */
    public String getTable() {
        return table;
    }

    /**
     * Sets the cache table's name.
     *
     * @param table the cache table's name; every cache of the manager is a namespace in it
     */
    public void setTable(String table) {
        this.table = table;
    }

    /**
     * Whether the table is created on first use when missing ({@code once.cache.create-table}, default true).
     *
     * @return whether the table is created when missing
     */
    public boolean isCreateTable() {
        return createTable;
    }

    /**
     * Sets whether the table is created when missing.
     *
     * @param createTable false when the table comes from your migrations (the DDL ships in once-cache)
     */
    public void setCreateTable(boolean createTable) {
        this.createTable = createTable;
    }

    /**
     * How long a value stays fresh, by the database's clock ({@code once.cache.ttl}, default 10 minutes).
     *
     * @return the default freshness
     */
    public Duration getTtl() {
        return ttl;
    }

    /**
     * Sets the default freshness.
     *
     * @param ttl how long a value stays fresh in every cache without its own {@code ttl}
     */
    public void setTtl(Duration ttl) {
        this.ttl = ttl;
    }

    /**
     * How long an expired value is still served while one replica refreshes it
     * ({@code once.cache.stale-while-revalidate}, default 0: off).
     *
     * @return the default stale-while-revalidate window
     */
    public Duration getStaleWhileRevalidate() {
        return staleWhileRevalidate;
    }

    /**
     * Sets the default stale-while-revalidate window.
     *
     * @param staleWhileRevalidate the stale-while-revalidate window for every cache without its own; 0 for
     *     none
     */
    public void setStaleWhileRevalidate(Duration staleWhileRevalidate) {
        this.staleWhileRevalidate = staleWhileRevalidate;
    }

    /**
     * How long a method's exception is cached ({@code once.cache.negative-ttl}, default 0: exceptions are not
     * cached).
     *
     * @return the default time a method's exception is cached
     */
    public Duration getNegativeTtl() {
        return negativeTtl;
    }

    /**
     * Sets the default time a method's exception is cached.
     *
     * @param negativeTtl how long a method's exception is cached, so that other callers get it without
     *     calling again; 0 to cache none
     */
    public void setNegativeTtl(Duration negativeTtl) {
        this.negativeTtl = negativeTtl;
    }

    /**
     * The number of entries each replica keeps in memory per cache ({@code once.cache.near-cache}, default 0:
     * no near cache).
     *
     * @return the default near-cache size per cache
     */
    public long getNearCache() {
        return nearCache;
    }

    /**
     * Sets the default near-cache size per cache.
     *
     * @param nearCache the number of entries each replica keeps in memory per cache; 0 for none
     */
    public void setNearCache(long nearCache) {
        this.nearCache = nearCache;
    }

    /**
     * What the values in each near cache may weigh together, counted as stored ({@code
     * once.cache.near-cache-max-bytes}, default 64MB); with {@code near-cache}, both bounds hold.
     *
     * @return the near cache's bound in bytes, per cache
     */
    public org.springframework.util.unit.DataSize getNearCacheMaxBytes() {
        return nearCacheMaxBytes;
    }

    /**
     * Sets what each near cache's values may weigh.
     *
     * @param nearCacheMaxBytes at least one byte
     */
    public void setNearCacheMaxBytes(org.springframework.util.unit.DataSize nearCacheMaxBytes) {
        this.nearCacheMaxBytes = nearCacheMaxBytes;
    }

    /**
     * How long a leader's claim lasts without renewal ({@code once.cache.lease}, default 5 seconds).
     *
     * @return the claim lease
     */
    public Duration getLease() {
        return lease;
    }

    /**
     * Sets the claim lease.
     *
     * @param lease how long a leader's claim lasts without renewal: how long a crashed replica can keep the
     *     others waiting
     */
    public void setLease(Duration lease) {
        this.lease = lease;
    }

    /**
     * The longest one statement on the table may take, pool wait included, before it counts as an outage
     * ({@code once.cache.store-timeout}, default 1 second).
     *
     * @return the statement timeout on the cache table
     */
    public Duration getStoreTimeout() {
        return storeTimeout;
    }

    /**
     * Sets the statement timeout on the cache table.
     *
     * @param storeTimeout the longest one statement on the table may take, the wait for a pooled connection
     *     included; set it to what the database always answers within under your worst burst
     */
    public void setStoreTimeout(Duration storeTimeout) {
        this.storeTimeout = storeTimeout;
    }

    /**
     * Whether methods are called directly while the database is down ({@code once.cache.fail-open}, default
     * true).
     *
     * @return whether methods are called directly while the database is down
     */
    public boolean isFailOpen() {
        return failOpen;
    }

    /**
     * Sets whether methods are called directly while the database is down.
     *
     * @param failOpen true to call methods directly while the database is down, false to make them fail
     */
    public void setFailOpen(boolean failOpen) {
        this.failOpen = failOpen;
    }

    /**
     * Whether waiters are woken by PostgreSQL LISTEN/NOTIFY ({@code once.cache.notify}, default true).
     *
     * @return whether PostgreSQL LISTEN/NOTIFY wakes waiters
     */
    public boolean isNotify() {
        return notify;
    }

    /**
     * Sets whether PostgreSQL LISTEN/NOTIFY wakes waiters.
     *
     * @param notify false to poll instead of using LISTEN/NOTIFY (other databases always poll)
     */
    public void setNotify(boolean notify) {
        this.notify = notify;
    }

    /**
     * Whether a stored value is sent, sealed, with the NOTIFY that announces it, so that waiting
     * processes need not read it ({@code once.cache.notify-values}, default false; PostgreSQL with NOTIFY).
     *
     * @return whether values travel with their NOTIFY
     */
    public boolean isNotifyValues() {
        return notifyValues;
    }

    /**
     * Sets whether a stored value is sent, sealed, with its NOTIFY.
     *
     * @param notifyValues false to announce only the key; waiters then read the row (see once-cache's
     *     {@code OnceCacheBuilder.notifyValues})
     */
    public void setNotifyValues(boolean notifyValues) {
        this.notifyValues = notifyValues;
    }

    /**
     * Whether null results are cached ({@code once.cache.allow-null-values}, default true).
     *
     * @return whether null results are cached
     */
    public boolean isAllowNullValues() {
        return allowNullValues;
    }

    /**
     * Sets whether null results are cached.
     *
     * @param allowNullValues false to refuse null results as Spring's own caches do, with an
     *     {@link IllegalArgumentException}
     */
    public void setAllowNullValues(boolean allowNullValues) {
        this.allowNullValues = allowNullValues;
    }

    /**
     * The caches built at startup and bound to Spring Boot's cache metrics ({@code once.cache.cache-names});
     * the list itself, modifiable.
     *
     * @return the caches built at startup
     */
    public List<String> getCacheNames() {
        return cacheNames;
    }

    /**
     * Sets the caches built at startup.
     *
     * @param cacheNames the caches to build at startup; with {@code dynamic} false, the only caches there are
     */
    public void setCacheNames(List<String> cacheNames) {
        this.cacheNames = cacheNames;
    }

    /**
     * Whether an unknown cache name makes a cache on first use ({@code once.cache.dynamic}, default true).
     *
     * @return whether unknown cache names make caches
     */
    public boolean isDynamic() {
        return dynamic;
    }

    /**
     * Sets whether unknown cache names make caches.
     *
     * @param dynamic false to have only the caches in {@code cache-names}: other names get no cache
     */
    public void setDynamic(boolean dynamic) {
        this.dynamic = dynamic;
    }

    /**
     * The packages whose classes values may be read back as ({@code once.cache.allowed-packages}); empty
     * means the application's own packages; the list itself, modifiable.
     *
     * @return the packages values may be read back from
     */
    public List<String> getAllowedPackages() {
        return allowedPackages;
    }

    /**
     * Sets the packages values may be read back from.
     *
     * @param allowedPackages the packages (with their subpackages) whose classes values may be read back as,
     *     in caches without a configured type; empty for the application's own packages
     */
    public void setAllowedPackages(List<String> allowedPackages) {
        this.allowedPackages = allowedPackages;
    }

    /**
     * The per-cache overrides by cache name ({@code once.cache.caches.NAME.*}); the map itself, modifiable.
     *
     * @return the per-cache overrides
     */
    public Map<String, CacheSpec> getCaches() {
        return caches;
    }

    /**
     * Sets the per-cache overrides.
     *
     * @param caches the per-cache overrides by cache name
     */
    public void setCaches(Map<String, CacheSpec> caches) {
        this.caches = caches;
    }
}
