package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.proxy.testing.FakeUpstream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./once} launcher's AOT cache ({@code ONCE_AOT_CACHE}), with the built once.jar (failsafe,
 * after {@code package}). Needs a JDK 25+ (the build's toolchain); skipped with a message on an older one.
 */
class LauncherAotIT {
    @TempDir
    Path dir;

    @BeforeEach
    void jdk25() {
        Assumptions.assumeTrue(
                Runtime.version().feature() >= 25,
                "the AOT cache needs a JDK 25+; this build's is " + Runtime.version());
    }

    /**
     * Two replicas started at once on one cache file: one trains it (the other waits on the lock), both
     * start from it, the upstream is never called, and the JVM can map it ({@code -XX:AOTMode=on} fails
     * otherwise). Damaged afterwards, it is refused by its checksum and a replica starts without it.
     */
    @Test
    void launcher_twoReplicasOneCacheFile_trainedOnceBothStartFromIt_aDamagedOneIsRefused() throws Exception {
        Path cache = dir.resolve("aot/once.aot");
        try (FakeUpstream upstream = new FakeUpstream(10)) {
            List<Process> replicas = new java.util.ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) replicas.add(serve(cache.toString(), upstream, "replica-" + i));
                for (int i = 0; i < 2; i++) awaitListening(replicas.get(i), "replica-" + i);
            } finally {
                stop(replicas);
            }
            String logs =
                    Files.readString(dir.resolve("replica-0.log")) + Files.readString(dir.resolve("replica-1.log"));
            assertThat(logs.split("training the AOT cache", -1)).as(logs).hasSize(2); // once
            assertThat(logs.split("starting from the AOT cache", -1)).as(logs).hasSize(3); // both
            assertThat(logs).doesNotContain("could not be trained").doesNotContain("[error]");
            assertThat(upstream.totalCalls())
                    .as("the training never calls the upstream")
                    .isZero();
            assertThat(cache).exists();
            assertThat(Path.of(cache + ".stamp")).exists();
            Process check = new ProcessBuilder(
                            java(),
                            "-XX:AOTMode=on",
                            "-XX:AOTCache=" + cache,
                            "-jar",
                            root().resolve("once-cli/target/once.jar").toString(),
                            "--version")
                    .redirectErrorStream(true)
                    .start();
            String said = new String(check.getInputStream().readAllBytes());
            assertThat(check.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(check.exitValue()).as(said).isZero();

            // damaged after it was stamped (without the checksum check the JVM crashed on such a file)
            try (var f = new java.io.RandomAccessFile(cache.toFile(), "rw")) {
                f.seek(f.length() / 2);
                byte[] noise = new byte[4096];
                new java.util.Random(1).nextBytes(noise);
                f.write(noise);
            }
            assertThat(serveUntilListening(cache.toString(), upstream, "damaged", Map.of()))
                    .contains("Checksum verification failed") // -XX:+VerifySharedSpaces, else the JVM maps it
                    .doesNotContain("SIGSEGV");
        }
    }

    /**
     * JVM options in the environment that end in a newline (a YAML block scalar gives them so): the second
     * start uses the cache the first trained. The stamp was compared as raw text read back without its
     * last newline, so it never matched and every start trained anew, then started without the cache.
     */
    @Test
    void launcher_jvmOptionsEndingInANewline_secondStartUsesTheCache() throws Exception {
        Path cache = dir.resolve("newline/once.aot");
        try (FakeUpstream upstream = new FakeUpstream(10)) {
            Map<String, String> env = Map.of("JDK_JAVA_OPTIONS", "-Xmx256m\n");
            assertThat(serveUntilListening(cache.toString(), upstream, "first", env))
                    .contains("trained the AOT cache");
            assertThat(serveUntilListening(cache.toString(), upstream, "second", env))
                    .contains("starting from the AOT cache")
                    .doesNotContain("once: training");
        }
    }

    /**
     * Nothing to serve (--help, -hV), a directory, or a name the JDK would expand per process (%p): no
     * training, no cache file, and serve still runs.
     */
    @Test
    void launcher_helpADirectoryOrAPercent_trainsNothingAndServeStillRuns() throws Exception {
        try (FakeUpstream upstream = new FakeUpstream(10)) {
            Path cache = dir.resolve("help/once.aot");
            for (String flag : List.of("--help", "-hV")) {
                Process help = launcher(cache.toString(), "help", Map.of(), "serve", flag);
                assertThat(help.waitFor(60, TimeUnit.SECONDS)).isTrue();
                String said = Files.readString(dir.resolve("help.log"));
                assertThat(help.exitValue()).as(said).isZero();
                assertThat(said)
                        .contains("Usage:")
                        .doesNotContain("once: training")
                        .doesNotContain("once: starting from");
                assertThat(cache).doesNotExist();
            }

            Path folder = Files.createDirectories(dir.resolve("folder"));
            assertThat(serveUntilListening(folder.toString(), upstream, "folder", Map.of()))
                    .contains("is a directory; name a file")
                    .doesNotContain("once: training");

            assertThat(serveUntilListening(dir.resolve("once-%p.aot").toString(), upstream, "percent", Map.of()))
                    .contains("holds a '%'")
                    .doesNotContain("once: training");
            try (var files = Files.list(dir)) {
                assertThat(files.map(Path::toString)).noneMatch(f -> f.endsWith(".aot"));
            }
        }
    }

    private Process serve(String cache, FakeUpstream upstream, String name) throws Exception {
        return serve(cache, upstream, name, Map.of());
    }

    private Process serve(String cache, FakeUpstream upstream, String name, Map<String, String> env) throws Exception {
        return launcher(
                cache,
                name,
                env,
                "serve",
                "--upstream",
                upstream.url(),
                "--db",
                "jdbc:sqlite:" + dir.resolve(name + ".db"),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--warm-up",
                "20");
    }

    /** Starts one, waits until it listens, stops it; returns what it said. */
    private String serveUntilListening(String cache, FakeUpstream upstream, String name, Map<String, String> env)
            throws Exception {
        Process p = serve(cache, upstream, name, env);
        try {
            awaitListening(p, name);
        } finally {
            stop(List.of(p));
        }
        return Files.readString(dir.resolve(name + ".log"));
    }

    private Process launcher(String cache, String name, Map<String, String> env, String... args) throws Exception {
        List<String> command =
                new java.util.ArrayList<>(List.of(root().resolve("once").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile());
        pb.environment().put("ONCE_JAVA", java());
        pb.environment().put("ONCE_AOT_CACHE", cache);
        pb.environment().put("ONCE_AOT_WARM_UP", "200");
        pb.environment().putAll(env);
        return pb.start();
    }

    private void awaitListening(Process p, String name) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
        Path log = dir.resolve(name + ".log");
        while (!Files.readString(log).contains("listening on")) {
            assertThat(p.isAlive())
                    .as("%s alive: %s", name, Files.readString(log))
                    .isTrue();
            assertThat(System.nanoTime()).as(Files.readString(log)).isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    private static void stop(List<Process> processes) throws InterruptedException {
        for (Process p : processes) p.destroy();
        for (Process p : processes) if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static Path root() {
        return Path.of("").toAbsolutePath().getParent();
    }
}
