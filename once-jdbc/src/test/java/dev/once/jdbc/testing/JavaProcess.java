package dev.once.jdbc.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Starts a main class in a new JVM with this JVM's java and test class path. */
public final class JavaProcess {
    private JavaProcess() {}

    public static Process start(Class<?> main, Path output, String... args) throws IOException {
        return start(main, output, null, args);
    }

    /** As {@link #start(Class, Path, String...)}, in this working directory (null: this JVM's). */
    public static Process start(Class<?> main, Path output, Path workDir, String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> command = new ArrayList<>(
                List.of(java, "-Xmx256m", "--enable-native-access=ALL-UNNAMED", "-cp", classPath, main.getName()));
        command.addAll(List.of(args));
        Files.createDirectories(output.getParent());
        return new ProcessBuilder(command)
                .directory(workDir == null ? null : workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
    }
}
