package dev.once.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * CPU time spent so far, from Linux's {@code /proc}: by the whole machine (every process, the database
 * too) and by given processes. In ms, at the kernel's tick (10 ms at 100 Hz): read over many bursts, not
 * one. Elsewhere than Linux every reading is 0, and {@link #available()} says so.
 */
final class CpuTime {
    private static final double MS_PER_TICK = 10; // USER_HZ is 100 on every Linux this runs on

    private CpuTime() {}

    static boolean available() {
        return Files.isReadable(Path.of("/proc/stat"));
    }

    /** Busy CPU time of the whole machine: user, nice, system, irq, softirq and steal, ms. */
    static double machineMillis() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long busy = 0;
            for (int i : new int[] {1, 2, 3, 6, 7, 8}) busy += Long.parseLong(f[i]);
            return busy * MS_PER_TICK;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** User and system CPU time of these processes, ms (a process gone meanwhile counts 0). */
    static double processMillis(List<Long> pids) {
        double total = 0;
        for (long pid : pids) {
            try {
                String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
                // fields after the command name, which is in parentheses and may hold spaces
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                total += (Long.parseLong(f[11]) + Long.parseLong(f[12])) * MS_PER_TICK; // utime, stime
            } catch (IOException | RuntimeException e) {
                // not Linux, or the process ended
            }
        }
        return total;
    }

    /**
     * CPU time of these processes' threads so far, by kind of thread ({@link #threadKind}: the virtual
     * threads' carriers, Jetty's pool, the JIT's compilers, GC, once-cache's listener...), ms.
     * From each thread's {@code schedstat}, in nanoseconds: exact, unlike the tick-sampled total, which
     * charges a thread that wakes on a timer unevenly. Empty where there is no such file.
     */
    static Map<String, Double> byThread(List<Long> pids) {
        Map<String, Double> kinds = new TreeMap<>();
        for (long pid : pids) {
            try (var tasks = Files.newDirectoryStream(Path.of("/proc/" + pid + "/task"))) {
                for (Path task : tasks) {
                    try {
                        String name = Files.readString(task.resolve("comm")).strip();
                        long nanos = Long.parseLong(Files.readString(task.resolve("schedstat"))
                                .strip()
                                .split(" ")[0]);
                        kinds.merge(threadKind(name), nanos / 1e6, Double::sum);
                    } catch (IOException | RuntimeException e) {
                        // the thread ended meanwhile
                    }
                }
            } catch (IOException | RuntimeException e) {
                // not Linux, or the process ended
            }
        }
        return kinds;
    }

    /**
     * A thread's kind: its name, as the kernel keeps it (15 characters: {@code ForkJoinPool-1-} for the
     * carriers and the JDK's delay scheduler alike), with the numbers that tell threads of one kind apart
     * taken out.
     */
    static String threadKind(String name) {
        if (name.startsWith("C1 Compiler")) return "C1 compiler";
        if (name.startsWith("C2 Compiler")) return "C2 compiler";
        if (name.startsWith("GC Thread") || name.startsWith("G1 ")) return "GC";
        if (name.startsWith("ForkJoinPool")) return "virtual-thread carriers";
        if (name.startsWith("HttpClient@")) return "Jetty client";
        if (name.startsWith("qtp") || name.startsWith("once-proxy")) return "Jetty server";
        if (name.startsWith("once-cache-list")) return "once-cache listener";
        if (name.startsWith("once-cache-stor")) return "once-cache alarms";
        return name.replaceAll("[-#@]?[0-9a-f]*[0-9][0-9a-f]*$", "").strip();
    }
}
