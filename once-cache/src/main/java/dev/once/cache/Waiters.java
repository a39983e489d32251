package dev.once.cache;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Wake-up signals for keys whose value another process is producing. A waiter takes the key's signal
 * <em>before</em> it reads the row, so a wake-up that arrives between the read and the wait is not lost.
 * A signal completes with null (read the row) or with a {@link SealedValue} payload (open it, else read).
 */
final class Waiters {
    private final ConcurrentHashMap<String, CompletableFuture<String>> signals = new ConcurrentHashMap<>();

    CompletableFuture<String> signal(String keyHash) {
        return signals.computeIfAbsent(keyHash, k -> new CompletableFuture<>());
    }

    /** Ends a resolution's interest in the key's signal, so finished keys leave no futures behind. */
    interface Done extends AutoCloseable {
        @Override
        void close();
    }

    void forget(String keyHash) {
        signals.remove(keyHash);
    }

    void wake(String keyHash) {
        deliver(keyHash, null);
    }

    /** Wakes the key's waiter with a sealed value it may be able to open. */
    void deliver(String keyHash, String payload) {
        CompletableFuture<String> s = signals.remove(keyHash);
        if (s != null) s.complete(payload);
    }

    /** After a listener reconnects, notifications may have been missed: every waiter re-reads. */
    void wakeAll() {
        for (String k : signals.keySet()) wake(k);
    }

    /**
     * Waits for the key's signal or the timeout, whichever comes first; at the timeout the signal is
     * completed and forgotten, as a wake-up is (the caller reads the row, then takes a new one). The
     * timeout is a {@link StoreBreaker.Alarm}, not a timed wait: each timed wait on a virtual thread woke
     * the JDK's delay-scheduler thread twice.
     */
    void await(String keyHash, CompletableFuture<String> signal, long timeoutMillis) throws InterruptedException {
        StoreBreaker.Alarm timeout = StoreBreaker.Alarm.running(
                () -> {
                    signals.remove(keyHash, signal);
                    signal.complete(null);
                },
                System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(1, timeoutMillis)));
        try {
            signal.get();
        } catch (ExecutionException ignored) {
            // time to re-read the row
        } finally {
            timeout.disarm();
        }
    }
}
