package dev.once.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The seed experiment as a tool: several processes loop get-or-create of "the current time in ms"
 * against one table, then the table is searched for values stored more than once.
 */
@Command(
        name = "racecheck",
        header = "Races processes doing get-or-create, then counts duplicate rows.",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        usageHelpWidth = 100,
        description = {
            "Races several processes doing get-or-create on the same values, then counts duplicate rows.",
            "",
            "Each process loops: data = current time in ms; get-or-create the row with that data.",
            "Processes started in the same millisecond ask for the same row at the same moment.",
            "  --strategy once   Once's getOrCreate on a table with UNIQUE (data): expect 0 duplicates.",
            "  --strategy naive  SELECT, then INSERT if absent, without a unique constraint: the usual",
            "                    code; it writes duplicates, which shows the check can fail.",
            "",
            "Progress is printed while it runs; the last line is one JSON object:",
            "  {\"strategy\",\"db\",\"procs\",\"threads\",\"seconds\",\"ops\",\"ops_per_s\",\"errors\",",
            "   \"rows\",\"duplicate_groups\"}",
            ""
        },
        footer = {
            "",
            "Examples:",
            "  once racecheck                                  # embedded PostgreSQL, 3 processes, 10 s",
            "  once racecheck --strategy naive --seconds 5",
            "  once racecheck --db jdbc:postgresql://127.0.0.1:5432/test --user postgres \\",
            "                 --procs 4 --threads 2",
            "  once racecheck --db jdbc:mariadb://127.0.0.1:3306/test --user root",
            "  once racecheck --db jdbc:sqlite:race.db",
            "",
            "Exit codes: 0 no duplicates and no errors, 1 duplicates or errors found,",
            "            2 bad input or unreachable database."
        })
final class RacecheckCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(
            names = "--db",
            paramLabel = "JDBC_URL",
            defaultValue = "${env:ONCE_DB_URL}",
            description = "Database to race on (env ONCE_DB_URL). Default: an embedded PostgreSQL started for the run.")
    String db;

    @picocli.CommandLine.Mixin
    Credentials credentials = new Credentials();

    @Option(names = "--strategy", defaultValue = "once", description = "once or naive (default: ${DEFAULT-VALUE}).")
    RaceStrategy strategy;

    @Option(names = "--procs", defaultValue = "3", description = "Processes (default: ${DEFAULT-VALUE}).")
    int procs;

    @Option(names = "--threads", defaultValue = "1", description = "Threads per process (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(
            names = "--seconds",
            defaultValue = "10",
            description = "How long each process loops (default: ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--verbose", description = "Print stack traces of failures.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        Ranges.check(spec, "--procs", procs, 1, 64);
        Ranges.check(spec, "--threads", threads, 1, 256);
        Ranges.check(spec, "--seconds", seconds, 1, 3600);
        PrintWriter out = spec.commandLine().getOut();
        out.printf("once racecheck: strategy=%s procs=%d threads=%d seconds=%d%n", strategy, procs, threads, seconds);
        out.flush();
        try (Database database = Database.givenOrEmbedded(spec, db, credentials, out)) {
            out.println("database: " + database.description);
            // a name of this run's own: a fixed one dropped a user's table of that name (helper-34)
            String table = ScratchTables.named(strategy.table());
            createTable(database, table);
            try {
                Race race = new Race(database, table, out);
                race.run();
                return report(database, table, race, out);
            } finally {
                dropTable(database, table);
            }
        }
    }

    private static void dropTable(Database database, String table) {
        try (Connection c = database.open();
                Statement s = c.createStatement()) {
            s.execute("DROP TABLE " + table);
            ScratchTables.dropped(table);
        } catch (SQLException e) {
            System.err.println("once racecheck: could not drop its table " + table + ": " + e.getMessage());
        }
    }

    private void createTable(Database database, String table) throws SQLException {
        try (Connection c = database.open();
                Statement s = c.createStatement()) {
            s.execute("DROP TABLE IF EXISTS " + table);
            s.execute("CREATE TABLE " + table + " (" + database.idColumn() + ", " + strategy.columns() + ")");
            for (String index : strategy.indexes(table)) s.execute(index);
        }
        if (!database.embedded()) ScratchTables.dropOnSignal(table, database::open);
    }

    /** Runs the worker processes and follows their progress. */
    private final class Race {
        final Database database;
        final String table;
        final PrintWriter out;
        final long[] ops;
        final long[] errors;
        final long[] elapsedNanos;
        final ConcurrentLinkedQueue<String> errorSamples = new ConcurrentLinkedQueue<>();

        Race(Database database, String table, PrintWriter out) {
            this.database = database;
            this.table = table;
            this.out = out;
            this.ops = new long[procs];
            this.errors = new long[procs];
            this.elapsedNanos = new long[procs];
        }

        void run() throws Exception {
            List<Process> processes = new java.util.concurrent.CopyOnWriteArrayList<>();
            CountDownLatch ready = new CountDownLatch(procs);
            CountDownLatch done = new CountDownLatch(procs);
            // SIGTERM or Ctrl-C: the workers go too, not after their --seconds (as bench and demo do)
            Thread stopWorkers = new Thread(() -> processes.forEach(Process::destroyForcibly), "racecheck-stop");
            Runtime.getRuntime().addShutdownHook(stopWorkers);
            out.printf("starting %d worker processes ...%n", procs);
            out.flush();
            try {
                for (int p = 0; p < procs; p++) {
                    Process process = start();
                    processes.add(process);
                    follow(p, process, ready, done);
                }
                if (!ready.await(120, TimeUnit.SECONDS)) {
                    throw new UserError("worker processes did not connect within 120 s" + firstError());
                }
                for (Process process : processes) {
                    Writer w = process.outputWriter(StandardCharsets.UTF_8);
                    w.write("go\n");
                    w.flush();
                }
                long start = System.nanoTime();
                while (!done.await(1, TimeUnit.SECONDS)) {
                    long elapsed = (System.nanoTime() - start) / 1_000_000_000L;
                    long total = sum(ops);
                    out.printf(
                            "[%3ds/%ds] ops %,d (%,.0f/s)  errors %,d%n",
                            elapsed,
                            seconds,
                            total,
                            total / Math.max(1.0, (System.nanoTime() - start) / 1e9),
                            sum(errors));
                    out.flush();
                    if (elapsed > seconds + 120) throw new UserError("worker processes did not finish" + firstError());
                }
                for (int p = 0; p < procs; p++) {
                    Process process = processes.get(p);
                    process.waitFor(30, TimeUnit.SECONDS);
                    if (process.exitValue() != 0 || elapsedNanos[p] == 0) {
                        throw new UserError(
                                "worker process " + p + " failed (exit " + process.exitValue() + ")" + firstError());
                    }
                }
            } finally {
                for (Process process : processes) process.destroyForcibly();
                try {
                    Runtime.getRuntime().removeShutdownHook(stopWorkers);
                } catch (IllegalStateException shuttingDown) {
                    // the hook is running or has run
                }
            }
        }

        private String firstError() {
            String e = errorSamples.peek();
            return e == null ? "" : ": " + e;
        }

        private Process start() throws java.io.IOException {
            ProcessBuilder pb = WorkerProcess.of(
                    RacecheckWorker.class,
                    database.password,
                    database.url,
                    database.user == null ? "" : database.user,
                    strategy.name(),
                    String.valueOf(threads),
                    String.valueOf(seconds),
                    table);
            pb.redirectError(ProcessBuilder.Redirect.INHERIT);
            return pb.start();
        }

        private void follow(int p, Process process, CountDownLatch ready, CountDownLatch done) {
            Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader r =
                        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        String[] f = line.split(" ", 4);
                        switch (f[0]) {
                            case "ready" -> ready.countDown();
                            case "progress" -> {
                                ops[p] = Long.parseLong(f[1]);
                                errors[p] = Long.parseLong(f[2]);
                            }
                            case "error" -> errorSamples.add(line.substring(6));
                            case "result" -> {
                                ops[p] = Long.parseLong(f[1]);
                                errors[p] = Long.parseLong(f[2]);
                                elapsedNanos[p] = Long.parseLong(f[3]);
                            }
                            default -> errorSamples.add(line);
                        }
                    }
                } catch (Exception e) {
                    errorSamples.add(Errors.describe(e));
                } finally {
                    ready.countDown(); // a worker that died must not keep the others waiting
                    done.countDown();
                }
            });
        }
    }

    private int report(Database database, String table, Race race, PrintWriter out) throws Exception {
        long rows;
        long duplicateGroups;
        long duplicateRows;
        try (Connection c = database.open();
                Statement s = c.createStatement()) {
            rows = single(s, "SELECT COUNT(*) FROM " + table + " WHERE data <> -1");
            duplicateGroups = single(
                    s, "SELECT COUNT(*) FROM (SELECT data FROM " + table + " GROUP BY data HAVING COUNT(*) > 1) d");
            duplicateRows = single(
                    s,
                    "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM " + table
                            + " GROUP BY data HAVING COUNT(*) > 1) d");
        }
        long ops = sum(race.ops);
        long errors = sum(race.errors);
        double wall = java.util.Arrays.stream(race.elapsedNanos).max().orElse(1) / 1e9;
        double opsPerSecond = ops / wall;
        out.println();
        out.println("racecheck summary");
        out.printf("  strategy          %s%n", strategy);
        out.printf("  database          %s%n", database.description);
        out.printf("  table             %s (this run's own, dropped after counting)%n", table);
        out.printf("  processes         %d x %d thread(s), %d s%n", procs, threads, seconds);
        out.printf("  get-or-create ops %,d (%,.0f/s)%n", ops, opsPerSecond);
        out.printf("  errors            %,d%n", errors);
        for (String e : race.errorSamples.stream().distinct().limit(3).toList()) out.printf("    e.g. %s%n", e);
        out.printf("  rows              %,d%n", rows);
        out.printf("  duplicate groups  %,d (%,d extra rows)%n", duplicateGroups, duplicateRows);
        boolean clean = duplicateGroups == 0 && errors == 0;
        out.println(
                clean
                        ? "  verdict           OK: every value was stored once and no call failed"
                        : "  verdict           RACE: "
                                + (duplicateGroups > 0 ? "values were stored more than once" : "calls failed"));
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("strategy", strategy.name());
        json.put("db", database.description);
        json.put("procs", procs);
        json.put("threads", threads);
        json.put("seconds", seconds);
        json.put("ops", ops);
        json.put("ops_per_s", Math.round(opsPerSecond * 10) / 10.0);
        json.put("errors", errors);
        json.put("rows", rows);
        json.put("duplicate_groups", duplicateGroups);
        out.println(new ObjectMapper().writeValueAsString(json));
        out.flush();
        return clean ? 0 : 1;
    }

    private static long single(Statement s, String sql) throws SQLException {
        try (ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long sum(long[] values) {
        long total = 0;
        for (long v : values) total += v;
        return total;
    }
}
