package dev.once.proxy;

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
     * every array it allocates in the budget past the first {@value #TRACKED_FROM} bytes. A stated length
     * ({@code declared}, at most {@code limit}; else negative) is taken whole or not at all, as reads at
     * once, each with part of the budget, would otherwise all run out of it halfway, and read into one
     * array of that length. An unstated one is read in chunks of {@value #CHUNK} bytes, each counted
     * twice: for itself and for its share of the array they are joined into at the end. (A growing
     * {@code ByteArrayOutputStream} held up to three times what was counted: 200 clients asking for
     * chunked 8 MB answers they never read filled a 256 MB heap: helper-22.) Stops early, {@code
     * refused}, when the budget has no room. What it took is added to {@code held}: the caller gives it
     * back when the bytes are handed on.
     */
    Read read(InputStream in, long limit, long declared, long[] held) throws IOException {
        if (declared > TRACKED_FROM && declared <= limit) {
            if (!take(declared)) return new Read(new byte[0], true);
            held[0] += declared;
            byte[] bytes = new byte[(int) declared];
            int n = fill(in, bytes);
            // the stated length frames the message (Jetty holds both ends to it): nothing follows it
            return new Read(n == bytes.length ? bytes : java.util.Arrays.copyOf(bytes, n), false);
        }
        java.util.List<byte[]> chunks = new java.util.ArrayList<>();
        int size = 0;
        while (size <= limit) {
            int want = (int) Math.min(CHUNK, limit + 1 - size);
            if (size < TRACKED_FROM) { // small ones cost the budget nothing
                want = Math.min(want, TRACKED_FROM - size);
            } else {
                if (!take(2L * want)) return new Read(join(chunks, size), true);
                held[0] += 2L * want;
            }
            byte[] chunk = new byte[want];
            int n = fill(in, chunk);
            chunks.add(chunk);
            size += n;
            if (n < want) break; // the end: the last chunk is filled to n
        }
        return new Read(join(chunks, size), false);
    }

    /** Reads until the array is full or the stream ends; how many bytes it read. */
    private static int fill(InputStream in, byte[] into) throws IOException {
        int n = 0;
        while (n < into.length) {
            int r = in.read(into, n, into.length - n);
            if (r < 0) break;
            n += r;
        }
        return n;
    }

    /** The first {@code size} bytes of the chunks, which are full but for the last. */
    private static byte[] join(java.util.List<byte[]> chunks, int size) {
        if (chunks.size() == 1 && chunks.get(0).length == size) return chunks.get(0);
        byte[] joined = new byte[size];
        int at = 0;
        for (byte[] c : chunks) {
            int n = Math.min(c.length, size - at);
            System.arraycopy(c, 0, joined, at, n);
            at += n;
        }
        return joined;
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
