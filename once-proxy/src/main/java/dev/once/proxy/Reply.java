package dev.once.proxy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.eclipse.jetty.http.DateGenerator;

/**
 * A finished answer to one client request: what to send, what {@code X-Once-Cache} says, and whether it
 * went through the cache (then it gets an {@code Age}, and a client's conditional or range is answered
 * from it).
 */
record Reply(Answer answer, Outcome outcome, boolean cached) {

    static Reply passed(Answer answer) {
        return new Reply(answer, Outcome.BYPASS, false);
    }

    /** The proxy's own answer: one plain line, never anything internal. */
    static Reply text(int status, String line) {
        return passed(new StoredResponse(
                status,
                List.<String[]>of(
                        new String[] {"Content-Type", "text/plain; charset=utf-8"},
                        new String[] {"Date", DateGenerator.formatDate(System.currentTimeMillis())}),
                (line + "\n").getBytes(StandardCharsets.UTF_8)));
    }
}
