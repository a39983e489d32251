package dev.once.cli.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PostgreSQL's own load generator on the bench's table: the C client with one connection per client
 * and prepared statements, the ceiling a JDBC loop can approach. Absent (not PostgreSQL, or no
 * pgbench installed): a one-line note, never a failure.
 */
final class PgBench {
    private static final Pattern URL = Pattern.compile("^jdbc:postgresql://([^:/?,]+)(?::(\\d+))?/([^?]+)(?:\\?.*)?$");

    private final BenchTarget target;
    private final Settings settings;
    private final Results results;
    private final Path pgbench;
    private final Matcher url;

    private PgBench(BenchTarget target, Settings settings, Results results, Path pgbench, Matcher url) {
        this.target = target;
        this.settings = settings;
        this.results = results;
        this.pgbench = pgbench;
        this.url = url;
    }

    /** pgbench for this target, or empty after a note saying why not. */
    static Optional<PgBench> forTarget(BenchTarget target, Settings settings, Results results) throws Exception {
        if (!target.product().contains("postgres")) return Optional.empty();
        Matcher m = URL.matcher(target.url());
        Optional<Path> tool = Tools.find("pgbench");
        String skipped = tool.isEmpty()
                ? "pgbench not found: its columns are skipped (Debian: apt-get install postgresql-client)"
                : !m.matches()
                        ? "pgbench skipped: cannot read host, port and database from " + target.description()
                        : null;
        if (skipped != null) {
            if (!results.notes.contains(skipped)) {
                results.notes.add(skipped);
                settings.progress("%s", skipped);
            }
            return Optional.empty();
        }
        return Optional.of(new PgBench(target, settings, results, tool.get(), m));
    }

    /** A parameter of the JDBC URL's query ({@code ?user=...&password=...}), decoded, or null. */
    private String parameter(String name) {
        Matcher m = Pattern.compile("[?&]" + name + "=([^&]*)").matcher(target.url());
        return m.find() ? java.net.URLDecoder.decode(m.group(1), java.nio.charset.StandardCharsets.UTF_8) : null;
    }

    /**
     * Runs a pgbench script at {@code clients} clients for one repetition's time and records its
     * throughput beside the pair measured just before.
     */
    void reference(String pairName, int clients, String label, String script) throws Exception {
        Path file = Files.createTempFile("once-pgbench", ".sql");
        try {
            Files.writeString(file, script);
            List<String> cmd = new ArrayList<>(List.of(pgbench.toString(), "-n", "-M", "prepared", "-h", url.group(1)));
            if (url.group(2) != null) cmd.addAll(List.of("-p", url.group(2)));
            String user = target.user() != null ? target.user() : parameter("user");
            if (user != null) cmd.addAll(List.of("-U", user));
            int seconds = (int) Math.max(1, Math.round(settings.repetitionMillis() / 1000.0));
            cmd.addAll(List.of(
                    "-c",
                    String.valueOf(clients),
                    "-j",
                    String.valueOf(Math.min(clients, Runtime.getRuntime().availableProcessors())),
                    "-T",
                    String.valueOf(seconds),
                    "-f",
                    file.toString(),
                    url.group(3)));
            Map<String, String> env = new HashMap<>();
            String password = target.password() != null ? target.password() : parameter("password");
            if (password != null) env.put("PGPASSWORD", password);
            settings.progress("%s, %d client(s): pgbench %s ...", pairName, clients, label);
            try {
                double tps = Tools.number(Tools.run(cmd, env, seconds + 60L), "^tps = ([0-9.]+)");
                results.references.add(new Results.Reference(pairName, clients, "pgbench " + label, tps));
            } catch (java.io.IOException e) { // an outside tool that fails is a note, not a failed bench
                String note = "pgbench failed, its figure is missing: " + e.getMessage();
                results.notes.add(note);
                settings.progress("%s", note);
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
