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
        return of(main, password, List.of(), args);
    }

    /**
     * Whether workers run from one jar (once.jar), as a JDK AOT cache needs: under tests the class path
     * holds directories, which the JVM cannot put in a cache.
     */
    public static boolean fromOneJar() {
        String classPath = classPath();
        return classPath.endsWith(".jar") && !classPath.contains(java.io.File.pathSeparator);
    }

    private static String classPath() {
        return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    }

    /** The same, with more options for its JVM (an AOT cache, say). */
    public static ProcessBuilder of(Class<?> main, String password, List<String> jvmOptions, String... args) {
        List<String> what = new ArrayList<>(jvmOptions);
        what.addAll(List.of("-cp", classPath(), main.getName()));
        return command(password, what, args);
    }

    /** Another build's {@code once.jar}, run by this JVM's java with the same options and {@code jvmOptions}. */
    public static ProcessBuilder ofJar(
            java.nio.file.Path jar, String password, List<String> jvmOptions, String... args) {
        List<String> what = new ArrayList<>(jvmOptions);
        what.addAll(List.of("-jar", jar.toString()));
        return command(password, what, args);
    }

    private static ProcessBuilder command(String password, List<String> what, String... args) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "-Xmx256m", "--enable-native-access=ALL-UNNAMED"));
        command.addAll(what);
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        if (password != null) pb.environment().put("ONCE_DB_PASSWORD", password);
        return pb;
    }
}
