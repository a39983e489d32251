package dev.once.cli.bench;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.once.cache.Codec;
import dev.once.cache.OnceCache;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One process of the waiter benchmark. Line protocol: prints {@code ready}; for each {@code burst KEY}
 * on stdin it starts CALLERS concurrent gets of KEY with a LOADER_MS loader and prints {@code done KEY
 * LOADER_CALLS MICROS...}, each caller's latency from the moment the line arrived.
 */
public final class BenchWorker {
    public static void main(String[] args) throws Exception {
        String url = args[0];
        String namespace = args[1];
        int callers = Integer.parseInt(args[2]);
        long loaderMillis = Long.parseLong(args[3]);
        boolean notify = Boolean.parseBoolean(args[4]);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setMaximumPoolSize(callers + 2);
        String password = System.getenv("ONCE_DB_PASSWORD");
        if (password != null) config.setPassword(password);
        try (HikariDataSource pool = new HikariDataSource(config);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace(namespace)
                        .codec(Codec.string())
                        .notify(notify)
                        .build()) {
            cache.get("warm-up", () -> "x");
            System.out.println("ready");
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null && line.startsWith("burst ")) {
                long start = System.nanoTime();
                String key = line.substring(6);
                AtomicInteger loads = new AtomicInteger();
                List<CompletableFuture<Long>> calls = new ArrayList<>();
                for (int c = 0; c < callers; c++) {
                    calls.add(CompletableFuture.supplyAsync(
                            () -> {
                                cache.get(key, () -> {
                                    loads.incrementAndGet();
                                    Thread.sleep(loaderMillis);
                                    return "value";
                                });
                                return (System.nanoTime() - start) / 1_000;
                            },
                            r -> Thread.ofVirtual().start(r)));
                }
                StringJoiner out = new StringJoiner(" ", "done " + key + " ", "");
                List<Long> micros = new ArrayList<>();
                for (CompletableFuture<Long> f : calls) micros.add(f.join());
                out.add(String.valueOf(loads.get()));
                for (long m : micros) out.add(String.valueOf(m));
                System.out.println(out);
            }
        }
    }
}
