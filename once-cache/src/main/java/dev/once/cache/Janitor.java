package dev.once.cache;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes expired, unleased rows in batches of {@value #BATCH}, each its own short statement, so no
 * long lock is ever held and the table does not grow without bound; on PostgreSQL it first analyzes the
 * table when autovacuum will not ({@link EntryStore#analyzeIfStale}).
 */
final class Janitor implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Janitor.class);
    static final int BATCH = 500;

    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("once-cache-janitor").unstarted(r));

    Janitor(EntryStore store, Duration interval, long graceMillis) {
        long period = interval.toMillis();
        long firstDelay = period / 2 + (long) (Math.random() * period / 2); // replicas spread out
        scheduler.scheduleWithFixedDelay(
                () -> {
                    try {
                        store.analyzeIfStale();
                        int deleted;
                        do {
                            deleted = store.deleteExpired(graceMillis, BATCH);
                        } while (deleted == BATCH && !Thread.currentThread().isInterrupted());
                    } catch (Exception e) {
                        log.debug("once-cache cleanup skipped: {}", e.getMessage());
                    }
                },
                firstDelay,
                period,
                TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
