package dev.once.cli;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.cli.demo.Demo;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code once demo}: the problem and the fix side by side, self-contained. */
@Command(
        name = "demo",
        header = "Cache-aside, ON CONFLICT DO NOTHING and Once side by side, self-contained.",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        usageHelpWidth = 100,
        description = {
            "Shows, on this machine and without network, what identical concurrent requests cost",
            "with three ways of caching a paid API in a SQL database. It starts a simulated paid API",
            "(counts its calls), an embedded PostgreSQL and N replicas per strategy, fires bursts of",
            "identical requests spread over the replicas (users double-clicking), and prints one table:",
            "  cache-aside         SELECT, miss, call the API, INSERT",
            "  on-conflict         the same with INSERT ... ON CONFLICT DO NOTHING",
            "  once                once serve replicas sharing the database",
            ""
        })
final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--keys", defaultValue = "30", description = "Distinct requests (default: ${DEFAULT-VALUE}).")
    int keys;

    @Option(
            names = "--burst",
            defaultValue = "12",
            description = "Identical requests per key, at once (default: ${DEFAULT-VALUE}).")
    int burst;

    @Option(
            names = "--replicas",
            defaultValue = "3",
            description = "Replicas per strategy (default: ${DEFAULT-VALUE}).")
    int replicas;

    @Option(
            names = "--latency-ms",
            defaultValue = "100",
            description = "The API's latency (default: ${DEFAULT-VALUE}).")
    long latencyMillis;

    @Option(names = "--verbose", description = "Print stack traces of failures.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        Ranges.check(spec, "--keys", keys, 1, 1000);
        Ranges.check(spec, "--burst", burst, 1, 200);
        Ranges.check(spec, "--replicas", replicas, 1, 16);
        Ranges.check(spec, "--latency-ms", latencyMillis, 0, 10_000);
        PrintWriter out = spec.commandLine().getOut();
        out.println("once demo: starting an embedded PostgreSQL ...");
        out.flush();
        try (Database database = Database.embeddedPostgres();
                HikariDataSource admin = database.pool(4)) {
            new Demo(database.url, database.user, admin, out).run(keys, burst, replicas, latencyMillis);
        }
        return 0;
    }
}
