package dev.once.cli.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;

/**
 * An nginx the bench starts as a baseline, in a directory of its own, in the foreground; {@link #close}
 * stops it and deletes the directory.
 */
final class Nginx implements AutoCloseable {
    private final Process process;
    private final Path work;
    final String base;

    private Nginx(Process process, Path work, int port) {
        this.process = process;
        this.work = work;
        this.base = "http://127.0.0.1:" + port;
    }

    /**
     * Starts nginx with {@code workers} worker processes, listening on a free loopback port with the
     * given {@code location /} directives; {@code proxy_cache zone} in them names a cache kept in the
     * directory. Its worker may run as another user (nobody, when started by root), so the directory is
     * opened to it.
     */
    static Nginx start(Path nginx, String workers, String location) throws IOException, InterruptedException {
        return start(nginx, workers, "", location);
    }

    /** The same with more directives in its {@code http} block ({@code upstream} blocks). */
    static Nginx start(Path nginx, String workers, String http, String location)
            throws IOException, InterruptedException {
        Path work = Files.createTempDirectory("once-bench-nginx");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createDirectories(work.resolve("cache"));
        Files.createDirectories(work.resolve("temp"));
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path conf = work.resolve("nginx.conf");
        Files.writeString(conf, """
                worker_processes %4$s;
                worker_rlimit_nofile 16384;
                pid %1$s/nginx.pid;
                error_log %1$s/error.log;
                events { worker_connections 8192; }
                http {
                  access_log off;
                  client_body_temp_path %1$s/temp;
                  proxy_temp_path %1$s/temp;
                  proxy_cache_path %1$s/cache levels=1:2 keys_zone=zone:10m;
                  %5$s
                  server {
                    listen 127.0.0.1:%2$d backlog=4096;
                    location / {
                      %3$s
                    }
                  }
                }
                """.formatted(work, port, location, workers, http));
        Process p = new ProcessBuilder(
                        nginx.toString(), "-p", work.toString(), "-c", conf.toString(), "-g", "daemon off;")
                .redirectErrorStream(true)
                .redirectOutput(work.resolve("nginx.out").toFile())
                .start();
        for (int i = 0; i < 100; i++) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return new Nginx(p, work, port);
            } catch (IOException notYet) {
                if (!p.isAlive()) break;
                Thread.sleep(50);
            }
        }
        p.destroyForcibly();
        String said = Files.readString(work.resolve("nginx.out"));
        delete(work);
        throw new IOException("nginx did not start: " + said.strip());
    }

    /** The master's process id and its workers'. */
    List<Long> pids() {
        return Stream.concat(Stream.of(process.toHandle()), process.descendants())
                .map(ProcessHandle::pid)
                .toList();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        process.destroy();
        if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly();
        delete(work);
    }

    private static void delete(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder())
                    .forEach(f -> f.toFile().delete());
        }
    }
}
