package dev.once.cache;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One process of {@link CheckerTest}: threads asking for random keys until a deadline, through a cache
 * whose loader answers {@code KEY#VERSION}. Each loader call and each answer is written to a file as it
 * happens (the OS keeps it through a kill -9), for the checker to judge afterwards:
 *
 * <pre>
 * calls file: KEY VALUE START_MS
 * gets file:  KEY VALUE|! START_MS END_MS SOURCE|ERROR_TEXT
 * </pre>
 *
 * Arguments: URL NAMESPACE SEED UNTIL_MS CALLS_FILE GETS_FILE NOTIFY KEYS.
 */
public final class CheckerWorker {
    /** Far longer than the checker's purge bound, so a purge that does not reach a near cache shows. */
    static final Duration TTL = Duration.ofSeconds(30);

    public static void main(String[] args) throws Exception {
        String url = args[0];
        String namespace = args[1];
        long seed = Long.parseLong(args[2]);
        long until = Long.parseLong(args[3]);
        boolean notify = Boolean.parseBoolean(args[6]);
        int keys = Integer.parseInt(args[7]);
        String self = Long.toString(ProcessHandle.current().pid());
        AtomicLong versions = new AtomicLong();
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setMaximumPoolSize(8);
        config.setInitializationFailTimeout(-1);
        try (HikariDataSource pool = new HikariDataSource(config);
                FileChannel calls = open(args[4]);
                FileChannel gets = open(args[5]);
                OnceCache<String> cache = OnceCache.builder(pool)
                        .namespace(namespace)
                        .codec(Codec.string())
                        .ttl(TTL)
                        .nearCache(1_000)
                        .notify(notify)
                        .build()) {
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Random random = new Random(seed * 31 + t);
                threads.add(Thread.ofPlatform().start(() -> {
                    while (System.currentTimeMillis() < until) {
                        String key = "k" + random.nextInt(keys);
                        long loadMillis = 20 + random.nextInt(130);
                        long start = System.currentTimeMillis();
                        String line;
                        try {
                            CacheResult<String> r = cache.lookup(key, () -> {
                                String value = key + "#" + self + "-" + versions.incrementAndGet();
                                write(calls, key + " " + value + " " + System.currentTimeMillis());
                                Thread.sleep(loadMillis);
                                return value;
                            });
                            line = key + " " + r.value() + " " + start + " " + System.currentTimeMillis() + " "
                                    + r.source();
                        } catch (RuntimeException e) {
                            line = key + " ! " + start + " " + System.currentTimeMillis() + " "
                                    + String.valueOf(e.getMessage()).replace('\n', ' ');
                        }
                        write(gets, line);
                        sleep(random.nextInt(20));
                    }
                }));
            }
            for (Thread t : threads) t.join();
        }
        System.out.println("done");
    }

    private static FileChannel open(String file) throws IOException {
        return FileChannel.open(
                Path.of(file), StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }

    private static void write(FileChannel channel, String line) {
        try {
            channel.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
