package dev.once.cache;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renews a leader's lease every third of its length while the loader runs, so a live leader never
 * loses its claim and a dead one loses it within one lease. A renewal that finds the lease gone (taken
 * over after a stall, or purged) marks it lost; the leader's final write is then fenced off.
 */
final class LeaseKeeper implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LeaseKeeper.class);

    interface Renewal {
        boolean renew() throws Exception;
    }

    /** A lease being kept; stop it when the loader returns. */
    static final class Held {
        private final AtomicBoolean lost = new AtomicBoolean();
        private ScheduledFuture<?> task;

        boolean lost() {
            return lost.get();
        }

        void stop() {
            if (task != null) task.cancel(false);
        }
    }

    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("once-cache-leases").unstarted(r));
    private final long periodMillis;

    LeaseKeeper(long leaseMillis) {
        this.periodMillis = Math.max(1, leaseMillis / 3);
    }

    Held keep(Renewal renewal) {
        Held held = new Held();
        held.task = scheduler.scheduleAtFixedRate(
                () -> {
                    try {
                        if (!renewal.renew()) {
                            held.lost.set(true);
                            held.stop();
                        }
                    } catch (Exception e) {
                        log.warn("once-cache could not renew a lease ({}); will try again", e.getMessage());
                    }
                },
                periodMillis,
                periodMillis,
                TimeUnit.MILLISECONDS);
        return held;
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
