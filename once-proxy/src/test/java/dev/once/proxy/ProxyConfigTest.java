package dev.once.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@link ProxyConfig}'s check refuses, built as a library user builds it: no proxy, no database. */
class ProxyConfigTest {
    @TempDir
    Path dir;

    private static ProxyConfig build(UnaryOperator<ProxyConfig.Builder> options) {
        return options.apply(ProxyConfig.builder(URI.create("http://127.0.0.1:1")))
                .build();
    }

    /**
     * A user name and password in the upstream URL were dropped without a word (the start line showed them
     * masked, as if used: helper-47); the proxy sends no credentials of its own, so it refuses them.
     */
    @Test
    void build_upstreamWithUserInfo_refusedWithoutEchoingIt() {
        assertThatThrownBy(() -> ProxyConfig.builder(URI.create("http://alice:pw1@127.0.0.1:9101"))
                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("user name or password")
                .hasMessageNotContaining("pw1");
    }

    /**
     * A route's vary list names what its answers depend on; a header the key leaves out there (the proxy's
     * X-Forwarded-For, a neutral one, a credential shared by keyAuthorization: false) would have one
     * value's answer served for every other (helper-61). Refused at start, naming the header.
     */
    @Test
    void build_varyNamingAHeaderTheKeyLeavesOut_refused() {
        Route byAddress = new Route(
                "/",
                java.util.Set.of("GET"),
                Duration.ofMinutes(1),
                Route.DEFAULT_STATUSES,
                List.of("X-Forwarded-For"),
                List.of(),
                Duration.ZERO,
                false);
        assertThatThrownBy(() -> build(b -> b.routes(List.of(byAddress))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("x-forwarded-for cannot be in vary");
        Route byUser = new Route(
                "/",
                java.util.Set.of("GET"),
                Duration.ofMinutes(1),
                Route.DEFAULT_STATUSES,
                List.of("Authorization"),
                List.of(),
                Duration.ZERO,
                false);
        assertThatThrownBy(() -> build(b -> b.keyAuthorization(false).routes(List.of(byUser))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("authorization cannot be in vary");
        assertThat(build(b -> b.routes(List.of(byUser))).routes()).hasSize(1); // keyed by digest: fine
    }

    /** Only one of two routes with one prefix could ever match: the other was taken and never used. */
    @Test
    void build_samePrefixTwice_refusedNamingIt() {
        assertThatThrownBy(() -> build(b -> b.routes(List.of(
                        Route.of("/v1/", Duration.ofMinutes(1)),
                        Route.of("/v2/", Duration.ofMinutes(1)),
                        Route.http("/v1/")))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("route /v1/ is given twice");
        // with and without the trailing slash a prefix covers the same paths
        assertThatThrownBy(() -> build(b -> b.routes(
                        List.of(Route.of("/v1", Duration.ofMinutes(1)), Route.of("/v1/", Duration.ofMinutes(1))))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("/v1 and /v1/");

        ProxyConfig nested = build(b -> b.routes(List.of(
                Route.of("/", Duration.ofMinutes(1)),
                Route.of("/v1", Duration.ofMinutes(1)),
                Route.of("/v1/quotes", Duration.ofMinutes(1)))));
        assertThat(nested.routes()).extracting(Route::prefix).containsExactly("/v1/quotes", "/v1", "/");
    }

    /** The YAML file's routes go through the same check. */
    @Test
    void configFile_samePrefixTwice_refusedNamingIt() throws Exception {
        Path file = Files.writeString(
                dir.resolve("once.yaml"),
                "upstream: http://127.0.0.1:1\nroutes:\n  - prefix: /v1/\n    ttl: 1m\n  - prefix: /v1/\n    ttl: 1h\n");
        List<Route> routes = ConfigFile.routes(ConfigFile.read(file));

        assertThatThrownBy(() -> build(b -> b.routes(routes)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("route /v1/ is given twice");
    }

    /**
     * Settings http mode does not use were accepted and ignored: {@code vary: [X-Tenant]} on an http-mode
     * route served tenant a's answer to tenant b (helper-52), and a ttl, statuses, POST or cachePrivate
     * changed nothing. Each is refused, naming what decides instead.
     */
    @Test
    void httpModeRoute_apiModeSettings_refusedNamingWhatDecides() throws Exception {
        java.util.Map<String, String> files = new java.util.LinkedHashMap<>();
        files.put("vary: [X-Tenant]", "route /a: vary applies to api mode; in http mode the upstream's Vary header");
        files.put("cachePrivate: true", "route /a: cachePrivate applies to api mode");
        files.put("methods: [GET, POST]", "route /a: http mode caches GET and HEAD only, not POST");
        files.put("ttl: 5m", "route /a: ttl applies to api mode; in http mode the upstream's Cache-Control");
        files.put("statuses: [200]", "route /a: statuses applies to api mode");
        int n = 0;
        for (var e : files.entrySet()) {
            Path file = Files.writeString(
                    dir.resolve("http" + n++ + ".yaml"),
                    "upstream: http://127.0.0.1:1\nroutes:\n  - prefix: /a\n    mode: http\n    " + e.getKey() + "\n");
            assertThatThrownBy(() -> ConfigFile.routes(ConfigFile.read(file)))
                    .as(e.getKey())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(e.getValue());
        }
        // the same through the Java API
        assertThatThrownBy(() -> new Route(
                        "/a",
                        java.util.Set.of("GET"),
                        Duration.ofMinutes(1),
                        Route.DEFAULT_STATUSES,
                        List.of("X-Tenant"),
                        List.of(),
                        Duration.ZERO,
                        false,
                        true))
                .hasMessageContaining("vary applies to api mode");
        // what http mode does use is still taken
        Path fine = Files.writeString(
                dir.resolve("fine.yaml"),
                "upstream: http://127.0.0.1:1\nroutes:\n  - prefix: /a\n    mode: http\n    methods: [GET, HEAD]\n"
                        + "    staleWhileRevalidate: 30s\n    neutral: [User-Agent]\n");
        assertThat(ConfigFile.routes(ConfigFile.read(fine)))
                .singleElement()
                .satisfies(r -> assertThat(r.http()).isTrue());
    }

    /** requestDirectives: obey (the default) or ignore, for http-mode routes; anything else is refused. */
    @Test
    void configFile_requestDirectives_obeyIgnoreOrRefused() throws Exception {
        Path file = Files.writeString(
                dir.resolve("once.yaml"),
                "upstream: http://127.0.0.1:1\nroutes:\n  - prefix: /a\n    mode: http\n    requestDirectives: ignore\n"
                        + "  - prefix: /b\n    mode: http\n    requestDirectives: Obey\n  - prefix: /c\n    mode: http\n");
        List<Route> routes = ConfigFile.routes(ConfigFile.read(file));
        assertThat(routes).extracting(Route::obeyRequestDirectives).containsExactly(false, true, true);

        Path bad = Files.writeString(
                dir.resolve("bad.yaml"),
                "upstream: http://127.0.0.1:1\nroutes:\n  - prefix: /a\n    mode: http\n    requestDirectives: honor\n");
        assertThatThrownBy(() -> ConfigFile.routes(ConfigFile.read(bad)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("route /a: requestDirectives must be obey or ignore, not 'honor'");

        // api mode never reads them: saying otherwise would mislead
        Path api = Files.writeString(
                dir.resolve("api.yaml"),
                "upstream: http://127.0.0.1:1\nroutes:\n  - prefix: /a\n    ttl: 1m\n    requestDirectives: obey\n");
        assertThatThrownBy(() -> ConfigFile.routes(ConfigFile.read(api)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("route /a: requestDirectives applies to http mode");
    }

    /** A timeout of 0 or less answered every request 504 (the command refused it; the builder did not). */
    @Test
    void build_zeroOrNegativeTimeout_refusedNamingTheSetting() {
        for (Duration d : List.of(Duration.ZERO, Duration.ofSeconds(-1), Duration.ofNanos(1))) {
            assertThatThrownBy(() -> build(b -> b.upstreamTimeout(d)))
                    .as(d.toString())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("upstream timeout must be at least 1 ms");
            assertThatThrownBy(() -> build(b -> b.connectTimeout(d)))
                    .as(d.toString())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("connect timeout must be at least 1 ms");
        }
        assertThatThrownBy(() -> build(b -> b.upstreamTimeout(null))).hasMessageContaining("upstream timeout");

        ProxyConfig shortest =
                build(b -> b.upstreamTimeout(Duration.ofMillis(1)).connectTimeout(Duration.ofMillis(1)));
        assertThat(shortest.upstreamTimeout()).isEqualTo(Duration.ofMillis(1));
        assertThat(shortest.connectTimeout()).isEqualTo(Duration.ofMillis(1));
    }

    /**
     * helper-76: a one-letter admin token, and the templates' placeholders (deploy/kubernetes.yaml's
     * change-me-too, its change-me-to-32-random-hex-bytes key secret) were taken: a replica deployed from the
     * template let whoever read it purge every answer. Refused, the secret not repeated.
     */
    @Test
    void build_shortOrPlaceholderSecret_refusedWithoutRepeatingIt() {
        assertThatThrownBy(() -> build(b -> b.adminToken("Adm-s3cr3t")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("admin token must be at least 16 characters")
                .hasMessageNotContaining("10") // nor its length
                .hasMessageNotContaining("s3cr3t");
        assertThatThrownBy(() -> build(b -> b.adminToken("x")))
                .hasMessageContaining("admin token must be at least 16 characters");
        for (String placeholder : List.of("change-me-too-0123456789", "CHANGEME0123456789abcdef")) {
            assertThatThrownBy(() -> build(b -> b.adminToken(placeholder)))
                    .as(placeholder)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("the admin token is a template's placeholder");
        }
        assertThatThrownBy(() -> build(b -> b.keySecret("change-me-to-32-random-hex-bytes")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the key secret is a template's placeholder")
                .hasMessageNotContaining("random-hex");
        assertThat(build(b -> b.adminToken("9f86d081884c7d659a2feaa0c55ad015")).adminToken())
                .isEqualTo("9f86d081884c7d659a2feaa0c55ad015");
        // helper-78: more placeholders' shapes, and patterns that are no secret
        for (String placeholder : List.of(
                "REPLACE_ME_WITH_A_TOKEN",
                "replaceme-replaceme",
                "<your-admin-token-here>",
                "${ONCE_ADMIN_TOKEN}",
                "$(openssl rand -hex 32)",
                "xxxxxxxxxxxxxxxxxxxxxxxx",
                "0000000000000000",
                "passwordpassword",
                "TODOTODOTODOTODO")) {
            assertThatThrownBy(() -> build(b -> b.adminToken(placeholder)))
                    .as(placeholder)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("make one with: openssl rand -hex 32");
        }
        // a base64 secret (openssl rand -base64 32) is taken
        assertThat(build(b -> b.keySecret("q0L+8bW3vR2nXk9sYp1TzJm4Hc7AeFu6GdNiOoQwKlE="))
                        .keySecret())
                .isNotNull();
    }

    /**
     * helper-78: a token read from a file with its newline passed the length check, and could never be
     * matched (a client's token is trimmed; a header carries no newline): purge and metrics locked out.
     * Stripped now; one a header cannot carry (non-ASCII, inner spaces) is refused.
     */
    @Test
    void build_adminTokenWithWhitespaceOrNonAscii_strippedOrRefused() {
        assertThat(build(b -> b.adminToken("0123456789abcdef0123456789abcdef\n"))
                        .adminToken())
                .isEqualTo("0123456789abcdef0123456789abcdef");
        for (String unsendable : List.of("p\u00e4ssw\u00f6rd-\u20ac-1234567890abcdef", "0123456789 abcdef0123456789")) {
            assertThatThrownBy(() -> build(b -> b.adminToken(unsendable)))
                    .as(unsendable)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("printable ASCII");
        }
    }

    /** helper-76: negative limits were taken (a body limit of -1 refused every request with a body). */
    @Test
    void build_negativeLimits_refusedNamingTheSetting() {
        assertThatThrownBy(() -> build(b -> b.maxRequestBodyBytes(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the largest request body must be 0 (no bodies) or more, not -1");
        assertThatThrownBy(() -> build(b -> b.maxCachedResponseBytes(-5)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the largest answer stored must be at least 1 byte, not -5");
        assertThatThrownBy(() -> build(b -> b.maxRequestHeaderBytes(0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the largest request header block must be at least 1 byte");
        assertThat(build(b -> b.maxRequestBodyBytes(0)).maxRequestBodyBytes()).isZero();
    }

    /**
     * helper-76: routes: [] cached nothing without a word, and routes under /-/ (the proxy's own paths,
     * answered before any route is looked at) or in a form no normalised request path has (non-ASCII,
     * percent-encoded) could never be reached.
     */
    @Test
    void build_noRoutesOrARouteUnderTheAdminPaths_refused() {
        assertThatThrownBy(() -> build(b -> b.routes(List.of())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("there are no routes, so nothing would be cached");
        for (String prefix : List.of("/-/api", "/-/x/")) {
            assertThatThrownBy(() -> build(b -> b.routes(List.of(Route.of(prefix, Duration.ofMinutes(1))))))
                    .as(prefix)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("route " + prefix + " can never be reached");
        }
        for (String[] prefix : List.of(
                new String[] {"/caf\u00e9", "/caf%C3%A9"},
                new String[] {"/a%7eb", "/a~b"},
                new String[] {"/a%3bb", "/a%3Bb"},
                new String[] {"/a b", "/a%20b"},
                new String[] {"/v1/../v2", "/v2"})) {
            assertThatThrownBy(() -> build(b -> b.routes(List.of(Route.of(prefix[0], Duration.ofMinutes(1))))))
                    .as(prefix[0])
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("route " + prefix[0] + " can never be reached")
                    .hasMessageEndingWith("write it as " + prefix[1]);
            assertThat(build(b -> b.routes(List.of(Route.of(prefix[1], Duration.ofMinutes(1)))))
                            .routes())
                    .as(prefix[1])
                    .hasSize(1);
        }
        // helper-78: prefixes in a normal form the server refuses before any route (400 for every request)
        for (String prefix : List.of("/a%2Fb", "/v2//x", "/a%25b", "/a%00b", "/a%5Cb")) {
            assertThatThrownBy(() -> build(b -> b.routes(List.of(Route.of(prefix, Duration.ofMinutes(1))))))
                    .as(prefix)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("route " + prefix + " can never be reached");
        }
        // the path /- itself is routed (segment by segment: it is not under /-/)
        for (String reachable : List.of("/-x", "/-", "/-/", "/a%3Bb", "/~user", "/%E2%82%AC", "/a%20b"))
            assertThat(build(b -> b.routes(List.of(Route.of(reachable, Duration.ofMinutes(1)))))
                            .routes())
                    .as(reachable)
                    .hasSize(1);
        assertThat(build(b -> b.routes(List.of(Route.of("/-x", Duration.ofMinutes(1)))))
                        .routes())
                .hasSize(1);
    }

    /** A config file's routes: [] reaches the same check, in one line. */
    @Test
    void configFile_emptyRoutes_refused() throws Exception {
        Path file = Files.writeString(dir.resolve("once.yaml"), "upstream: http://127.0.0.1:1\nroutes: []\n");
        ConfigFile.Data data = ConfigFile.read(file);
        assertThatThrownBy(() -> ProxyConfig.builder(URI.create(data.upstream))
                        .routes(ConfigFile.routes(data, false))
                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("there are no routes");
    }
}
