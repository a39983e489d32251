package dev.once.cli.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/** Runs an operation in a loop on N threads for a while and reports operations per second. */
final class Throughput {
    private Throughput() {}

    interface Op {
        /** One operation; {@code thread} and {@code i} let it pick keys without sharing state. */
        void run(int thread, long i) throws Exception;
    }

    static double measure(int threads, long millis, Op op) throws Exception {
        LongAdder ops = new LongAdder();
        AtomicReference<Exception> failure = new AtomicReference<>();
        long deadline = System.nanoTime() + millis * 1_000_000;
        List<Thread> workers = new ArrayList<>();
        long start = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            workers.add(Thread.ofPlatform().start(() -> {
                long i = 0;
                while (System.nanoTime() < deadline && failure.get() == null) {
                    try {
                        op.run(thread, i++);
                        ops.increment();
                    } catch (Exception e) {
                        failure.compareAndSet(null, e);
                    }
                }
            }));
        }
        for (Thread w : workers) w.join();
        if (failure.get() != null) throw failure.get();
        return ops.sum() / ((System.nanoTime() - start) / 1e9);
    }
}
