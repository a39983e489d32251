package dev.once.cli.bench;

import dev.once.jdbc.Once;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * once-jdbc's getOrCreate against the database's own limit, each pair alternated in one run at equal
 * threads: existing keys against a plain prepared SELECT by the same unique key, new keys against a
 * plain {@code INSERT ... ON CONFLICT DO NOTHING}.
 */
final class JdbcBench {

    private final BenchTarget target;
    private final Settings settings;
    private final Pairs pairs;
    private final String product;
    private final java.util.Optional<PgBench> pgbench;

    JdbcBench(BenchTarget target, Settings settings, Pairs pairs, Results results) throws Exception {
        this.target = target;
        this.settings = settings;
        this.pairs = pairs;
        this.product = target.product();
        this.pgbench = PgBench.forTarget(target, settings, results);
    }

    void existing() throws Exception {
        String table = table(dev.once.cli.ScratchTables.named("once_bench_goc_hit"));
        Once once = Once.using(target.pool());
        for (int k = 0; k < Workload.HOT_KEYS; k++)
            once.getOrCreate(table, Map.of("k", "key-" + k), Map.of("v", Workload.VALUE));
        String select = "SELECT * FROM " + table + " WHERE k = ?";
        for (int threads : settings.threads()) {
            pairs.compare(
                    "getOrCreate, existing key",
                    threads,
                    "Once.getOrCreate, found",
                    "plain SELECT by unique key",
                    0.8,
                    (t, i) -> {
                        if (once.getOrCreate(
                                        table, Map.of("k", "key-" + Workload.hot(i, t)), Map.of("v", Workload.VALUE))
                                .created()) {
                            throw new IllegalStateException("a found row was expected");
                        }
                    },
                    (t, i) -> {
                        try (Connection c = target.pool().getConnection();
                                PreparedStatement ps = c.prepareStatement(select)) {
                            ps.setString(1, "key-" + Workload.hot(i, t));
                            try (ResultSet rs = ps.executeQuery()) {
                                if (!rs.next()) throw new IllegalStateException("row missing");
                            }
                        }
                    });
            if (pgbench.isPresent()) {
                pgbench.get()
                        .reference(
                                "getOrCreate, existing key",
                                threads,
                                "SELECT by unique key",
                                "\\set n random(0, " + (Workload.HOT_KEYS - 1) + ")\n" + "SELECT * FROM " + table
                                        + " WHERE k = 'key-' || :n;\n");
            }
        }
        drop(table);
    }

    void created() throws Exception {
        String table = table(dev.once.cli.ScratchTables.named("once_bench_goc_new"));
        Once once = Once.using(target.pool());
        for (int threads : settings.threads()) {
            String run = Integer.toString(ThreadLocalRandom.current().nextInt(1_000_000), 36) + "-" + threads;
            pairs.compare(
                    "getOrCreate, new key",
                    threads,
                    "Once.getOrCreate, created",
                    "plain INSERT ON CONFLICT DO NOTHING",
                    0.8,
                    (t, i) -> once.getOrCreate(
                            table, Map.of("k", Workload.fresh("o", run, t, i)), Map.of("v", Workload.VALUE)),
                    Workload.plainInsert(target, table, run));
            if (pgbench.isPresent()) {
                pgbench.get()
                        .reference(
                                "getOrCreate, new key",
                                threads,
                                "INSERT ON CONFLICT DO NOTHING",
                                "INSERT INTO " + table + " (k, v) VALUES ('pgbench-' || gen_random_uuid(), '"
                                        + Workload.VALUE + "') ON CONFLICT (k) DO NOTHING;\n");
            }
        }
        drop(table);
    }

    private String table(String name) throws Exception {
        String id = product.contains("postgres")
                ? "id BIGSERIAL PRIMARY KEY"
                : product.contains("sqlite")
                        ? "id INTEGER PRIMARY KEY AUTOINCREMENT"
                        : "id BIGINT AUTO_INCREMENT PRIMARY KEY";
        try (Connection c = target.pool().getConnection();
                Statement s = c.createStatement()) {
            s.execute("DROP TABLE IF EXISTS " + name);
            s.execute("CREATE TABLE " + name + " (" + id + ", k VARCHAR(100) NOT NULL UNIQUE, v VARCHAR(200))");
        }
        target.created(name);
        return name;
    }

    private void drop(String table) throws Exception {
        try (Connection c = target.pool().getConnection();
                Statement s = c.createStatement()) {
            s.execute("DROP TABLE " + table);
        }
        target.dropped(table);
    }
}
