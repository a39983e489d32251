package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bench runs end to end and writes its figures; the figures themselves are not asserted (speed is measured, not tested). */
class BenchCommandTest {
    @TempDir
    Path out;

    @Test
    void bench_quickHitAndWaiters_writesEveryFigure() throws Exception {
        // helper-34: the bench dropped a user's table named as its scratch table was (once_bench_goc_hit)
        TestDatabases.execute(Db.POSTGRES, "DROP TABLE IF EXISTS once_bench_goc_hit");
        TestDatabases.execute(Db.POSTGRES, "CREATE TABLE once_bench_goc_hit (important VARCHAR(20))");
        TestDatabases.execute(Db.POSTGRES, "INSERT INTO once_bench_goc_hit VALUES ('keep me')");
        RacecheckCommandTest.Run run = RacecheckCommandTest.once(
                "bench",
                "--quick",
                "--only",
                "goc-existing,cache-hit,cache-waiters",
                "--threads",
                "1",
                "--db",
                TestDatabases.url(Db.POSTGRES),
                "--out",
                out.toString());

        assertThat(run.exit()).as(run.out() + run.err()).isIn(0, 1); // 1 = a target missed on this machine
        JsonNode json = new ObjectMapper().readTree(out.resolve("bench.json").toFile());
        assertThat(json.get("pairs")).as(run.out()).hasSize(3); // goc-existing, cache hit near cache off and on
        for (JsonNode pair : json.get("pairs")) {
            assertThat(pair.get("candidate_ops_per_s")).hasSize(3);
            assertThat(pair.get("ratio").asDouble()).isPositive();
        }
        assertThat(json.get("pairs").get(0).get("name").asText()).isEqualTo("getOrCreate, existing key");
        assertThat(TestDatabases.count(
                        Db.POSTGRES, "SELECT COUNT(*) FROM once_bench_goc_hit WHERE important = 'keep me'"))
                .isEqualTo(1);
        TestDatabases.execute(Db.POSTGRES, "DROP TABLE once_bench_goc_hit");
        assertThat(json.get("waiters")).hasSize(2); // NOTIFY and polling
        for (JsonNode w : json.get("waiters")) {
            assertThat(w.get("loader_calls_per_key").asDouble()).isEqualTo(1.0);
            assertThat(w.get("waiter_ms")).isNotEmpty();
        }
        assertThat(run.out()).contains("Cross-process waiters");
        // pgbench beside goc-existing where it is installed; where it is not, a note says so (never a failure)
        if (json.get("notes").toString().contains("pgbench not found")) {
            assertThat(json.get("references")).isEmpty();
        } else {
            assertThat(json.get("references")).as(run.out()).hasSize(1);
            assertThat(json.get("references").get(0).get("ops_per_s").asDouble())
                    .isPositive();
        }
        String html = java.nio.file.Files.readString(out.resolve("bench.html"));
        assertThat(html).contains("<svg").contains("getOrCreate, existing key").contains("waiter latency, notify");
        assertThat(html)
                .doesNotContain("<script")
                .doesNotContain("http://")
                .doesNotContain("https://"); // opens offline
    }

    @Test
    void bench_strategiesAndProxy_countCallsAndCompareOrSayWhyNot() throws Exception {
        RacecheckCommandTest.Run run = RacecheckCommandTest.once(
                "bench",
                "--quick",
                "--only",
                "strategies,proxy-hits",
                "--threads",
                "1",
                "--db",
                TestDatabases.url(Db.POSTGRES),
                "--out",
                out.toString());

        assertThat(run.exit()).as(run.out() + run.err()).isIn(0, 1);
        JsonNode json = new ObjectMapper().readTree(out.resolve("bench.json").toFile());
        JsonNode strategies = json.get("strategies");
        assertThat(strategies).as(run.out()).hasSize(4);
        for (JsonNode s : strategies) {
            long keys = s.get("keys").asLong();
            long calls = s.get("loader_calls").asLong();
            long rows = s.get("rows").asLong();
            long errors = s.get("errors").asLong();
            switch (s.get("strategy").asText()) {
                case "select, call, insert (no unique index)" ->
                    assertThat(rows).isEqualTo(calls); // every call a row
                case "select, call, insert (unique key)" -> {
                    assertThat(rows).isEqualTo(keys);
                    assertThat(errors).isEqualTo(calls - keys); // every losing insert an error
                }
                case "select, call, INSERT ... ON CONFLICT DO NOTHING" -> {
                    assertThat(rows).isEqualTo(keys);
                    assertThat(errors).isZero();
                }
                case "once-cache" -> {
                    assertThat(calls).isEqualTo(keys);
                    assertThat(rows).isEqualTo(keys);
                    assertThat(errors).isZero();
                }
                default -> throw new AssertionError("unexpected strategy " + s);
            }
        }
        // wrk and nginx are on some machines and not others: either the pair is there or a note says why not
        boolean compared = json.get("pairs").findValuesAsText("name").contains("proxy hit, 64 connections");
        if (compared) {
            // near cache on and off, nginx with 1 worker and with auto; each checked to answer HIT first
            assertThat(json.get("latencies")).hasSize(4);
            assertThat(json.get("pairs").findValuesAsText("baseline")).contains("nginx, 1 worker", "nginx, auto");
        } else {
            assertThat(json.get("notes").toString()).containsAnyOf("wrk not found", "nginx not found");
            assertThat(json.get("latencies")).hasSize(1); // the replica alone
            assertThat(json.get("latencies").get(0).get("requests_per_s").asDouble())
                    .isPositive();
        }
        assertThat(java.nio.file.Files.readString(out.resolve("bench.html")))
                .contains("Loader calls per key by strategy");
    }

    /** --out is checked before anything runs (here not even the database is reached), with the reason. */
    @Test
    void bench_outNotAWritableDirectory_exitTwoBeforeRunning() throws Exception {
        Path file = java.nio.file.Files.writeString(out.resolve("afile"), "x");
        String[][] cases = {
            {file.toString(), "already exists, and is not a directory"},
            {file.resolve("sub").toString(), "not a directory"},
            {"/proc/once-bench", "cannot create"}
        };
        for (String[] c : cases) {
            RacecheckCommandTest.Run run = RacecheckCommandTest.once(
                    "bench", "--db", "jdbc:postgresql://127.0.0.1:1/nowhere", "--only", "goc-existing", "--out", c[0]);

            assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
            assertThat(run.err().strip().lines()).hasSize(1);
            assertThat(run.err()).contains("--out " + c[0]).containsIgnoringCase(c[1]);
            assertThat(run.out()).doesNotContain("database:");
        }
    }

    @Test
    void errors_pathOnlyExceptions_sayWhatIsWrong() {
        assertThat(Errors.describe(new java.nio.file.FileAlreadyExistsException("/tmp/f")))
                .isEqualTo("/tmp/f: already exists, and is not a directory");
        assertThat(Errors.describe(new java.nio.file.NotDirectoryException("/tmp/f")))
                .isEqualTo("/tmp/f: not a directory");
        assertThat(Errors.describe(new java.nio.file.AccessDeniedException("/proc/once-data")))
                .isEqualTo("/proc/once-data: permission denied");
        assertThat(Errors.describe(new java.io.IOException(new java.nio.file.NoSuchFileException("/a/b"))))
                .contains("/a/b: no such file or directory");
    }

    @Test
    void serve_sqliteFolderCannotBeCreated_oneLineWithTheReason() {
        RacecheckCommandTest.Run run = RacecheckCommandTest.once(
                "serve", "--upstream", "http://127.0.0.1:1", "--db", "jdbc:sqlite:/proc/once-data/once.db");

        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err())
                .contains("/proc/once-data")
                .contains("cannot create")
                .doesNotContain("\tat ");
    }

    @Test
    void bench_unknownName_exitTwo() {
        RacecheckCommandTest.Run run = RacecheckCommandTest.once("bench", "--only", "nginx");

        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err()).contains("--only nginx is not a benchmark");
    }

    /**
     * proxy-waiters: 3 once serve processes on one PostgreSQL, bursts of 50 keys x 12 identical requests
     * spread over them, against the same driver calling the upstream directly, and with {@code
     * --compare-with} 3 more from another jar (here a jar that launches this build), their bursts
     * alternated with these. Once the replicas are warm each key costs one upstream call on both sides;
     * the direct call costs 12; the phase timers were read for both.
     */
    @Test
    void bench_proxyWaiters_oneUpstreamCallPerKeyAcrossThreeReplicas_andAComparedBuild() throws Exception {
        RacecheckCommandTest.Run run = RacecheckCommandTest.once(
                "bench",
                "--quick",
                "--only",
                "proxy-waiters",
                "--compare-with",
                launcherJar().toString(),
                "--compare-jvm-options",
                "-XX:+UseSerialGC -Xss1m",
                "--burst",
                "20x9", // not the default 50x12: the shape given is the shape sent
                "--db",
                TestDatabases.url(Db.POSTGRES),
                "--out",
                out.toString());

        assertThat(run.exit()).as(run.out() + run.err()).isIn(0, 1);
        JsonNode json = new ObjectMapper().readTree(out.resolve("bench.json").toFile());
        JsonNode waiters = json.get("waiters");
        // nginx is on some machines and not others: either both its rows are there or a note says why not
        String notes = json.get("notes").toString();
        boolean nginx = !notes.contains("nginx not found") && !notes.contains("nginx could not be started");
        assertThat(waiters).as(run.out()).hasSize(nginx ? 9 : 7);
        assertThat(waiters.get(0).get("mode").asText()).isEqualTo("3 x once serve");
        assertThat(waiters.get(1).get("mode").asText()).isEqualTo("3 x once serve, first burst after start");
        assertThat(waiters.get(2).get("mode").asText())
                .isEqualTo("3 x once serve, compared build (launcher.jar under -XX:+UseSerialGC -Xss1m)");
        assertThat(waiters.get(3).get("mode").asText())
                .contains("compared build")
                .contains("first burst");
        assertThat(waiters.get(4).get("mode").asText()).isEqualTo("3 x bare coalescing proxy, no database (the floor)");
        // no coordination between bare replicas: one call per key in each, and never a second
        assertThat(waiters.get(4).get("loader_calls_per_key").asDouble()).isEqualTo(3.0);
        // the least coordination through the database: one call per key across the replicas, as once serve
        assertThat(waiters.get(5).get("mode").asText())
                .isEqualTo("3 x minimal database coalescing proxy (the protocol's floor)");
        assertThat(waiters.get(5).get("loader_calls_per_key").asDouble())
                .as(run.out())
                .isEqualTo(1.0);
        assertThat(TestDatabases.count(
                        Db.POSTGRES, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'once\\_floor\\_%'"))
                .as("the floor's scratch table is dropped")
                .isZero();
        if (nginx) {
            // nginx's cache lock lets one request per key through; its plain hop passes every request on
            assertThat(waiters.get(6).get("mode").asText()).startsWith("nginx proxy_cache_lock, one server");
            assertThat(waiters.get(6).get("loader_calls_per_key").asDouble()).isEqualTo(1.0);
            assertThat(waiters.get(7).get("mode").asText()).startsWith("nginx, one more HTTP hop, no cache");
            assertThat(waiters.get(7).get("loader_calls_per_key").asDouble()).isEqualTo(9.0);
            assertThat(run.out()).contains("nginx cache lock p50").contains("nginx hop p50");
        }
        JsonNode direct = waiters.get(waiters.size() - 1);
        assertThat(direct.get("mode").asText()).isEqualTo("same driver, straight to the upstream");
        for (int side : new int[] {0, 2}) {
            assertThat(waiters.get(side).get("loader_calls_per_key").asDouble())
                    .as(run.out())
                    .isEqualTo(1.0);
            assertThat(waiters.get(side).get("rounds").asInt()).isEqualTo(5);
            assertThat(waiters.get(side + 1).get("loader_calls_per_key").asDouble())
                    .isGreaterThanOrEqualTo(1.0);
        }
        assertThat(direct.get("loader_calls_per_key").asDouble()).isEqualTo(9.0);
        assertThat(direct.get("callers_per_process").asInt()).isEqualTo(180);
        for (int side : new int[] {0, 2, 4, 5})
            assertThat(waiters.get(side).get("callers_per_process").asInt()).isEqualTo(60);
        assertThat(notes).contains("bursts of 20 new keys x 9 identical requests");
        assertThat(run.out())
                .contains("bursts of 20 new keys x 9 identical requests")
                .contains("where a request's time went")
                .contains("measured rounds (compared build), where a request's time went")
                .contains("cache wake")
                .contains("proxy intake")
                .contains("proxy dispatch")
                .contains("compared build p50")
                .contains("bare proxy p50")
                .contains("protocol floor p50")
                .containsPattern("first upstream call, then from the upstream's answer to a request's last byte: once"
                        + " serve [0-9.]+ / [0-9.]+, [0-9.-]+ / [0-9.-]+;.* direct [0-9.]+ / [0-9.]+")
                // under tests the class path holds directories, which a JDK AOT cache cannot take: said, not tried
                .contains("no first burst from a JDK AOT cache");
        assertThat(run.out()).doesNotContain("requests failed");
    }

    @Test
    void bench_compareWithWithoutAJarOrWithoutProxyWaiters_exitTwo() throws Exception {
        RacecheckCommandTest.Run missing = RacecheckCommandTest.once(
                "bench",
                "--only",
                "proxy-waiters",
                "--compare-with",
                out.resolve("nothing.jar").toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("--compare-with").contains("not a jar file");

        RacecheckCommandTest.Run elsewhere = RacecheckCommandTest.once(
                "bench", "--only", "cache-hit", "--compare-with", launcherJar().toString());
        assertThat(elsewhere.exit()).isEqualTo(2);
        assertThat(elsewhere.err()).contains("--compare-with applies to proxy-waiters");

        RacecheckCommandTest.Run notOptions =
                RacecheckCommandTest.once("bench", "--only", "proxy-waiters", "--compare-jvm-options", "UseSerialGC");
        assertThat(notOptions.exit()).isEqualTo(2);
        assertThat(notOptions.err()).contains("each starting with '-'");
        RacecheckCommandTest.Run blank =
                RacecheckCommandTest.once("bench", "--only", "proxy-waiters", "--compare-jvm-options", " ");
        assertThat(blank.exit()).isEqualTo(2);
        RacecheckCommandTest.Run optionsElsewhere =
                RacecheckCommandTest.once("bench", "--only", "cache-hit", "--compare-jvm-options", "-XX:+UseSerialGC");
        assertThat(optionsElsewhere.exit()).isEqualTo(2);
        assertThat(optionsElsewhere.err()).contains("--compare-jvm-options applies to proxy-waiters");

        for (String bad : new String[] {"50", "0x12", "10x0", "201x1", "1x49", "10x12x3", "ax12", "-1x12", ""}) {
            RacecheckCommandTest.Run burst =
                    RacecheckCommandTest.once("bench", "--only", "proxy-waiters", "--burst", bad);
            assertThat(burst.exit()).as(bad).isEqualTo(2);
            assertThat(burst.err()).as(bad).contains("--burst '" + bad + "': give new keys x requests per key");
        }
        RacecheckCommandTest.Run burstElsewhere =
                RacecheckCommandTest.once("bench", "--only", "cache-hit", "--burst", "10x12");
        assertThat(burstElsewhere.exit()).isEqualTo(2);
        assertThat(burstElsewhere.err()).contains("--burst applies to proxy-waiters");
    }

    /** A jar whose manifest runs this build's command from the test class path: "another build" for the bench. */
    private Path launcherJar() throws java.io.IOException {
        Path jar = out.resolve("launcher.jar");
        if (java.nio.file.Files.exists(jar)) return jar;
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        StringBuilder entries = new StringBuilder();
        for (String entry : classPath.split(java.io.File.pathSeparator)) {
            if (!entry.isBlank()) entries.append(Path.of(entry).toUri()).append(' ');
        }
        java.util.jar.Manifest manifest = new java.util.jar.Manifest();
        manifest.getMainAttributes().put(java.util.jar.Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(java.util.jar.Attributes.Name.MAIN_CLASS, OnceCommand.class.getName());
        manifest.getMainAttributes()
                .put(
                        java.util.jar.Attributes.Name.CLASS_PATH,
                        entries.toString().strip());
        try (var o = new java.util.jar.JarOutputStream(java.nio.file.Files.newOutputStream(jar), manifest)) {
            // the manifest is the whole jar
        }
        return jar;
    }
}
