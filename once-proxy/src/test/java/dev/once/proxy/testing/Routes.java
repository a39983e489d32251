package dev.once.proxy.testing;

import dev.once.proxy.Route;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/** Routes the tests build often. */
public final class Routes {
    private Routes() {}

    /** An api-mode route caching these methods for a minute, with the default statuses and nothing else. */
    public static Route caching(String prefix, String... methods) {
        return new Route(
                prefix,
                Set.of(methods),
                Duration.ofMinutes(1),
                Route.DEFAULT_STATUSES,
                List.of(),
                List.of(),
                Duration.ZERO,
                false);
    }
}
