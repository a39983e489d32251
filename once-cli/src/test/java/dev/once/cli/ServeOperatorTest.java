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

/** A careless operator's settings (helper-76): each refused in one line that repeats no secret. */
class ServeOperatorTest {
    @TempDir
    Path dir;

    private static RacecheckCommandTest.Run once(String... args) {
        return Assertions.assertTimeoutPreemptively(Duration.ofSeconds(30), () -> RacecheckCommandTest.once(args));
    }

    /**
     * A libpq-style URL (a Heroku DATABASE_URL in ONCE_DB_URL): echoed whole in its refusal, or, with jdbc:
     * before it, taken by pgjdbc for a host named app:PASSWORD@127.0.0.1, the password printed four times and
     * the replica started uncached for good.
     */
    @ParameterizedTest
    @ValueSource(
            strings = {
                "postgres://app:Pw-DB-s3cr3t@127.0.0.1:1/app",
                "postgresql://app:Pw-DB-s3cr3t@127.0.0.1:1/app",
                "jdbc:postgresql://app:Pw-DB-s3cr3t@127.0.0.1:1/app"
            })
    void serve_dbUrlWithUserInfo_refusedWithoutThePassword(String url) {
        RacecheckCommandTest.Run run =
                once("serve", "--port", "0", "--exit-after-warm-up", "--upstream", "http://127.0.0.1:1", "--db", url);

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.out() + run.err()).doesNotContain("Pw-DB-s3cr3t");
        assertThat(run.err().strip().lines()).as(run.err()).hasSize(1);
    }

    /** The YAML parser's message quoted the line it stopped at, a caret under the secret, over six lines. */
    @ParameterizedTest
    @ValueSource(
            strings = {"dbPassword: @Pw-DB-s3cr3t", "keySecret: %Key-s3cr3t-0123456789", "adminToken: `Adm-s3cr3t"})
    void serve_yamlErrorOnASecretsLine_oneLineWithoutTheSecret(String line) throws Exception {
        Path config = Files.writeString(dir.resolve("once.yaml"), "upstream: http://127.0.0.1:1\n" + line + "\n");
        RacecheckCommandTest.Run run = once(
                "serve",
                "--port",
                "0",
                "--warm-up",
                "0",
                "--config",
                config.toString(),
                "--db",
                "jdbc:sqlite:" + dir.resolve("once.db"));

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err().strip().lines()).as(run.err()).hasSize(1);
        assertThat(run.err()).contains("(line 2)").doesNotContain("s3cr3t");
    }

    /** picocli quoted every unmatched argument: the secret typed after a mistyped option with them. */
    @ParameterizedTest
    @ValueSource(strings = {"--key-secert", "--pasword", "--admin-tokn"})
    void serve_mistypedSecretOption_valueNotEchoed(String typo) {
        RacecheckCommandTest.Run run =
                once("serve", "--upstream", "http://127.0.0.1:1", typo, "Typo-s3cr3t-0123456789");

        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err())
                .startsWith("once serve: Unknown option: '" + typo + "'")
                .doesNotContain("Typo-s3cr3t");
    }

    /** --key-secret=$SECRET with the variable unset ran with plain SHA-256 keys, as --db= ran on the default. */
    @org.junit.jupiter.api.Test
    void serve_emptyKeySecretGiven_refused() {
        RacecheckCommandTest.Run run = once(
                "serve", "--port", "0", "--exit-after-warm-up", "--upstream", "http://127.0.0.1:1", "--key-secret=");

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err().strip().lines()).as(run.err()).hasSize(1);
        assertThat(run.err()).contains("--key-secret is empty");
    }

    /**
     * helper-76: --mode http with --ttl gave '/' a TTL of its own, an api-mode route: RFC 9111 off for every
     * path while the start line said http.
     */
    @org.junit.jupiter.api.Test
    void serve_httpModeWithTtl_refused() {
        RacecheckCommandTest.Run run = trained("--mode", "http", "--ttl", "5m");

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err().strip().lines()).as(run.err()).hasSize(1);
        assertThat(run.err()).contains("--ttl gives the default route '/' a TTL of its own");
    }

    /** helper-78: a blank --ttl (ONCE_TTL=${TTL} with TTL unset) is unset, as elsewhere: http mode runs. */
    @org.junit.jupiter.api.Test
    void serve_httpModeWithBlankTtl_runsInHttpMode() {
        RacecheckCommandTest.Run run = trained("--mode", "http", "--ttl=");

        assertThat(run.exit()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("exiting after the warm-up");
    }

    /** The Kubernetes template's admin token, deployed unchanged: refused at start, not repeated. */
    @org.junit.jupiter.api.Test
    void serve_placeholderAdminToken_refused() {
        RacecheckCommandTest.Run run = trained("--admin-token", "change-me-too-but-long-enough");

        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err().strip().lines()).as(run.err()).hasSize(1);
        assertThat(run.err())
                .contains("admin token is a template's placeholder")
                .doesNotContain("but-long");
    }

    /** once serve on SQLite in front of an upstream nobody answers, training only, with these options. */
    private RacecheckCommandTest.Run trained(String... options) {
        List<String> args = new java.util.ArrayList<>(
                List.of("serve", "--port", "0", "--exit-after-warm-up", "--upstream", "http://127.0.0.1:1", "--db"));
        args.add("jdbc:sqlite:" + dir.resolve("once.db"));
        args.addAll(List.of(options));
        return once(args.toArray(String[]::new));
    }
}
