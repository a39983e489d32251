package dev.once.proxy;

import java.util.List;

/** What the upstream answered, as the proxy passes it on: stored whole, or streamed through. */
sealed interface Answer permits StoredResponse, StreamedResponse {
    int status();

    List<String[]> headers();
}
