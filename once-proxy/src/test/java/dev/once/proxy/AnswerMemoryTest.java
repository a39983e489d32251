package dev.once.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/**
 * What {@link AnswerMemory#read} allocates is what it counts: the heap a replica spends on answers in
 * flight stays within its budget. helper-22: reading an answer of unstated length into a growing
 * {@code ByteArrayOutputStream} allocated about three times what was counted (its doublings and the
 * final copy), and 200 clients asking for chunked 8 MB answers they never read filled a 256 MB heap
 * while the budget read 0.
 */
class AnswerMemoryTest {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();

    /** The bytes this thread allocates while reading, less what the read counted in {@code held}. */
    private record Reading(AnswerMemory.Read read, long allocated, long held) {}

    private static Reading read(AnswerMemory memory, InputStream in, long limit, long declared) throws IOException {
        long[] held = {0};
        long before = THREADS.getCurrentThreadAllocatedBytes();
        AnswerMemory.Read read = memory.read(in, limit, declared, held);
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
        return new Reading(read, allocated, held[0]);
    }

    /** An answer arriving in pieces of a few KiB, as from a socket. */
    private static InputStream dripping(byte[] answer) {
        return new ByteArrayInputStream(answer) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, 4096));
            }
        };
    }

    /** What a read may allocate uncounted: the first chunk and its share of the joined array, and a little. */
    private static final long UNCOUNTED = 2L * AnswerMemory.TRACKED_FROM + 16 * 1024;

    @Test
    void read_unstatedLength_allocatesNoMoreThanItCounts() throws IOException {
        AnswerMemory memory = new AnswerMemory(64 << 20);
        byte[] answer = new byte[4_000_000];
        answer[3_999_999] = 7;

        Reading r = read(memory, dripping(answer), 8 << 20, -1);

        assertThat(r.read().refused()).isFalse();
        assertThat(r.read().bytes()).isEqualTo(answer);
        assertThat(r.allocated()).isLessThanOrEqualTo(r.held() + UNCOUNTED);
        // and no more than it holds: counting a whole chunk per read of a few KiB spent the budget 16 times over
        assertThat(r.held()).isLessThanOrEqualTo(2L * answer.length);
        assertThat(memory.used()).isEqualTo(r.held());
    }

    @Test
    void read_statedLength_readIntoOneArrayCountedWhole() throws IOException {
        AnswerMemory memory = new AnswerMemory(64 << 20);
        byte[] answer = new byte[4_000_000];
        answer[0] = 1;

        Reading r = read(memory, dripping(answer), 8 << 20, answer.length);

        assertThat(r.read().bytes()).isEqualTo(answer);
        assertThat(r.held()).isEqualTo(answer.length);
        assertThat(r.allocated()).isLessThanOrEqualTo(r.held() + 16 * 1024);
    }

    @Test
    void read_unstatedLengthPastTheBudget_refusedWithWhatItReadAllCounted() throws IOException {
        AnswerMemory memory = new AnswerMemory(1 << 20);

        Reading r = read(memory, dripping(new byte[4_000_000]), 8 << 20, -1);

        assertThat(r.read().refused()).isTrue();
        assertThat(r.read().bytes().length).isBetween(AnswerMemory.TRACKED_FROM, 1 << 20);
        assertThat(r.allocated()).isLessThanOrEqualTo(r.held() + UNCOUNTED);
        assertThat(memory.used()).isLessThanOrEqualTo(memory.capacity());
    }

    @Test
    void read_overTheLimit_stopsOneByteAfterIt() throws IOException {
        AnswerMemory memory = new AnswerMemory(64 << 20);

        Reading r = read(memory, dripping(new byte[300_000]), 200_000, -1);

        assertThat(r.read().refused()).isFalse();
        assertThat(r.read().bytes()).hasSize(200_001);
    }
}
