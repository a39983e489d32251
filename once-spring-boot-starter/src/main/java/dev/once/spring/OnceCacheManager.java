package dev.once.spring;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.jsontype.impl.LaissezFaireSubTypeValidator;
import com.fasterxml.jackson.databind.type.TypeFactory;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.once.cache.OnceCache;
import dev.once.cache.OnceCacheBuilder;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.springframework.cache.CacheManager;

/**
 * A Spring {@link CacheManager} whose caches are {@link OnceCache} namespaces in one SQL table: a
 * {@code @Cacheable(sync = true)} method runs once per key across every replica that shares the
 * database.
 *
 * <pre>{@code
 * OnceCacheManager manager = OnceCacheManager.builder(dataSource)
 *         .configure(b -> b.ttl(Duration.ofMinutes(10)))                  // every cache
 *         .configure("quotes", b -> b.ttl(Duration.ofHours(1)).nearCache(10_000))
 *         .allowedPackages("com.example")                                // value types it may read back
 *         .build();
 * }</pre>
 *
 * Caches are built on first use (or at {@link Builder#build()} for {@link Builder#cacheNames}), each
 * with its settings frozen then. A cache whose database cannot be reached then is not an error: it
 * fails open (see {@link Builder#failOpen}) and starts when the database answers again. Close the manager to close its caches (Spring does, for a bean).
 */
public final class OnceCacheManager implements CacheManager, AutoCloseable {
    private final Builder config;
    private final ConcurrentHashMap<String, OnceSpringCache> caches = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, ValueCodec.Declared> declaredTypes = new ConcurrentHashMap<>();
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private volatile boolean closed;

    private OnceCacheManager(Builder config) {
        this.config = config;
        for (String name : config.cacheNames) getCache(name);
    }

    /**
     * A builder for a manager without Spring Boot (the auto-configuration uses it too).
     *
     * @param dataSource the database holding the cache table: PostgreSQL, MariaDB or SQLite
     * @return a builder with the defaults: table {@code once_entry}, dynamic caches, nulls cached, the
     *     starter's own Jackson 2 mapper
     * @throws NullPointerException if {@code dataSource} is null
     */
    public static Builder builder(DataSource dataSource) {
        return new Builder(dataSource);
    }

    /**
     * The named cache, built on first use; null for a name not in {@link Builder#cacheNames} when the
     * manager is not {@link Builder#dynamic}.
     */
    @Override
    public OnceSpringCache getCache(String name) {
        OnceSpringCache c = caches.get(name);
        if (c != null) return c;
        if (!config.dynamic && !config.cacheNames.contains(name)) return null;
        if (closed) throw new IllegalStateException("the OnceCacheManager is closed");
        return caches.computeIfAbsent(name, this::create);
    }

    @Override
    public Collection<String> getCacheNames() {
        return Collections.unmodifiableSet(new LinkedHashSet<>(caches.keySet()));
    }

    /**
     * The caches built so far (by {@link Builder#cacheNames} or on first use).
     *
     * @return a copy, in no particular order
     */
    public Collection<OnceSpringCache> caches() {
        return List.copyOf(caches.values());
    }

    /**
     * The table every cache of this manager is a namespace in.
     *
     * @return the table's name, as given to {@link Builder#table}
     */
    public String table() {
        return config.table;
    }

    DataSource dataSource() {
        return config.dataSource;
    }

    private OnceSpringCache create(String name) {
        OnceCacheBuilder<byte[]> b = OnceCache.builder(config.dataSource).namespace(config.namespacePrefix + name);
        b.table(config.table);
        for (Consumer<OnceCacheBuilder<?>> c : config.everyCache) c.accept(b);
        for (Consumer<OnceCacheBuilder<?>> c : config.perCache.getOrDefault(name, List.of())) c.accept(b);
        ValueCodec codec = new ValueCodec(
                name,
                config.objectMapper,
                config.valueTypes.get(name),
                declaredTypes,
                config.allowed,
                config.classLoader);
        OnceCacheBuilder<Object> typed = b.codec(codec);
        CacheStart start = new CacheStart(name, typed::build, executor);
        return new OnceSpringCache(name, start, codec, config.allowNullValues, config.failOpen, executor);
    }

    /**
     * The value types the application's methods declare, by cache name ({@link DeclaredValueTypes}); a
     * configured type ({@link Builder#valueType}) wins over them.
     */
    void declareValueTypes(Map<String, JavaType> types) {
        types.forEach((name, type) -> {
            if (!config.valueTypes.containsKey(name)) declaredTypes.put(name, ValueCodec.Declared.of(type));
        });
    }

    /** Closes every cache: their background threads stop and their running loads release their claims. */
    @Override
    public void close() {
        closed = true;
        for (OnceSpringCache c : caches.values()) c.close();
        executor.shutdown();
    }

    /** Settings of a {@link OnceCacheManager}, frozen at {@link #build()}. */
    public static final class Builder {
        private final DataSource dataSource;
        private String table = "once_entry";
        private String namespacePrefix = "";
        private final List<Consumer<OnceCacheBuilder<?>>> everyCache = new ArrayList<>();
        private final Map<String, List<Consumer<OnceCacheBuilder<?>>>> perCache = new LinkedHashMap<>();
        private final Map<String, JavaType> valueTypes = new LinkedHashMap<>();
        private final Set<String> cacheNames = new LinkedHashSet<>();
        private final List<String> allowedPackages = new ArrayList<>();
        private boolean dynamic = true;
        private boolean allowNullValues = true;
        private boolean failOpen = true;
        private ObjectMapper objectMapper;
        private ClassLoader classLoader = Thread.currentThread().getContextClassLoader();
        private AllowedTypes allowed;
        private boolean built;

        private Builder(DataSource dataSource) {
            this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
        }

        /**
         * The cache table (default {@code once_entry}), created on first use unless told not to
         * ({@code configure(b -> b.createTable(false))}).
         *
         * @param table the table's name
         * @return this builder
         * @throws NullPointerException if {@code table} is null
         * @throws IllegalStateException if the manager is built already
         */
        public Builder table(String table) {
            unbuilt();
            this.table = Objects.requireNonNull(table, "table");
            return this;
        }

        /**
         * What each cache's namespace in the table starts with (default none: a cache's namespace is its
         * name). Caches are shared by namespace across everything that uses the table, so two applications
         * (or dev and prod) on one database with a cache of the same name read each other's values unless
         * their prefixes differ; the auto-configuration sets {@code spring.application.name + ":"}.
         *
         * @param prefix the prefix, empty for none
         * @return this builder
         * @throws NullPointerException if {@code prefix} is null
         * @throws IllegalStateException if the manager is built already
         */
        public Builder namespacePrefix(String prefix) {
            unbuilt();
            this.namespacePrefix = Objects.requireNonNull(prefix, "prefix");
            return this;
        }

        /**
         * once-cache options for every cache ({@code ttl}, {@code lease}, {@code storeTimeout}, ...). The
         * namespace, table and codec are the manager's.
         *
         * @param options applied to each cache's {@link OnceCacheBuilder} when the cache is built, in the
         *     order given
         * @return this builder
         * @throws NullPointerException if {@code options} is null
         * @throws IllegalStateException if the manager is built already
         */
        public Builder configure(Consumer<OnceCacheBuilder<?>> options) {
            unbuilt();
            everyCache.add(Objects.requireNonNull(options));
            return this;
        }

        /**
         * once-cache options for one cache, applied after those for every cache.
         *
         * @param cacheName the cache's name (its namespace in the table, after the namespace prefix)
         * @param options applied to that cache's {@link OnceCacheBuilder} when it is built
         * @return this builder
         * @throws NullPointerException if {@code options} is null
         * @throws IllegalStateException if the manager is built already
         */
        public Builder configure(String cacheName, Consumer<OnceCacheBuilder<?>> options) {
            unbuilt();
            perCache.computeIfAbsent(cacheName, n -> new ArrayList<>()).add(Objects.requireNonNull(options));
            return this;
        }

        /**
         * Reads every value of the cache as this type, whatever type a row names; the type need not be
         * in the allowed packages.
         *
         * @param cacheName the cache's name
         * @param type the class of every value of that cache
         * @return this builder
         * @throws IllegalStateException if the manager is built already
         */
        public Builder valueType(String cacheName, Class<?> type) {
            unbuilt();
            return valueType(cacheName, TypeFactory.defaultInstance().constructType(type));
        }

        /**
         * As {@link #valueType(String, Class)}, for a generic type (e.g. {@code List<Quote>}, from
         * Jackson's {@code TypeFactory}).
         *
         * @param cacheName the cache's name
         * @param type the Jackson type of every value of that cache
         * @return this builder
         * @throws NullPointerException if {@code type} is null
         * @throws IllegalStateException if the manager is built already
         */
        public Builder valueType(String cacheName, JavaType type) {
            unbuilt();
            valueTypes.put(cacheName, Objects.requireNonNull(type));
            return this;
        }

        /**
         * Packages whose classes a cache without a configured type may read back from a row (and their
         * subpackages). JDK value types (String, numbers, UUID, List, Set, Map) are always allowed.
         *
         * @param packages package names, e.g. {@code com.example}; added to those given before, null and
         *     blank ones skipped
         * @return this builder
         * @throws IllegalStateException if the manager is built already
         */
        public Builder allowedPackages(String... packages) {
            unbuilt();
            for (String p : packages) {
                if (p == null || p.isBlank()) continue;
                allowedPackages.add(p.strip());
            }
            return this;
        }

        /**
         * Caches built at {@link #build()}; with {@code dynamic(false)} the only ones there are.
         *
         * @param names cache names, added to those given before
         * @return this builder
         * @throws IllegalStateException if the manager is built already
         */
        public Builder cacheNames(String... names) {
            unbuilt();
            cacheNames.addAll(List.of(names));
            return this;
        }

        /**
         * Whether an unknown name makes a new cache (default true).
         *
         * @param dynamic false to make {@link OnceCacheManager#getCache} return null for a name not in
         *     {@link #cacheNames}
         * @return this builder
         * @throws IllegalStateException if the manager is built already
         */
        public Builder dynamic(boolean dynamic) {
            unbuilt();
            this.dynamic = dynamic;
            return this;
        }

        /**
         * Whether null results are cached (default true, as Spring's own caches).
         *
         * @param allow false to make {@code get(key, loader)} throw {@link IllegalArgumentException} when
         *     the loader returns null
         * @return this builder
         * @throws IllegalStateException if the manager is built already
         */
        public Builder allowNullValues(boolean allow) {
            unbuilt();
            this.allowNullValues = allow;
            return this;
        }

        /**
         * Whether a cache that cannot be started, because the database cannot be reached, calls methods
         * directly (default true) or fails, as a started cache does in an outage. Give the same to
         * {@code configure(b -> b.failOpen(...))} for started caches; the auto-configuration sets both
         * from {@code once.cache.fail-open}.
         *
         * @param failOpen false to make calls on a cache that has not started throw its start's failure
         * @return this builder
         * @throws IllegalStateException if the manager is built already
         */
        public Builder failOpen(boolean failOpen) {
            unbuilt();
            this.failOpen = failOpen;
            return this;
        }

        /**
         * The Jackson 2 mapper for values (default: a {@code JsonMapper} with java.time support, dates as
         * ISO text). Never enable default typing on it: rows would then name classes to instantiate. A
         * mapper with Jackson's default (laissez-faire) polymorphic type validator is copied with the
         * starter's, which lets {@code @JsonTypeInfo(use = CLASS)} name only JDK value types and classes
         * in the allowed packages.
         *
         * @param mapper the mapper every cache of the manager writes and reads values with
         * @return this builder
         * @throws NullPointerException if {@code mapper} is null
         * @throws IllegalStateException if the manager is built already
         */
        public Builder objectMapper(ObjectMapper mapper) {
            unbuilt();
            this.objectMapper = Objects.requireNonNull(mapper);
            return this;
        }

        /**
         * Where value classes are loaded from (default the context class loader at creation).
         *
         * @param classLoader the loader for the classes rows name (after the allowed-packages check)
         * @return this builder
         * @throws NullPointerException if {@code classLoader} is null
         * @throws IllegalStateException if the manager is built already
         */
        public Builder classLoader(ClassLoader classLoader) {
            unbuilt();
            this.classLoader = Objects.requireNonNull(classLoader);
            return this;
        }

        /** Settings are frozen at build(): a later change would reach the caches built after it only. */
        private void unbuilt() {
            if (built) throw new IllegalStateException("the manager is built; its settings cannot change");
        }

        /**
         * Builds the manager, and in it the caches named by {@link #cacheNames}; the settings are frozen
         * from then on.
         *
         * @return the manager; close it to close its caches
         * @throws IllegalStateException if this builder built a manager already
         * @throws IllegalArgumentException if the {@link #objectMapper} has default typing on
         */
        public OnceCacheManager build() {
            if (built) throw new IllegalStateException("build() was called already: a builder makes one manager");
            built = true;
            allowed = new AllowedTypes(allowedPackages);
            if (objectMapper == null) {
                objectMapper = JsonMapper.builder()
                        .addModule(new JavaTimeModule())
                        .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                        .polymorphicTypeValidator(allowed.validator())
                        .build();
            } else if (objectMapper.getPolymorphicTypeValidator() instanceof LaissezFaireSubTypeValidator) {
                // Jackson's default lets @JsonTypeInfo(use = CLASS) in a row name any class: hold it to ours
                objectMapper = objectMapper.copy().setPolymorphicTypeValidator(allowed.validator());
            }
            if (objectMapper.getDeserializationConfig().getDefaultTyper(objectMapper.constructType(Object.class))
                    != null) {
                throw new IllegalArgumentException("the ObjectMapper for once caches has default typing on: rows"
                        + " could then name any class to instantiate. Give the cache manager a mapper without it");
            }
            return new OnceCacheManager(this);
        }
    }
}
