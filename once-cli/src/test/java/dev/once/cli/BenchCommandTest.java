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
        assertThat(json.get("pairs")).as(run.out()).hasSize(2);
        for (JsonNode pair : json.get("pairs")) {
            assertThat(pair.get("candidate_ops_per_s")).hasSize(3);
            assertThat(pair.get("ratio").asDouble()).isPositive();
        }
        assertThat(json.get("pairs").get(0).get("name").asText()).isEqualTo("getOrCreate, existing key");
        assertThat(json.get("waiters")).hasSize(2); // NOTIFY and polling
        for (JsonNode w : json.get("waiters")) {
            assertThat(w.get("loader_calls_per_key").asDouble()).isEqualTo(1.0);
            assertThat(w.get("waiter_ms")).isNotEmpty();
        }
        assertThat(run.out()).contains("Cross-process waiters");
        String html = java.nio.file.Files.readString(out.resolve("bench.html"));
        assertThat(html).contains("<svg").contains("getOrCreate, existing key").contains("waiter latency, notify");
        assertThat(html)
                .doesNotContain("<script")
                .doesNotContain("http://")
                .doesNotContain("https://"); // opens offline
    }

    @Test
    void bench_unknownName_exitTwo() {
        RacecheckCommandTest.Run run = RacecheckCommandTest.once("bench", "--only", "nginx");

        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err()).contains("--only nginx is not a benchmark");
    }
}
