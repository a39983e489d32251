package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code once serve} refusing bad input in-process, before it listens. */
class ServeCommandTest {
    @TempDir
    Path dir;

    /** 0 would answer every request 504: refused as --ttl 0 is, from the command line and from the file. */
    @ParameterizedTest
    @ValueSource(
            strings = {"--upstream-timeout 0s", "--upstream-timeout 0ms", "upstreamTimeout: 0s", "connectTimeout: 0s"})
    void serve_zeroTimeout_refusedExitTwo(String setting) throws Exception {
        String db = "jdbc:sqlite:" + dir.resolve("once.db");
        String[] args;
        if (setting.startsWith("--")) {
            args = new String[] {
                "serve",
                "--upstream",
                "http://127.0.0.1:1",
                "--db",
                db,
                "--port",
                "0",
                "--warm-up",
                "0",
                setting.split(" ")[0],
                setting.split(" ")[1]
            };
        } else {
            Path config =
                    Files.writeString(dir.resolve("once.yaml"), "upstream: http://127.0.0.1:1\n" + setting + "\n");
            args = new String[] {"serve", "--config", config.toString(), "--db", db, "--port", "0", "--warm-up", "0"};
        }
        RacecheckCommandTest.Run run =
                Assertions.assertTimeoutPreemptively(Duration.ofSeconds(20), () -> RacecheckCommandTest.once(args));

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err())
                .contains(setting.startsWith("--") ? "--upstream-timeout" : setting.split(":")[0])
                .contains("must be more than 0");
    }

    /** Two routes with one prefix: only one could ever match; refused naming it, as other bad files are. */
    @org.junit.jupiter.api.Test
    void serve_samePrefixTwiceInConfig_oneLineExitTwo() throws Exception {
        Path config = Files.writeString(
                dir.resolve("once.yaml"),
                "upstream: http://127.0.0.1:1\nroutes:\n  - prefix: /v1/\n    ttl: 1m\n  - prefix: /v1/\n    ttl: 1h\n");
        String[] args = {
            "serve",
            "--config",
            config.toString(),
            "--db",
            "jdbc:sqlite:" + dir.resolve("once.db"),
            "--port",
            "0",
            "--warm-up",
            "0"
        };
        RacecheckCommandTest.Run run =
                Assertions.assertTimeoutPreemptively(Duration.ofSeconds(20), () -> RacecheckCommandTest.once(args));

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err().strip()).isEqualTo("once serve: route /v1/ is given twice");
    }

    /** An empty db in the file, as an empty --db: refused, not run on the SQLite default instead. */
    @org.junit.jupiter.api.Test
    void serve_emptyDbInConfig_oneLineExitTwo() throws Exception {
        Path config = Files.writeString(dir.resolve("once.yaml"), "upstream: http://127.0.0.1:1\ndb: \"\"\n");
        String[] args = {"serve", "--config", config.toString(), "--port", "0", "--warm-up", "0"};
        RacecheckCommandTest.Run run =
                Assertions.assertTimeoutPreemptively(Duration.ofSeconds(20), () -> RacecheckCommandTest.once(args));

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err().strip())
                .isEqualTo("once serve: 'db' in --config is empty; give a JDBC URL, or leave it out to use "
                        + ServeCommand.DEFAULT_DB);
    }

    /**
     * An empty namespace, given or in the file, as with ONCE_NAMESPACE unset in --namespace=$ONCE_NAMESPACE:
     * refused, not run on the default namespace, whose answers and purge other proxies share (helper-47).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"flag", "file"})
    void serve_emptyNamespace_oneLineExitTwo(String where) throws Exception {
        Path config = Files.writeString(
                dir.resolve("once.yaml"),
                "upstream: http://127.0.0.1:1\n" + (where.equals("file") ? "namespace: \"\"\n" : ""));
        List<String> args = new java.util.ArrayList<>(
                List.of("serve", "--config", config.toString(), "--port", "0", "--warm-up", "0"));
        if (where.equals("flag")) args.add("--namespace=");
        RacecheckCommandTest.Run run = Assertions.assertTimeoutPreemptively(
                Duration.ofSeconds(20), () -> RacecheckCommandTest.once(args.toArray(String[]::new)));

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err().strip())
                .isEqualTo(
                        where.equals("flag")
                                ? "once serve: --namespace is empty; give a name, or leave --namespace out to use 'proxy'"
                                : "once serve: 'namespace' in --config is empty; give a name, or leave it out to use 'proxy'");
    }

    /**
     * A training run (--exit-after-warm-up) with its database down has nothing to train on: exit 1, said
     * in one line, where a serving run starts without the database.
     */
    @org.junit.jupiter.api.Test
    void serve_exitAfterWarmUpDatabaseDown_exitOneNotListening() throws Exception {
        int closed;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        String[] args = {
            "serve",
            "--upstream",
            "http://127.0.0.1:1",
            "--port",
            "0",
            "--exit-after-warm-up",
            "--db",
            "jdbc:postgresql://127.0.0.1:" + closed + "/app",
            "--user",
            "app"
        };
        RacecheckCommandTest.Run run =
                Assertions.assertTimeoutPreemptively(Duration.ofSeconds(30), () -> RacecheckCommandTest.once(args));

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(1);
        assertThat(run.err().strip())
                .isEqualTo("once serve: the database cannot be reached: nothing worth training on; not listening"
                        + " (--exit-after-warm-up)");
        assertThat(run.out()).doesNotContain("listening on");
    }
}
