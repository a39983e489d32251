package dev.once.cache;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One process of the cross-process tests. Every loader call is appended to a file before it runs, so
 * calls are counted outside the JVM (and survive a kill -9). Modes:
 *
 * <ul>
 *   <li>{@code race URL NS KEYS THREADS LOADER_MS CALLS_FILE START_AT_MS NOTIFY}: each thread gets every
 *       key in its own shuffled order; prints {@code errors=N wrong=M} last.
 *   <li>{@code hang URL NS KEY CALLS_FILE LEASE_MS}: leads the key with a loader that never returns, to be killed.
 * </ul>
 */
public final class CacheWorker {
    public static void main(String[] args) throws Exception {
        String mode = args[0];
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(args[1]);
        config.setMaximumPoolSize(20);
        try (HikariDataSource pool = new HikariDataSource(config)) {
            if (mode.equals("hang")) hang(pool, args);
            else race(pool, args);
        }
    }

    private static void race(HikariDataSource pool, String[] args) throws Exception {
        String namespace = args[2];
        int keys = Integer.parseInt(args[3]);
        int threads = Integer.parseInt(args[4]);
        long loaderMillis = Long.parseLong(args[5]);
        Path calls = Path.of(args[6]);
        long startAt = Long.parseLong(args[7]);
        boolean notify = Boolean.parseBoolean(args[8]);
        AtomicInteger errors = new AtomicInteger();
        AtomicInteger wrong = new AtomicInteger();
        try (FileChannel log = FileChannel.open(
                        calls, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace(namespace)
                        .codec(Codec.string())
                        .notify(notify)
                        .build()) {
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                List<Integer> order = new ArrayList<>();
                for (int k = 0; k < keys; k++) order.add(k);
                Collections.shuffle(order, new Random(t));
                workers.add(Thread.ofPlatform().start(() -> {
                    sleepUntil(startAt);
                    for (int k : order) {
                        try {
                            String v = cache.get("key-" + k, () -> {
                                record(log, "key-" + k);
                                Thread.sleep(loaderMillis);
                                return "value-" + k;
                            });
                            if (!v.equals("value-" + k)) wrong.incrementAndGet();
                        } catch (Exception e) {
                            errors.incrementAndGet();
                            e.printStackTrace();
                        }
                    }
                }));
            }
            for (Thread w : workers) w.join();
        }
        System.out.println("errors=" + errors.get() + " wrong=" + wrong.get());
    }

    private static void hang(HikariDataSource pool, String[] args) throws Exception {
        try (FileChannel log = FileChannel.open(
                        Path.of(args[4]),
                        StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND,
                        StandardOpenOption.WRITE);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace(args[2])
                        .codec(Codec.string())
                        .lease(Duration.ofMillis(Long.parseLong(args[5])))
                        .build()) {
            cache.get(args[3], () -> {
                record(log, args[3]);
                Thread.sleep(Long.MAX_VALUE);
                return "never";
            });
        }
    }

    static synchronized void record(FileChannel log, String key) throws java.io.IOException {
        log.write(java.nio.ByteBuffer.wrap((key + "\n").getBytes(StandardCharsets.UTF_8)));
        log.force(false);
    }

    private static void sleepUntil(long epochMillis) {
        long wait = epochMillis - System.currentTimeMillis();
        if (wait <= 0) return;
        try {
            Thread.sleep(wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
