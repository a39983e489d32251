package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The container image, built and run (deploy/image.sh check): 3 containers on one PostgreSQL, one
 * upstream call per key, in-flight requests finished on SIGTERM. Runs after {@code package} (failsafe),
 * when podman is installed and PostgreSQL answers at {@code ONCE_CHECK_DB_URL} (default
 * {@code jdbc:postgresql://127.0.0.1:5432/test}, user postgres); skipped with a message otherwise.
 * {@code -DskipITs} skips it too.
 */
class ImageIT {
    private static final Pattern RESULT = Pattern.compile(
            "RESULT replicas=(\\d+) keys=(\\d+) requests=(\\d+) upstream_calls=(\\d+) calls_per_key=\\S+ healthy_s=\\S+"
                    + " in_flight=(\\d+) in_flight_finished=(\\d+) failures=(\\d+)");

    @Test
    void image_threeContainers_oneUpstreamCallPerKey_inFlightFinishOnSigterm() throws Exception {
        Assumptions.assumeTrue(
                onPath("podman"),
                "podman is not installed: the image check (deploy/image.sh check) is skipped;"
                        + " apt-get install podman runc mmdebstrap to run it");
        String db = System.getenv().getOrDefault("ONCE_CHECK_DB_URL", "jdbc:postgresql://127.0.0.1:5432/test");
        String user = System.getenv().getOrDefault("ONCE_CHECK_DB_USER", "postgres");
        String password = System.getenv().getOrDefault("ONCE_CHECK_DB_PASSWORD", "");
        DriverManager.setLoginTimeout(5);
        try (var c = DriverManager.getConnection(db, user, password)) {
            c.isValid(5);
        } catch (java.sql.SQLException e) {
            Assumptions.abort("no PostgreSQL at " + db + " for the image check (set ONCE_CHECK_DB_URL, _USER,"
                    + " _PASSWORD): " + e.getMessage());
        }

        Path module = Path.of("").toAbsolutePath();
        Path log = module.resolve("target/image-check.log");
        ProcessBuilder pb = new ProcessBuilder(
                        module.getParent().resolve("deploy/image.sh").toString(), "check")
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put("ONCE_JAR", module.resolve("target/once.jar").toString());
        pb.environment().put("ONCE_IMAGE", "localhost/once:it");
        pb.environment()
                .put(
                        "ONCE_JAVA",
                        Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Process p = pb.start();
        boolean done = p.waitFor(8, TimeUnit.MINUTES);
        if (!done) p.destroyForcibly();
        String out = Files.readString(log, StandardCharsets.UTF_8);
        System.out.println(out);
        assertThat(done).as("deploy/image.sh check within 8 minutes:\n" + out).isTrue();
        if (p.exitValue() == 3) Assumptions.abort("the base image could not be built here:\n" + out);

        assertThat(p.exitValue()).as(out).isZero();
        Matcher m = RESULT.matcher(out);
        assertThat(m.find()).as("a RESULT line in:\n" + out).isTrue();
        assertThat(Integer.parseInt(m.group(1))).as("replicas").isEqualTo(3);
        int keys = Integer.parseInt(m.group(2));
        assertThat(keys).isPositive();
        assertThat(Integer.parseInt(m.group(5))).as("in flight at SIGTERM").isPositive();
        assertThat(Integer.parseInt(m.group(3))).as("requests").isEqualTo(keys * 12);
        assertThat(Integer.parseInt(m.group(4))).as("upstream calls").isEqualTo(keys);
        assertThat(Integer.parseInt(m.group(6))).as("in-flight finished").isEqualTo(Integer.parseInt(m.group(5)));
        assertThat(Integer.parseInt(m.group(7))).as("failures").isZero();
    }

    private static boolean onPath(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, command))) return true;
        }
        return false;
    }
}
