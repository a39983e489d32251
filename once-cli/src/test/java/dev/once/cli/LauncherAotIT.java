package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.proxy.testing.FakeUpstream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./once} launcher's AOT cache ({@code ONCE_AOT_CACHE}), with the built once.jar (failsafe,
 * after {@code package}): two replicas started at once on one cache file train it once (the other waits
 * on the lock), both start from it, and the JVM can map it ({@code -XX:AOTMode=on} fails otherwise).
 * Needs a JDK 25+ (the build's toolchain); skipped with a message on an older one.
 */
class LauncherAotIT {
    @TempDir
    Path dir;

    @Test
    void launcher_twoReplicasOneCacheFile_trainedOnceBothStartFromIt() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Assumptions.assumeTrue(
                Runtime.version().feature() >= 25,
                "the AOT cache needs a JDK 25+; this build's is " + Runtime.version());
        Path root = Path.of("").toAbsolutePath().getParent();
        Path cache = dir.resolve("aot/once.aot");
        try (FakeUpstream upstream = new FakeUpstream(10)) {
            List<Process> replicas = new java.util.ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    ProcessBuilder pb = new ProcessBuilder(
                                    root.resolve("once").toString(),
                                    "serve",
                                    "--upstream",
                                    upstream.url(),
                                    "--db",
                                    "jdbc:sqlite:" + dir.resolve("replica-" + i + ".db"),
                                    "--host",
                                    "127.0.0.1",
                                    "--port",
                                    "0",
                                    "--warm-up",
                                    "20")
                            .redirectErrorStream(true)
                            .redirectOutput(dir.resolve("replica-" + i + ".log").toFile());
                    pb.environment().put("ONCE_JAVA", java);
                    pb.environment().put("ONCE_AOT_CACHE", cache.toString());
                    pb.environment().put("ONCE_AOT_WARM_UP", "200");
                    replicas.add(pb.start());
                }
                long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
                for (int i = 0; i < 2; i++) {
                    Path log = dir.resolve("replica-" + i + ".log");
                    while (!Files.readString(log).contains("listening on")) {
                        assertThat(replicas.get(i).isAlive())
                                .as("replica %d alive: %s", i, Files.readString(log))
                                .isTrue();
                        assertThat(System.nanoTime()).as(Files.readString(log)).isLessThan(deadline);
                        Thread.sleep(100);
                    }
                }
            } finally {
                for (Process p : replicas) p.destroy();
                for (Process p : replicas) if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
            }
            String logs =
                    Files.readString(dir.resolve("replica-0.log")) + Files.readString(dir.resolve("replica-1.log"));
            assertThat(logs.split("training the AOT cache", -1)).as(logs).hasSize(2); // once
            assertThat(logs.split("starting from the AOT cache", -1)).as(logs).hasSize(3); // both
            assertThat(logs).doesNotContain("could not be trained").doesNotContain("[error]");
            assertThat(upstream.totalCalls())
                    .as("the training never calls the upstream")
                    .isZero();
        }
        assertThat(cache).exists();
        assertThat(Path.of(cache + ".stamp")).exists();
        // mapped as the launcher runs it, or this fails (AOTMode=on refuses to start without the cache)
        Process check = new ProcessBuilder(
                        java,
                        "-XX:AOTMode=on",
                        "-XX:AOTCache=" + cache,
                        "-jar",
                        root.resolve("once-cli/target/once.jar").toString(),
                        "--version")
                .redirectErrorStream(true)
                .start();
        String said = new String(check.getInputStream().readAllBytes());
        assertThat(check.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(check.exitValue()).as(said).isZero();
    }
}
