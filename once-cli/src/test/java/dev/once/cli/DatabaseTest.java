package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.once.jdbc.testing.SilentServer;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class DatabaseTest {
    /**
     * SIGTERM while the database accepts connections and never answers: HikariCP's close waited for its
     * connection attempt under way, up to the 10 s login timeout, so once serve exited up to 10 s after
     * its --drain (9.8 s with --drain 1s, measured; this test's close took 7.1 s before). The pool's close
     * is now bounded.
     */
    @Test
    void pool_databaseNeverAnswers_closeReturnsWithinItsBound() throws Exception {
        try (SilentServer silent = new SilentServer()) {
            Database db =
                    Database.connectUnlessDown("jdbc:postgresql://127.0.0.1:" + silent.port() + "/app", "app", null);
            assertThat(db.down)
                    .as("the check waits for an answer and gets none")
                    .isNotNull();
            HikariDataSource pool = db.pool(4);
            long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            while (!adderWaiting() && System.nanoTime() < deadline) Thread.sleep(50);
            assertThat(adderWaiting())
                    .as("the pool's connection attempt is under way")
                    .isTrue();
            long started = System.nanoTime();
            pool.close();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(4));
            assertThat(pool.isClosed()).isTrue();
        }
    }

    /** HikariCP's connection adder waits for a login (pgjdbc runs it on a thread of its own). */
    private static boolean adderWaiting() {
        return Thread.getAllStackTraces().entrySet().stream()
                .anyMatch(e -> e.getKey().getName().equals("once:connection-adder")
                        && java.util.Arrays.stream(e.getValue())
                                .anyMatch(f -> f.getMethodName().equals("awaitDone")));
    }
}
