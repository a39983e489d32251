package dev.once.cli;

import com.zaxxer.hikari.HikariDataSource;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * One racecheck process. Speaks a line protocol on stdout: {@code ready} once connected, then after
 * {@code go} on stdin {@code progress OPS ERRORS} twice a second, {@code error MESSAGE} for the first
 * few errors, and {@code result OPS ERRORS ELAPSED_NANOS} at the end.
 */
public final class RacecheckWorker {
    private static final int ERRORS_SHOWN = 3;

    public static void main(String[] args) throws Exception {
        String url = args[0];
        String user = args[1].isEmpty() ? null : args[1];
        RaceStrategy strategy = RaceStrategy.valueOf(args[2]);
        int threads = Integer.parseInt(args[3]);
        int seconds = Integer.parseInt(args[4]);
        String table = args[5]; // this run's own (ScratchTables)
        Database db = Database.connect(url, user, System.getenv("ONCE_DB_PASSWORD"));
        LongAdder ops = new LongAdder();
        LongAdder errors = new LongAdder();
        AtomicInteger shown = new AtomicInteger();
        try (HikariDataSource pool = db.pool(threads)) {
            RaceStrategy.Op op = strategy.op(pool, table);
            op.run(-1); // connects and reads metadata before the race; -1 is never a timestamp
            System.out.println("ready");
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String go = in.readLine();
            if (!"go".equals(go)) return;
            // the command keeps stdin open while it follows the race: its end means the command is gone
            // (killed even with -9), and the race with it
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    while (in.read() != -1) {
                        // nothing else is sent
                    }
                } catch (java.io.IOException ignored) {
                    // the same: no command to report to
                }
                Runtime.getRuntime().halt(3);
            });
            long start = System.nanoTime();
            long deadline = start + seconds * 1_000_000_000L;
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                workers.add(Thread.ofPlatform().start(() -> {
                    while (System.nanoTime() < deadline) {
                        try {
                            op.run(System.currentTimeMillis());
                            ops.increment();
                        } catch (Exception e) {
                            errors.increment();
                            if (shown.incrementAndGet() <= ERRORS_SHOWN) {
                                System.out.println("error " + Errors.describe(e).replace('\n', ' '));
                            }
                        }
                    }
                }));
            }
            Thread progress = Thread.ofPlatform().daemon().start(() -> {
                while (true) {
                    try {
                        Thread.sleep(500);
                    } catch (InterruptedException e) {
                        return;
                    }
                    System.out.println("progress " + ops.sum() + " " + errors.sum());
                }
            });
            for (Thread w : workers) w.join();
            progress.interrupt();
            System.out.println("result " + ops.sum() + " " + errors.sum() + " " + (System.nanoTime() - start));
        }
    }
}
