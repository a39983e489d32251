package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./once} launcher gives {@code serve} a least heap of 256 MB (G1 otherwise kept a replica's
 * heap near its live set and paused mid-burst, see docs/measurements.md), unless the JVM may have less than
 * 512 MB or the user's JVM options already size the heap. Run with the built once.jar (failsafe, after
 * {@code package}: the launcher builds the jar when it is missing) and a stand-in JVM that prints what it
 * was asked to run.
 */
class LauncherHeapIT {
    @TempDir
    Path dir;

    @Test
    void serve_noHeapOptions_startsWithALeastHeap() throws Exception {
        assertThat(launch("serve", Map.of())).contains("-Xms256m -jar ").contains(" serve --port 0");
    }

    @Test
    void serve_userSizedTheHeap_orTheJvmMayHaveLessThan512MB_noLeastHeap() throws Exception {
        assertThat(launch("serve", Map.of("JAVA_TOOL_OPTIONS", "-Xms64m"))).doesNotContain("-Xms256m");
        assertThat(launch("serve", Map.of("JDK_JAVA_OPTIONS", "-XX:InitialRAMPercentage=50")))
                .doesNotContain("-Xms256m");
        assertThat(launch("serve", Map.of("JAVA_TOOL_OPTIONS", "-Xmx300m")))
                .as("-Xms256m beside -Xmx300m would leave G1 no room; below -Xmx192m the JVM would refuse it")
                .doesNotContain("-Xms256m")
                .contains(" -jar ");
        assertThat(launch("serve", Map.of("JAVA_TOOL_OPTIONS", "-Xmx1g"))).contains("-Xms256m");
        assertThat(launch("serve", Map.of("JDK_JAVA_OPTIONS", "-Xmx4g")))
                .as("the JVM says 'Max. Heap Size' without '(Estimated)' when told")
                .contains("-Xms256m");
        Path options = dir.resolve("vm.options");
        Files.writeString(options, "-Xms64m\n");
        assertThat(launch("serve", Map.of("JAVA_TOOL_OPTIONS", "-XX:VMOptionsFile=" + options)))
                .as("options in a file are the user's too (helper-46)")
                .doesNotContain("-Xms256m");
        assertThat(launch("serve", Map.of("JDK_JAVA_OPTIONS", "@" + options))).doesNotContain("-Xms256m");
    }

    @Test
    void otherCommands_noLeastHeap() throws Exception {
        assertThat(launch("demo", Map.of())).doesNotContain("-Xms").contains(" -jar ");
    }

    /** What the launcher ran: the stand-in JVM's line. */
    private String launch(String command, Map<String, String> env) throws Exception {
        Path fake = dir.resolve("java");
        // the launcher asks its JVM for its version and its heap first: those go to the real one
        Files.writeString(
                fake,
                "#!/bin/bash\nfor a in \"$@\"; do case \"$a\" in -XshowSettings:*|-version) exec '" + java()
                        + "' \"$@\";; esac; done\necho \"RAN: $*\"\n");
        assertThat(fake.toFile().setExecutable(true)).isTrue();
        ProcessBuilder pb = new ProcessBuilder("bash", root().resolve("once").toString(), command, "--port", "0")
                .redirectErrorStream(true);
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().put("ONCE_JAVA", fake.toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out.lines()
                .filter(l -> l.startsWith("RAN: "))
                .findFirst()
                .orElseThrow(() -> new AssertionError("the launcher ran no JVM: " + out));
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static Path root() {
        return Path.of("").toAbsolutePath().getParent();
    }
}
