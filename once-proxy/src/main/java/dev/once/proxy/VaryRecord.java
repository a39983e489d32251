package dev.once.proxy;

import java.util.List;

/**
 * http mode: what the key of a request holds when the upstream's answers {@code Vary}: the names (lower
 * case, in order). Each variant is stored under the key plus the request's normalised values of them.
 */
record VaryRecord(List<String> names) implements Cached {
    VaryRecord {
        names = List.copyOf(names);
    }
}
