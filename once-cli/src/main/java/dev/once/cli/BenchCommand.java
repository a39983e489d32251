package dev.once.cli;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.cli.bench.Bench;
import dev.once.cli.bench.BenchTarget;
import dev.once.cli.bench.Settings;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code once bench}: Once's costs measured against the database's own limit, pair by pair, in one run. */
@Command(
        name = "bench",
        header = "Measures Once against the database's own limit, pair by pair.",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        usageHelpWidth = 100,
        description = {
            "Measures Once against the database's limit, pairs alternated in one run at equal threads:",
            "  goc-existing   Once.getOrCreate on existing rows vs a plain SELECT by the same unique key",
            "  goc-new        Once.getOrCreate creating rows vs a plain",
            "                 INSERT ... ON CONFLICT DO NOTHING loop",
            "  cache-hit      OnceCache.get on cached keys (near cache off) vs a plain primary-key",
            "                 SELECT loop",
            "  cache-miss     OnceCache.get on new keys, 0 ms loader, vs a plain",
            "                 INSERT ... ON CONFLICT DO NOTHING loop",
            "  cache-waiters  3 processes x 4 callers ask for a new key at once, 100 ms loader: loader calls",
            "                 per key and the waiters' latency, with NOTIFY and polling (PostgreSQL)",
            "  strategies     12 identical requests per key at once, 100 ms loader: loader calls, rows",
            "                 and errors of select-call-insert (with and without a unique key),",
            "                 ON CONFLICT DO NOTHING, once-cache",
            "  proxy          proxy-hits and proxy-waiters:",
            "  proxy-hits     one once serve replica, one hot key, 64 connections, near cache on and off,",
            "                 against nginx's proxy_cache with 1 worker and with worker_processes auto,",
            "                 all loaded by wrk",
            "  proxy-waiters  3 once serve processes on the database, 100 ms upstream, bursts of 50 keys",
            "                 x 12 identical requests (--burst) spread over the 3: upstream calls per",
            "                 key and latency, against the same driver calling the upstream directly;",
            "                 the first burst after start apart",
            "On PostgreSQL, pgbench runs the same SELECT and INSERT beside goc-existing and goc-new.",
            "pgbench, nginx or wrk missing: that part is skipped with a one-line note (Debian: apt-get",
            "install postgresql-client nginx-light wrk); without wrk, Java's HTTP client loads the proxy.",
            "Prints progress, then tables; figures go to DIR/bench.json, charts to DIR/bench.html.",
            ""
        },
        footer = {"", "Exit codes: 0 every target met, 1 a target missed, 2 bad input or unreachable database."})
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(
            names = "--db",
            paramLabel = "JDBC_URL",
            defaultValue = "${env:ONCE_DB_URL}",
            description = "Database to measure (env ONCE_DB_URL). Default: an embedded PostgreSQL.")
    String db;

    @picocli.CommandLine.Mixin
    Credentials credentials = new Credentials();

    @Option(
            names = "--quick",
            description =
                    "1 and 16 threads, 3 one-second repetitions, 20 waiter rounds, 20 strategy keys (about 2 min).")
    boolean quick;

    @Option(
            names = "--only",
            split = ",",
            paramLabel = "NAME",
            description = "Run only these: ${COMPLETION-CANDIDATES}.",
            completionCandidates = Names.class)
    List<String> only = new ArrayList<>();

    @Option(
            names = "--threads",
            split = ",",
            paramLabel = "N",
            description = "Thread counts (default 1,4,16,64; quick: 1,16).")
    List<Integer> threads;

    @Option(
            names = "--out",
            paramLabel = "DIR",
            defaultValue = "once-bench",
            description = "Where bench.json and bench.html go (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(
            names = "--compare-with",
            paramLabel = "JAR",
            description = "proxy-waiters: also start 3 replicas from this once.jar (another build) and"
                    + " alternate their bursts with this build's in the same run, so both meet the same machine;"
                    + " reported as \"compared build\". For telling two builds apart on a noisy machine.")
    Path compareWith;

    @Option(
            names = "--compare-jvm-options",
            paramLabel = "OPTIONS",
            description = "proxy-waiters: the compared replicas (of --compare-with's jar, or of this build when it"
                    + " is not given) run under these JVM options, space-separated, e.g."
                    + " --compare-jvm-options='-XX:+UseSerialGC'. For telling JVM settings apart in one run.")
    String compareJvmOptions;

    @Option(
            names = "--burst",
            paramLabel = "KEYSxREQUESTS",
            description = "proxy-waiters: each burst's new keys and identical requests per key, e.g. --burst 10x12"
                    + " (default 50x12; 3 or more requests per key reach every replica). For seeing how the"
                    + " proxy's cost grows with the burst on your machine.")
    String burst;

    @Option(names = "--verbose", description = "Print stack traces of failures.")
    boolean verbose;

    static final class Names extends ArrayList<String> {
        Names() {
            super(new java.util.TreeSet<>(Bench.NAMES));
        }
    }

    /** Refuses an option that only proxy-waiters reads when the run leaves proxy-waiters out. */
    private void onlyForProxyWaiters(Set<String> names, String option) {
        if (!names.isEmpty() && !names.contains("proxy-waiters") && !names.contains("proxy")) {
            throw new ParameterException(
                    spec.commandLine(), option + " applies to proxy-waiters; add --only proxy-waiters");
        }
    }

    /** Most new keys in a burst, and most requests per key: the driver sends a burst's requests all at once. */
    static final int MAX_BURST_KEYS = 200;

    static final int MAX_REQUESTS_PER_KEY = 48;

    /** {@code --burst KEYSxREQUESTS} as {keys, requests per key}, or a message saying what to give. */
    private int[] burstShape(String given) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*(\\d{1,6})\\s*[xX]\\s*(\\d{1,6})\\s*")
                .matcher(given);
        if (m.matches()) {
            int keys = Integer.parseInt(m.group(1));
            int requests = Integer.parseInt(m.group(2));
            if (keys >= 1 && keys <= MAX_BURST_KEYS && requests >= 1 && requests <= MAX_REQUESTS_PER_KEY)
                return new int[] {keys, requests};
        }
        throw new ParameterException(
                spec.commandLine(),
                "--burst '" + given + "': give new keys x requests per key, 1.." + MAX_BURST_KEYS + " x 1.."
                        + MAX_REQUESTS_PER_KEY + ", e.g. --burst 10x12 (the default is 50x12)");
    }

    /** --out as a directory that a file can be written to, made if need be: checked before the run, not after. */
    static void writableDirectory(Path dir) {
        try {
            java.nio.file.Files.createDirectories(dir);
        } catch (java.io.IOException | SecurityException e) {
            throw new UserError("--out " + dir + ": cannot create the directory: " + Errors.describe(e), e);
        }
        try {
            java.nio.file.Files.delete(java.nio.file.Files.createTempFile(dir, ".once-bench", ".tmp"));
        } catch (java.io.IOException | SecurityException e) {
            throw new UserError("--out " + dir + ": cannot write in the directory: " + Errors.describe(e), e);
        }
    }

    @Override
    public Integer call() throws Exception {
        Set<String> names = new LinkedHashSet<>(only);
        for (String n : names) {
            if (!Bench.NAMES.contains(n)) {
                throw new ParameterException(
                        spec.commandLine(),
                        "--only " + n + " is not a benchmark; choose from " + new java.util.TreeSet<>(Bench.NAMES));
            }
        }
        PrintWriter o = spec.commandLine().getOut();
        Settings settings = quick ? Settings.quick(o) : Settings.full(o);
        if (threads != null) {
            for (int t : threads) {
                if (t < 1 || t > 512)
                    throw new ParameterException(spec.commandLine(), "--threads must be 1..512, not " + t);
            }
            settings = settings.withThreads(threads);
        }
        if (compareWith != null) {
            onlyForProxyWaiters(names, "--compare-with");
            if (!java.nio.file.Files.isRegularFile(compareWith)
                    || !compareWith.toString().endsWith(".jar")) {
                throw new ParameterException(
                        spec.commandLine(),
                        "--compare-with " + compareWith + ": not a jar file (give another build's once.jar)");
            }
            settings = settings.withCompareWith(compareWith.toAbsolutePath());
        }
        if (compareJvmOptions != null) {
            List<String> options = java.util.Arrays.stream(
                            compareJvmOptions.trim().split("\\s+"))
                    .filter(o2 -> !o2.isEmpty())
                    .toList();
            if (options.isEmpty() || options.stream().anyMatch(o2 -> !o2.startsWith("-"))) {
                throw new ParameterException(
                        spec.commandLine(),
                        "--compare-jvm-options '" + compareJvmOptions
                                + "': give JVM options, each starting with '-' (e.g. -XX:+UseSerialGC)");
            }
            onlyForProxyWaiters(names, "--compare-jvm-options");
            settings = settings.withCompareJvmOptions(options);
        }
        if (burst != null) {
            onlyForProxyWaiters(names, "--burst");
            int[] shape = burstShape(burst);
            settings = settings.withWaiterBurst(shape[0], shape[1]);
        }
        writableDirectory(out);
        int poolSize =
                settings.threads().stream().mapToInt(Integer::intValue).max().orElse(1) + 4;
        try (Database database = Database.givenOrEmbedded(spec, db, credentials, o);
                HikariDataSource pool = database.pool(poolSize)) {
            o.println("database: " + database.description + "; "
                    + Runtime.getRuntime().availableProcessors() + " cores");
            BenchTarget target = new BenchTarget(
                    database.url, database.user, database.password, database.description, pool, !database.embedded());
            return Bench.run(target, settings, names, out) ? 0 : 1;
        }
    }
}
