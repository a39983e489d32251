package dev.once.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * Worker processes of the command: this JVM's java, its class path (the fat jar, or under tests the
 * test class path), another main class. The database password travels in the environment, never on the
 * command line, where the process list would show it.
 */
public final class WorkerProcess {
    private WorkerProcess() {}

    public static ProcessBuilder of(Class<?> main, String password, String... args) {
        String java = ProcessHandle.current().info().command().orElse("java");
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> command = new ArrayList<>(
                List.of(java, "-Xmx256m", "--enable-native-access=ALL-UNNAMED", "-cp", classPath, main.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        if (password != null) pb.environment().put("ONCE_DB_PASSWORD", password);
        return pb;
    }
}
