package dev.once.spring;

import dev.once.cache.Bypass;
import dev.once.cache.CacheLoadException;
import dev.once.cache.CacheResult;
import dev.once.cache.OnceCache;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.cache.Cache;
import org.springframework.cache.support.SimpleValueWrapper;

/**
 * A Spring {@link Cache} over one {@link OnceCache} namespace (the cache's name after the manager's namespace prefix).
 *
 * <p><b>What goes through the claim protocol.</b> {@link #get(Object, Callable)} (what
 * {@code @Cacheable(sync = true)} calls) and {@link #retrieve(Object, Supplier)} (its async form, for
 * {@code CompletableFuture} and reactive methods) load each key once across every process that shares
 * the table. {@link #putIfAbsent} is a claim too. {@link #get(Object)} only reads: {@code @Cacheable}
 * without {@code sync} calls {@code get}, then the method, then {@code put}, so concurrent misses each
 * call the method; no cache can coalesce that sequence.
 *
 * <p><b>Values.</b> JSON ({@link ValueCodec}); null values are stored when {@code allowNullValues}. A
 * value that cannot be written as JSON is logged at ERROR naming the cache and the type, and handed to
 * its caller uncached (the key is marked pass-through for {@value #PASS_SECONDS} s, so waiters load for
 * themselves instead of queueing). A row this cache refuses to read (a type outside the allowlist) is
 * a miss: logged, purged and loaded again.
 *
 * <p><b>put.</b> {@link #put} is {@link OnceCache#put}, an unconditional write: it replaces whatever
 * is stored and wins over a load of the same key running anywhere at that moment (that load's callers
 * get its value; everyone after the put gets the put value). A value that cannot be stored purges the
 * key instead, so the older value is not served either. It is immediate, as Spring allows.
 *
 * <p><b>Before it has started.</b> While the database cannot be reached to start the cache
 * ({@link CacheStart}), it acts as a started cache in an outage: fail-open, methods are called
 * directly, reads miss and writes are dropped; fail-closed, every operation throws the start's
 * {@link CacheLoadException}.
 */
public final class OnceSpringCache implements Cache {
    private static final Logger log = LoggerFactory.getLogger(OnceSpringCache.class);
    static final int PASS_SECONDS = 30;

    private final String name;
    private final CacheStart start;
    private final ValueCodec codec;
    private final boolean allowNullValues;
    private final boolean failOpen;
    private final ExecutorService executor;
    final LongAdder hits = new LongAdder();
    final LongAdder misses = new LongAdder();
    final LongAdder puts = new LongAdder();
    final LongAdder evictions = new LongAdder();

    OnceSpringCache(
            String name,
            CacheStart start,
            ValueCodec codec,
            boolean allowNullValues,
            boolean failOpen,
            ExecutorService executor) {
        this.name = name;
        this.start = start;
        this.codec = codec;
        this.allowNullValues = allowNullValues;
        this.failOpen = failOpen;
        this.executor = executor;
    }

    @Override
    public String getName() {
        return name;
    }

    /**
     * The {@link OnceCache} underneath, for its own API ({@code lookup}, {@code storeAvailable}); null
     * while it cannot be started because the database cannot be reached (see {@link CacheStart}).
     */
    @Override
    public OnceCache<Object> getNativeCache() {
        return start.cache();
    }

    /** Closes the cache underneath, or stops trying to start it. */
    void close() {
        start.close();
    }

    /**
     * Whether this cache stores null results ({@code once.cache.allow-null-values}).
     *
     * @return true if a null result is cached; false if {@code get(key, loader)} throws
     *     {@link IllegalArgumentException} for one, as Spring's own caches do
     */
    public boolean isAllowNullValues() {
        return allowNullValues;
    }

    @Override
    public ValueWrapper get(Object key) {
        Optional<Object> stored = stored(KeyText.of(name, key));
        if (stored.isEmpty()) {
            misses.increment();
            return null;
        }
        hits.increment();
        return new SimpleValueWrapper(stored.get() == ValueCodec.NULL ? null : stored.get());
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T get(Object key, Class<T> type) {
        ValueWrapper w = get(key);
        Object value = w == null ? null : w.get();
        if (value != null && type != null && !type.isInstance(value)) {
            throw new IllegalStateException("Cached value is not of required type [" + type.getName() + "]: "
                    + value.getClass().getName());
        }
        return (T) value;
    }

    /** The fresh value stored for the key (NULL for a cached null), without loading. */
    private Optional<Object> stored(String text) {
        OnceCache<Object> cache = started();
        if (cache == null) return Optional.empty();
        Optional<CacheResult<Object>> r = cache.peek(text);
        if (r.isEmpty() || r.get().source() == CacheResult.Source.STALE) return Optional.empty();
        Object v = r.get().value();
        if (v instanceof ValueCodec.Encoded e) v = e.value() == null ? ValueCodec.NULL : e.value();
        if (v instanceof ValueCodec.Unreadable u) {
            unreadable(cache, text, u);
            return Optional.empty();
        }
        return Optional.of(v);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T get(Object key, Callable<T> valueLoader) {
        String text = KeyText.of(name, key);
        OnceCache<Object> cache = started();
        if (cache == null) return direct(key, valueLoader);
        Throwable[] thrown = new Throwable[1];
        try {
            return (T) load(cache, text, recording(valueLoader, thrown));
        } catch (CacheLoadException e) {
            throw new ValueRetrievalException(key, valueLoader, loaderFailure(e, thrown[0]));
        }
    }

    /** The loader, its result encoded, and what it threw kept in {@code thrown} (unwrapped from a future's join). */
    private Callable<ValueCodec.Encoded> recording(Callable<?> loader, Throwable[] thrown) {
        return () -> {
            Object value;
            try {
                value = loader.call();
            } catch (Exception | Error e) {
                thrown[0] = e instanceof CompletionException ce && ce.getCause() != null ? ce.getCause() : e;
                throw e;
            }
            return encoded(value);
        };
    }

    /**
     * What a failed lookup hands Spring: the loader's own exception (this caller's, or, unchecked, the one
     * this process's leading caller got, which Spring's aspect unwraps into the method's exception), else
     * the cache's {@link CacheLoadException} (another process's failure, a cached failure, the store).
     */
    private static Throwable loaderFailure(CacheLoadException e, Throwable mine) {
        Throwable cause = e.getCause();
        if (cause instanceof CompletionException ce && ce.getCause() != null) cause = ce.getCause();
        if (cause instanceof NullRefused n) throw n.refusal;
        if (cause != null && (cause == mine || cause instanceof RuntimeException || cause instanceof Error))
            return cause;
        return e;
    }

    /** A lookup through the claim protocol, unwrapped to the value (null for a cached null). */
    private Object load(OnceCache<Object> cache, String text, Callable<ValueCodec.Encoded> loader) {
        CacheResult<Object> r = claim(cache, text, loader);
        count(r);
        return unwrap(r.value());
    }

    /**
     * {@link OnceCache#lookup}; a row this cache refuses to read is purged and the key looked up once more.
     * A second refusal in a row (someone keeps writing such rows) is an error, never a value.
     */
    private CacheResult<Object> claim(OnceCache<Object> cache, String text, Callable<ValueCodec.Encoded> loader) {
        CacheResult<Object> r = cache.lookup(text, loader::call);
        if (!(r.value() instanceof ValueCodec.Unreadable u)) return r;
        unreadable(cache, text, u);
        r = cache.lookup(text, loader::call);
        if (r.value() instanceof ValueCodec.Unreadable again)
            throw new IllegalStateException("cache '" + name + "': the stored value of key " + text
                    + " is not read, twice in a row: " + again.reason());
        return r;
    }

    @Override
    public CompletableFuture<?> retrieve(Object key) {
        String text = KeyText.of(name, key); // refused keys throw here, in the caller's thread
        return CompletableFuture.supplyAsync(
                () -> {
                    Optional<Object> stored = stored(text);
                    if (stored.isEmpty()) {
                        misses.increment();
                        return null;
                    }
                    hits.increment();
                    Object v = stored.get() == ValueCodec.NULL ? null : stored.get();
                    return allowNullValues ? new SimpleValueWrapper(v) : v;
                },
                executor);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> CompletableFuture<T> retrieve(Object key, Supplier<CompletableFuture<T>> valueLoader) {
        String text = KeyText.of(name, key);
        OnceCache<Object> cache = started();
        if (cache == null) {
            if (!failOpen) return CompletableFuture.failedFuture(start.failure());
            misses.increment();
            return valueLoader.get();
        }
        return CompletableFuture.supplyAsync(
                () -> {
                    Throwable[] thrown = new Throwable[1];
                    try {
                        return (T) load(
                                cache, text, recording(() -> valueLoader.get().join(), thrown));
                    } catch (CacheLoadException e) {
                        throw new CompletionException(loaderFailure(e, thrown[0]));
                    }
                },
                executor);
    }

    @Override
    public void put(Object key, Object value) {
        String text = KeyText.of(name, key);
        OnceCache<Object> cache = started();
        if (cache == null) return; // nothing stored here yet, and nowhere to store it
        ValueCodec.Encoded encoded;
        try {
            encoded = encoded(value);
        } catch (Bypass b) {
            cache.purge(text); // the method's newer result cannot be stored: at least stop serving the older one
            return;
        }
        cache.put(text, encoded);
        puts.increment();
    }

    @Override
    public ValueWrapper putIfAbsent(Object key, Object value) {
        String text = KeyText.of(name, key);
        OnceCache<Object> cache = started();
        if (cache == null) return null;
        ValueCodec.Encoded encoded;
        try {
            encoded = encoded(value);
        } catch (Bypass b) {
            return null;
        }
        CacheResult<Object> r = claim(cache, text, () -> encoded);
        return switch (r.source()) {
            case MISS, BYPASS -> {
                puts.increment();
                yield null;
            }
            default -> {
                hits.increment();
                yield new SimpleValueWrapper(unwrap(r.value()));
            }
        };
    }

    @Override
    public void evict(Object key) {
        String text = KeyText.of(name, key);
        OnceCache<Object> cache = started();
        if (cache == null) return;
        cache.purge(text);
        evictions.increment();
    }

    @Override
    public boolean evictIfPresent(Object key) {
        String text = KeyText.of(name, key);
        OnceCache<Object> cache = started();
        if (cache == null) return false;
        boolean present = cache.peek(text).isPresent();
        cache.purge(text);
        if (present) evictions.increment();
        return present;
    }

    @Override
    public void clear() {
        OnceCache<Object> cache = started();
        if (cache != null) cache.purgeAll();
    }

    /** Purges every key at once; returns false: whether any was present is not determined. */
    @Override
    public boolean invalidate() {
        clear();
        return false;
    }

    /**
     * The loaded value encoded for storing. Null is refused unless allowed; a value that cannot be
     * stored goes back to its caller through a {@link Bypass}, with an ERROR naming the cache and type.
     */
    private ValueCodec.Encoded encoded(Object value) {
        if (value == null && !allowNullValues) {
            throw new NullRefused(new IllegalArgumentException("Cache '" + name
                    + "' is configured to not allow null values but null was provided"
                    + " (once.cache.allow-null-values)"));
        }
        try {
            return codec.encodeValue(value);
        } catch (IllegalArgumentException e) {
            log.error("{}; the value is returned to its caller and not cached", e.getMessage(), e);
            throw new Bypass(value, Duration.ofSeconds(PASS_SECONDS));
        }
    }

    /**
     * The started cache; null while it cannot be started and this cache fails open (the caller then
     * acts as a started cache does in an outage). Fail-closed, that throws the start's failure.
     */
    private OnceCache<Object> started() {
        OnceCache<Object> cache = start.cache();
        if (cache == null && !failOpen) throw start.failure();
        return cache;
    }

    /** The method called directly, as a started cache calls it in an outage when failing open. */
    @SuppressWarnings("unchecked")
    private <T> T direct(Object key, Callable<T> valueLoader) {
        misses.increment();
        try {
            return valueLoader.call();
        } catch (Exception e) {
            throw new ValueRetrievalException(key, valueLoader, e);
        }
    }

    private void count(CacheResult<Object> r) {
        switch (r.source()) {
            case MISS, BYPASS -> misses.increment();
            default -> hits.increment();
        }
        if (r.source() == CacheResult.Source.MISS) puts.increment();
    }

    private static Object unwrap(Object v) {
        if (v instanceof ValueCodec.Encoded e) return e.value();
        return v == ValueCodec.NULL ? null : v;
    }

    private void unreadable(OnceCache<Object> cache, String keyText, ValueCodec.Unreadable u) {
        log.error(
                "cache '{}': the stored value of key {} is not read ({}); it is purged and loaded again",
                name,
                keyText,
                u.reason());
        try {
            cache.purge(keyText);
        } catch (RuntimeException e) {
            log.warn("cache '{}': could not purge the unreadable key {}: {}", name, keyText, e.getMessage());
        }
    }

    /** A null where nulls are not allowed: Spring's caches throw the IllegalArgumentException itself. */
    private static final class NullRefused extends RuntimeException {
        final IllegalArgumentException refusal;

        NullRefused(IllegalArgumentException refusal) {
            super(refusal.getMessage(), null, false, false);
            this.refusal = refusal;
        }
    }
}
