package dev.once.proxy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of answers a replica holds in memory for requests in flight, as one budget: answers read
 * from the upstream (until they are handed on) and answers being written to clients (until the client
 * has taken them). Without it, clients that never read, or an upstream that drips large answers, made
 * the proxy hold 8 MB per request without limit (40 such requests filled a 256 MB heap: helper-20).
 *
 * <p>An answer being written is counted once however many clients it goes to (the near cache hands one
 * array to all of them), and only from {@value #TRACKED_FROM} bytes: smaller ones cost more to count
 * than they weigh. Past the budget, an upstream answer still to be read is passed through to its client
 * as it comes (not stored), and an answer from the cache is not written: the client gets a 503 with
 * {@code Retry-After}. An answer this request has just read from the upstream is always written, so
 * the memory held may pass the budget by about one stored answer (its read's share is given back before
 * its write counts it).
 */
final class AnswerMemory {
    /** Answers smaller than this are not counted. */
    static final int TRACKED_FROM = 64 * 1024;

    private final long capacity;
    private final AtomicLong used = new AtomicLong();
    private final Map<byte[], int[]> writing = new IdentityHashMap<>();

    AnswerMemory(long capacity) {
        this.capacity = capacity;
    }

    long capacity() {
        return capacity;
    }

    /** Bytes counted now. */
    long used() {
        return used.get();
    }

    /** Takes {@code n} bytes from the budget; false (taking nothing) when they are not there. */
    boolean take(long n) {
        long u;
        do {
            u = used.get();
            if (u + n > capacity) return false;
        } while (!used.compareAndSet(u, u + n));
        return true;
    }

    void give(long n) {
        used.addAndGet(-n);
    }

    /** What {@link #read} read: the bytes, and whether it stopped because the budget had no room. */
    record Read(byte[] bytes, boolean refused) {}

    private static final int CHUNK = 64 * 1024;

    /**
     * Reads up to {@code limit} + 1 bytes into memory (an upstream's answer, a request's body), counting
     * them in the budget past their first {@value #TRACKED_FROM}: a stated length ({@code declared}, at
     * most {@code limit}; else negative) is taken whole or not at all, as reads at once, each with part of
     * the budget, would otherwise all run out of it halfway; an unstated one chunk by chunk. Stops early,
     * {@code refused}, when the budget has no room. What it took is added to {@code held}: the caller
     * gives it back when the bytes are handed on.
     */
    Read read(InputStream in, long limit, long declared, long[] held) throws IOException {
        boolean whole = declared > TRACKED_FROM && declared <= limit;
        if (whole) {
            if (!take(declared)) return new Read(new byte[0], true);
            held[0] += declared;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(whole ? (int) declared : 8192);
        byte[] chunk = new byte[(int) Math.min(CHUNK, limit + 1)];
        while (bytes.size() <= limit) {
            int want = (int) Math.min(chunk.length, limit + 1 - bytes.size());
            if (!whole && bytes.size() < TRACKED_FROM) { // small ones cost the budget nothing
                want = Math.min(want, TRACKED_FROM - bytes.size());
            } else if (!whole) {
                if (!take(want)) return new Read(bytes.toByteArray(), true);
                held[0] += want;
            }
            int n = in.read(chunk, 0, want);
            if (n < 0) break;
            bytes.write(chunk, 0, n);
        }
        return new Read(bytes.toByteArray(), false);
    }

    /**
     * Counts {@code body} as being written until the returned release runs; null when the budget has no
     * room for it, unless {@code held}: an answer just read from the upstream for this request is in
     * memory already, and refusing it would throw away a paid call (it is counted, so what is read next
     * waits for room). Small bodies are not counted (a release that does nothing).
     */
    Runnable writing(byte[] body, boolean held) {
        if (body.length < TRACKED_FROM) return NOTHING;
        synchronized (writing) {
            int[] count = writing.get(body);
            if (count == null) {
                if (held) used.addAndGet(body.length);
                else if (!take(body.length)) return null;
                writing.put(body, count = new int[1]);
            }
            count[0]++;
        }
        java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();
        return () -> {
            if (!released.compareAndSet(false, true)) return; // once, however often it is run
            synchronized (writing) {
                int[] count = writing.get(body);
                if (count == null || --count[0] > 0) return;
                writing.remove(body);
            }
            give(body.length);
        };
    }

    /** The release of an answer too small to be counted. */
    static final Runnable NOTHING = () -> {};
}
