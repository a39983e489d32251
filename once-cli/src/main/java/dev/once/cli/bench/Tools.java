package dev.once.cli.bench;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** The outside programs a bench run compares against (pgbench, nginx, wrk): found, run, read. */
final class Tools {
    private Tools() {}

    /** The program on PATH, or in the places Debian and Homebrew install it off PATH. */
    static Optional<Path> find(String name) {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, name);
            if (Files.isExecutable(p)) return Optional.of(p);
        }
        for (String root : List.of("/usr/lib/postgresql", "/usr/sbin", "/opt/homebrew/bin", "/usr/local/bin")) {
            Path r = Path.of(root);
            if (Files.isExecutable(r.resolve(name))) return Optional.of(r.resolve(name));
            if (!Files.isDirectory(r)) continue;
            try (Stream<Path> versions = Files.list(r)) { // /usr/lib/postgresql/<version>/bin/<name>, newest first
                Optional<Path> found = versions.map(v -> v.resolve("bin").resolve(name))
                        .filter(Files::isExecutable)
                        .max(Path::compareTo);
                if (found.isPresent()) return found;
            } catch (IOException e) {
                // an unreadable directory is a place without the program
            }
        }
        return Optional.empty();
    }

    /** Runs a program to its end (bounded) and returns what it printed, stdout and stderr together. */
    static String run(List<String> command, java.util.Map<String, String> env, long timeoutSeconds)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(command.get(0) + " did not finish in " + timeoutSeconds + " s");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(Path.of(command.get(0)).getFileName() + " exited with " + p.exitValue() + ": "
                    + lastLines(text, 3));
        }
        return text;
    }

    /** The first group of the first match of a pattern, as a number. */
    static double number(String text, String regex) throws IOException {
        Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(text);
        if (!m.find()) throw new IOException("no '" + regex + "' in: " + lastLines(text, 5));
        return Double.parseDouble(m.group(1).replace(",", ""));
    }

    /** wrk's latency figure ("812.00us", "4.32ms", "1.02s") in milliseconds. */
    static double wrkMillis(String text, String percentile) throws IOException {
        Matcher m = Pattern.compile(
                        "^\\s+" + Pattern.quote(percentile) + "\\s+([0-9.]+)(us|ms|s)\\s*$", Pattern.MULTILINE)
                .matcher(text);
        if (!m.find()) throw new IOException("no " + percentile + " latency in wrk's output");
        double v = Double.parseDouble(m.group(1));
        return switch (m.group(2)) {
            case "us" -> v / 1000;
            case "s" -> v * 1000;
            default -> v;
        };
    }

    private static String lastLines(String text, int n) {
        List<String> lines = text.strip().lines().toList();
        return String.join(" / ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }
}
