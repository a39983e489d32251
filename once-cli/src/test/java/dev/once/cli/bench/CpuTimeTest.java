package dev.once.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The bench's per-thread CPU: threads of one kind counted together, and this JVM's threads read. */
class CpuTimeTest {

    @Test
    void threadKind_numbersThatTellThreadsApart_takenOut() {
        // names as the kernel keeps them: 15 characters
        assertThat(CpuTime.threadKind("C2 CompilerThre")).isEqualTo("C2 compiler");
        assertThat(CpuTime.threadKind("C1 CompilerThre")).isEqualTo("C1 compiler");
        assertThat(CpuTime.threadKind("GC Thread#1")).isEqualTo("GC");
        assertThat(CpuTime.threadKind("G1 Conc#0")).isEqualTo("GC");
        assertThat(CpuTime.threadKind("ForkJoinPool-1-")).isEqualTo("virtual-thread carriers");
        assertThat(CpuTime.threadKind("once-proxy-41")).isEqualTo("Jetty server");
        assertThat(CpuTime.threadKind("qtp1873859565-3")).isEqualTo("Jetty server");
        assertThat(CpuTime.threadKind("HttpClient@1b9e")).isEqualTo("Jetty client");
        assertThat(CpuTime.threadKind("once-cache-list")).isEqualTo("once-cache listener");
        assertThat(CpuTime.threadKind("once-cache-stor")).isEqualTo("once-cache alarms");
        assertThat(CpuTime.threadKind("Monitor Deflati")).isEqualTo("Monitor Deflati");
        assertThat(CpuTime.threadKind("pool-3-thread-1")).isEqualTo("pool-3-thread");
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
