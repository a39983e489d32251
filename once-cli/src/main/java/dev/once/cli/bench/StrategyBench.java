package dev.once.cli.bench;

import dev.once.cache.OnceCache;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What each way of keeping a paid answer costs when identical requests arrive together: K keys, C
 * callers per key released at once, a 100 ms loader that counts its calls. The usual code (select,
 * miss, call, insert) with and without a unique index, the same with {@code ON CONFLICT DO NOTHING},
 * and once-cache.
 */
final class StrategyBench {
    private static final long LOADER_MILLIS = 100;

    private interface Strategy {
        void get(String key, Loader loader) throws Exception;
    }

    private interface Rows {
        long count(String run) throws SQLException;
    }

    private interface Loader {
        String call() throws InterruptedException;
    }

    private final BenchTarget target;
    private final Settings settings;
    private final Results results;

    StrategyBench(BenchTarget target, Settings settings, Results results) {
        this.target = target;
        this.settings = settings;
        this.results = results;
    }

    void run(int keys, int callersPerKey) throws Exception {
        String naive = dev.once.cli.ScratchTables.named("once_bench_strategy_naive");
        String unique = dev.once.cli.ScratchTables.named("once_bench_strategy_unique");
        String ignoring = dev.once.cli.ScratchTables.named("once_bench_strategy_ignore");
        try (Connection c = target.pool().getConnection();
                Statement s = c.createStatement()) {
            for (String t : List.of(naive, unique, ignoring)) s.execute("DROP TABLE IF EXISTS " + t);
            s.execute("CREATE TABLE " + naive + " (k VARCHAR(100) NOT NULL, v VARCHAR(200))");
            s.execute("CREATE INDEX " + naive + "_k ON " + naive + " (k)");
            s.execute("CREATE TABLE " + unique + " (k VARCHAR(100) PRIMARY KEY, v VARCHAR(200))");
            s.execute("CREATE TABLE " + ignoring + " (k VARCHAR(100) PRIMARY KEY, v VARCHAR(200))");
        }
        for (String t : List.of(naive, unique, ignoring)) target.created(t);
        try {
            measure(
                    "select, call, insert (no unique index)",
                    keys,
                    callersPerKey,
                    cacheAside(naive, plain(naive)),
                    rows(naive));
            measure(
                    "select, call, insert (unique key)",
                    keys,
                    callersPerKey,
                    cacheAside(unique, plain(unique)),
                    rows(unique));
            measure(
                    "select, call, INSERT ... ON CONFLICT DO NOTHING",
                    keys,
                    callersPerKey,
                    cacheAside(ignoring, target.insertIgnoringDuplicate(ignoring)),
                    rows(ignoring));
            String ns = "bench-strategy-" + ThreadLocalRandom.current().nextInt(1_000_000);
            try (OnceCache<String> cache = Workload.cache(target, ns, true, 0)) {
                measure(
                        "once-cache",
                        keys,
                        callersPerKey,
                        (key, loader) -> cache.get(key, loader::call),
                        run -> count("SELECT COUNT(*) FROM once_entry WHERE namespace = ?", ns));
            }
        } finally {
            try (Connection c = target.pool().getConnection();
                    Statement s = c.createStatement()) {
                for (String t : List.of(naive, unique, ignoring)) s.execute("DROP TABLE IF EXISTS " + t);
            }
            for (String t : List.of(naive, unique, ignoring)) target.dropped(t);
        }
    }

    private static String plain(String table) {
        return "INSERT INTO " + table + " (k, v) VALUES (?, ?)";
    }

    /** The usual code: read; on a miss call the API, then write the answer with the given insert. */
    private Strategy cacheAside(String table, String insert) {
        String select = "SELECT v FROM " + table + " WHERE k = ?";
        return (key, loader) -> {
            try (Connection c = target.pool().getConnection();
                    PreparedStatement ps = c.prepareStatement(select)) {
                ps.setString(1, key);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) return;
                }
            }
            String value = loader.call();
            try (Connection c = target.pool().getConnection();
                    PreparedStatement ps = c.prepareStatement(insert)) {
                ps.setString(1, key);
                ps.setString(2, value);
                ps.executeUpdate();
            }
        };
    }

    private Rows rows(String table) {
        return run -> count("SELECT COUNT(*) FROM " + table + " WHERE k LIKE ?", "strategy-" + run + "-%");
    }

    private void measure(String name, int keys, int callers, Strategy strategy, Rows stored) throws Exception {
        settings.progress("strategies: %s, %d keys x %d callers at once ...", name, keys, callers);
        AtomicLong calls = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        Loader loader = () -> {
            calls.incrementAndGet();
            Thread.sleep(LOADER_MILLIS);
            return Workload.VALUE;
        };
        String run = Integer.toString(ThreadLocalRandom.current().nextInt(1_000_000), 36);
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int k = 0; k < keys; k++) {
            String key = "strategy-" + run + "-" + k;
            for (int c = 0; c < callers; c++) {
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        start.await();
                        strategy.get(key, loader);
                    } catch (SQLException e) {
                        errors.incrementAndGet(); // the duplicate-key errors users see
                    } catch (Exception e) {
                        errors.incrementAndGet();
                    }
                }));
            }
        }
        start.countDown();
        for (Thread t : threads) t.join();
        results.strategies.add(new Results.Strategy(name, keys, callers, calls.get(), stored.count(run), errors.get()));
    }

    /** The rows a strategy stored: a one-parameter COUNT query. */
    private long count(String query, String parameter) throws SQLException {
        try (Connection c = target.pool().getConnection();
                PreparedStatement ps = c.prepareStatement(query)) {
            ps.setString(1, parameter);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}
