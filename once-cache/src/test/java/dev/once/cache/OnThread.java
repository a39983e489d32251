package dev.once.cache;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/** Work started on a thread of its own, its result or exception in a future. */
final class OnThread {
    private OnThread() {}

    static <T> CompletableFuture<T> call(Thread.Builder thread, Callable<T> work) {
        CompletableFuture<T> f = new CompletableFuture<>();
        thread.start(() -> {
            try {
                f.complete(work.call());
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return f;
    }
}
