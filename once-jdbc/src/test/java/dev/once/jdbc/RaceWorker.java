package dev.once.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One process of {@link MultiProcessGetOrCreateTest}: threads call getOrCreate on every key in
 * shuffled order, then the last line printed is {@code created=N errors=M}.
 */
public final class RaceWorker {
    public static void main(String[] args) throws Exception {
        String url = args[0];
        String table = args[1];
        int keys = Integer.parseInt(args[2]);
        int threads = Integer.parseInt(args[3]);
        long startAtMillis = Long.parseLong(args[4]);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setMaximumPoolSize(threads);
        AtomicInteger created = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        try (HikariDataSource pool = new HikariDataSource(config)) {
            Once once = Once.using(pool);
            once.getOrCreate(table, Map.of("k", "warm-up"), Map.of()); // metadata read before the race
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                List<Integer> order = new ArrayList<>();
                for (int k = 0; k < keys; k++) order.add(k);
                Collections.shuffle(order, new java.util.Random(t % 2));
                workers.add(Thread.ofPlatform().start(() -> {
                    sleepUntil(startAtMillis);
                    for (int k : order) {
                        try {
                            if (once.getOrCreate(table, Map.of("k", "key-" + k), () -> Map.of("v", k))
                                    .created()) {
                                created.incrementAndGet();
                            }
                        } catch (Exception e) {
                            errors.incrementAndGet();
                            e.printStackTrace();
                        }
                    }
                }));
            }
            for (Thread w : workers) w.join();
        }
        System.out.println("created=" + created.get() + " errors=" + errors.get());
    }

    private static void sleepUntil(long epochMillis) {
        long wait = epochMillis - System.currentTimeMillis();
        if (wait > 0) {
            try {
                Thread.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
