package dev.once.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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
}
