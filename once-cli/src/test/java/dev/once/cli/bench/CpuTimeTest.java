package dev.once.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The bench's per-thread CPU: threads of one kind counted together, and this JVM's threads read. */
class CpuTimeTest {

    /** Names as the kernel keeps them: 15 characters. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({
        "C2 CompilerThre, C2 compiler",
        "C1 CompilerThre, C1 compiler",
        "GC Thread#1, GC",
        "G1 Conc#0, GC",
        "ForkJoinPool-1-, virtual-thread carriers",
        "once-proxy-41, Jetty server",
        "qtp1873859565-3, Jetty server",
        "HttpClient@1b9e, Jetty client",
        "once-cache-list, once-cache listener",
        "once-cache-stor, once-cache alarms",
        "Monitor Deflati, Monitor Deflati",
        "pool-3-thread-1, pool-3-thread"
    })
    void threadKind_numbersThatTellThreadsApart_takenOut(String name, String kind) {
        assertThat(CpuTime.threadKind(name)).isEqualTo(kind);
    }

    @Test
    void byThread_thisJvm_countsTheThreadThatSpins() throws Exception {
        assumeTrue(java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/self/task")), "Linux only");
        List<Long> self = List.of(ProcessHandle.current().pid());
        String kind = "cpuspin"; // the kernel keeps 15 characters of a thread's name
        double before = CpuTime.byThread(self).getOrDefault(kind, 0.0);
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread spinner = Thread.ofPlatform().name(kind).start(() -> {
            while (!stop.get()) Thread.onSpinWait();
        });
        try {
            long deadline = System.nanoTime() + 20_000_000_000L;
            double spun = 0;
            while (spun < 50 && System.nanoTime() < deadline) {
                Thread.sleep(20);
                spun = CpuTime.byThread(self).getOrDefault(kind, 0.0) - before;
            }
            assertThat(spun).isGreaterThanOrEqualTo(50);
        } finally {
            stop.set(true);
            spinner.join();
        }
    }
}
