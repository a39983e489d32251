package dev.once.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.JavaProcess;
import dev.once.jdbc.testing.TestDatabases;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Three JVMs with four threads each race getOrCreate on the same keys of one table. */
class MultiProcessGetOrCreateTest {
    private static final int PROCESSES = 3;
    private static final int THREADS = 4;
    private static final int KEYS = 300;
    private static final Pattern RESULT = Pattern.compile("created=(\\d+) errors=(\\d+)");

    @TempDir
    Path logs;

    @ParameterizedTest
    @EnumSource(Db.class)
    void getOrCreate_threeProcesses_eachKeyCreatedExactlyOnce(Db db) throws Exception {
        String t = TestDatabases.newTable("procs");
        TestDatabases.execute(
                db, "CREATE TABLE " + t + " (" + db.idColumn() + ", k VARCHAR(40) NOT NULL UNIQUE, v INT)");
        long startAt = System.currentTimeMillis() + 4_000; // every JVM is up by then, so they start together
        List<Process> processes = new ArrayList<>();
        List<Path> outputs = new ArrayList<>();
        for (int p = 0; p < PROCESSES; p++) {
            Path out = logs.resolve("worker-" + p + ".log");
            outputs.add(out);
            processes.add(JavaProcess.start(
                    RaceWorker.class,
                    out,
                    TestDatabases.url(db),
                    t,
                    String.valueOf(KEYS),
                    String.valueOf(THREADS),
                    String.valueOf(startAt)));
        }
        int created = 0;
        int errors = 0;
        for (int p = 0; p < PROCESSES; p++) {
            assertThat(processes.get(p).waitFor(120, TimeUnit.SECONDS))
                    .as("worker %d finished", p)
                    .isTrue();
            String log = Files.readString(outputs.get(p));
            assertThat(processes.get(p).exitValue()).as(log).isZero();
            Matcher m = RESULT.matcher(log);
            assertThat(m.find()).as(log).isTrue();
            created += Integer.parseInt(m.group(1));
            errors += Integer.parseInt(m.group(2));
        }
        assertThat(errors).isZero();
        assertThat(created).isEqualTo(KEYS);
        assertThat(TestDatabases.count(db, "SELECT COUNT(*) FROM " + t + " WHERE k LIKE 'key-%'"))
                .isEqualTo(KEYS);
        assertThat(TestDatabases.count(db, "SELECT COUNT(DISTINCT k) FROM " + t))
                .isEqualTo(KEYS + 1);
    }
}
