package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Runs {@code once racecheck} as a user would, with real worker processes and real databases. */
class RacecheckCommandTest {

    record Run(int exit, String out, String err) {
        JsonNode json() throws Exception {
            List<String> lines = out.lines().toList();
            return new ObjectMapper().readTree(lines.get(lines.size() - 1));
        }
    }

    static Run once(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cli = OnceCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void racecheck_once_noDuplicatesNoErrors(Db db) throws Exception {
        Run run = once("racecheck", "--db", TestDatabases.url(db), "--procs", "3", "--threads", "2", "--seconds", "3");

        assertThat(run.exit()).as(run.out() + run.err()).isZero();
        JsonNode json = run.json();
        assertThat(json.get("strategy").asText()).isEqualTo("once");
        assertThat(json.get("errors").asLong()).isZero();
        assertThat(json.get("duplicate_groups").asLong()).isZero();
        assertThat(json.get("rows").asLong()).isPositive();
        assertThat(json.get("ops").asLong())
                .isGreaterThanOrEqualTo(json.get("rows").asLong());
        assertThat(json.get("procs").asInt()).isEqualTo(3);
        assertThat(run.out()).contains("verdict           OK");
    }

    /**
     * helper-34: racecheck dropped and recreated once_racecheck_once, a user's table of that name included
     * (its column and rows gone, verdict OK). Each run now has a table of its own, dropped after counting.
     */
    @Test
    void racecheck_userTableWithTheOldScratchName_untouched() throws Exception {
        Db db = Db.POSTGRES;
        TestDatabases.execute(db, "DROP TABLE IF EXISTS once_racecheck_once");
        TestDatabases.execute(db, "CREATE TABLE once_racecheck_once (id INT, important VARCHAR(20))");
        TestDatabases.execute(db, "INSERT INTO once_racecheck_once VALUES (1, 'keep me')");
        try {
            Run run = once("racecheck", "--db", TestDatabases.url(db), "--procs", "2", "--seconds", "1");
            assertThat(run.exit()).as(run.out() + run.err()).isZero();
            java.util.regex.Matcher own = java.util.regex.Pattern.compile(
                            "table +(once_racecheck_once_[a-z0-9]{8}) \\(this run's own")
                    .matcher(run.out());
            assertThat(own.find()).as(run.out()).isTrue();
            assertThat(TestDatabases.count(db, "SELECT COUNT(*) FROM once_racecheck_once WHERE important = 'keep me'"))
                    .isEqualTo(1);
            // this run's own table only: a racecheck ended by SIGTERM (another test) leaves its table behind
            assertThat(TestDatabases.count(
                            db,
                            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '" + own.group(1) + "'"))
                    .as("this run's table is dropped")
                    .isZero();
        } finally {
            TestDatabases.execute(db, "DROP TABLE once_racecheck_once");
        }
    }

    @Test
    void racecheck_naive_findsDuplicatesAndExitsOne() throws Exception {
        Run run = once(
                "racecheck",
                "--db",
                TestDatabases.url(Db.POSTGRES),
                "--strategy",
                "naive",
                "--procs",
                "3",
                "--threads",
                "2",
                "--seconds",
                "3");

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(1);
        assertThat(run.json().get("duplicate_groups").asLong()).isPositive();
        assertThat(run.out()).contains("verdict           RACE");
    }

    @Test
    void racecheck_notAJdbcUrl_oneLineExitTwo() {
        Run run = once("racecheck", "--db", "postgres://nowhere");

        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err()).contains("is not a JDBC URL").doesNotContain("\tat ");
    }

    @Test
    void racecheck_unreachableDatabase_oneLineExitTwo() {
        Run run = once("racecheck", "--db", "jdbc:postgresql://127.0.0.1:1/nowhere", "--seconds", "1");

        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err())
                .contains("cannot connect to jdbc:postgresql://127.0.0.1:1/nowhere")
                .doesNotContain("\tat ");
    }

    /**
     * {@code --db=$DB_URL} with the variable unset: the command ran on its default store (serve's SQLite
     * file, racecheck's and bench's embedded PostgreSQL) instead of the database meant.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"racecheck", "bench", "serve"})
    void emptyDb_refusedExitTwo_oneLineNamingTheDefault(String command) throws Exception {
        String[] args = command.equals("bench") ? withDatabase(command, "--db", " ") : withDatabase(command, "--db=");
        Run run = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
                java.time.Duration.ofSeconds(30), () -> once(args));

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err())
                .startsWith("once " + command + ": --db is empty; give a JDBC URL, or leave --db out to use ")
                .contains(command.equals("serve") ? ServeCommand.DEFAULT_DB : "an embedded PostgreSQL");
        assertThat(run.out()).doesNotContain("starting an embedded PostgreSQL");
    }

    /**
     * A short run of {@code command} (racecheck, bench or serve) with {@code database} as its database
     * options: what the database tests give each command besides.
     */
    private static String[] withDatabase(String command, String... database) throws java.io.IOException {
        List<String> args = new java.util.ArrayList<>(List.of(command));
        args.addAll(List.of(database));
        args.addAll(
                switch (command) {
                    case "racecheck" -> List.of("--seconds", "1");
                    case "bench" ->
                        List.of(
                                "--quick",
                                "--only",
                                "goc-existing",
                                "--out",
                                java.nio.file.Files.createTempDirectory("once-bench")
                                        .toString());
                    default -> List.of("--upstream", "http://127.0.0.1:1", "--port", "0", "--warm-up", "0");
                });
        return args.toArray(String[]::new);
    }

    /**
     * A server that accepts TCP connections and never says a word: the command must not wait forever.
     * {@code once serve} starts without it instead, passing requests through ({@code ServeProcessTest}).
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"racecheck", "bench"})
    void silentDatabase_exitTwoWithinSeconds_oneLineNamingIt(String command) throws Exception {
        try (dev.once.jdbc.testing.SilentServer silent = new dev.once.jdbc.testing.SilentServer()) {
            String url = "jdbc:postgresql://127.0.0.1:" + silent.port() + "/test";
            String[] args = withDatabase(command, "--db", url, "--user", "postgres");
            Run run = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
                    java.time.Duration.ofSeconds(30), () -> once(args));

            assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
            assertThat(run.err().strip().lines()).hasSize(1);
            assertThat(run.err())
                    .contains("cannot connect to " + url)
                    .contains("no answer within 10 s")
                    .doesNotContain("\tat ");
            assertThat(silent.accepted()).isPositive();
        }
    }

    /** The racecheck tables on the test database now. */
    private static List<String> racecheckTables() throws Exception {
        List<String> names = new java.util.ArrayList<>();
        try (java.sql.Connection c = TestDatabases.connect(Db.POSTGRES);
                java.sql.ResultSet rs = c.createStatement()
                        .executeQuery("SELECT table_name FROM information_schema.tables"
                                + " WHERE table_name LIKE 'once\\_racecheck\\_%'")) {
            while (rs.next()) names.add(rs.getString(1));
        }
        return names;
    }

    /**
     * SIGTERM (or Ctrl-C) mid-run: the workers stop with it, and its table on the user's database is
     * dropped on the way out (it was left there before: the drop came after the race, which a signal never
     * reaches).
     */
    @Test
    void racecheck_sigterm_stopsItsWorkerProcessesAndDropsItsTable() throws Exception {
        List<String> before = racecheckTables();
        Process racecheck = WorkerProcess.of(
                        OnceCommand.class,
                        null,
                        "racecheck",
                        "--db",
                        TestDatabases.url(Db.POSTGRES),
                        "--procs",
                        "2",
                        "--seconds",
                        "60")
                .redirectErrorStream(true)
                .start();
        try {
            var lines = new java.io.BufferedReader(
                    new java.io.InputStreamReader(racecheck.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
            StringBuilder seen = new StringBuilder();
            String line;
            while ((line = lines.readLine()) != null && !line.contains("ops "))
                seen.append(line).append('\n');
            assertThat(line).as("a progress line, so the workers race: " + seen).isNotNull();
            List<ProcessHandle> workers = racecheck.descendants().toList();
            assertThat(workers).as("worker processes").hasSize(2);

            racecheck.toHandle().destroy(); // SIGTERM (Process.destroy would also close its output, unread)
            assertThat(racecheck.waitFor(10, java.util.concurrent.TimeUnit.SECONDS))
                    .isTrue();
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (workers.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < deadline) Thread.sleep(100);
            assertThat(workers.stream().filter(ProcessHandle::isAlive).toList())
                    .as("workers still running 5 s after SIGTERM")
                    .isEmpty();
            StringBuilder rest = new StringBuilder();
            while ((line = lines.readLine()) != null) rest.append(line).append('\n');
            List<String> left = racecheckTables();
            left.removeAll(before);
            assertThat(left).as("its table, after SIGTERM; it said: " + rest).isEmpty();
            assertThat(rest.toString()).contains("stopped early; dropped its table once_racecheck_once_");
        } finally {
            racecheck.descendants().forEach(ProcessHandle::destroyForcibly);
            racecheck.destroyForcibly();
        }
    }

    @Test
    void racecheck_wrongCredentials_oneLineExitTwoPasswordHidden() {
        Run run = once(
                "racecheck",
                "--db",
                TestDatabases.url(Db.POSTGRES).replace("user=postgres", "user=nosuch") + "&password=secret");

        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err()).contains("nosuch").doesNotContain("secret");
    }

    @Test
    void racecheck_verbose_printsStackTrace() {
        Run run = once("racecheck", "--db", "jdbc:postgresql://127.0.0.1:1/nowhere", "--verbose");

        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err()).contains("\tat ");
    }

    @Test
    void racecheck_outOfRange_exitTwoWithHint() {
        Run run = once("racecheck", "--procs", "0");

        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err())
                .contains("--procs must be between 1 and 64, not 0")
                .contains("--help");
    }

    @Test
    void help_listsRacecheck() {
        Run run = once("--help");

        assertThat(run.exit()).isZero();
        assertThat(run.out()).contains("racecheck");
    }
}
