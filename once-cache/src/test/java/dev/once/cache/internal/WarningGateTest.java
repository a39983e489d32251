package dev.once.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class WarningGateTest {
    @Test
    void pass_manyThreadsAtOnce_oneLineAPeriod() throws Exception {
        WarningGate gate = WarningGate.every(Duration.ofMinutes(1));
        AtomicInteger passed = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 10_000; i++) if (gate.pass()) passed.incrementAndGet();
            }));
        }
        go.countDown();
        for (Thread t : threads) t.join();
        assertThat(passed).hasValue(1);
    }

    @Test
    void pass_afterThePeriod_passesAgain() throws Exception {
        WarningGate gate = WarningGate.every(Duration.ofMillis(50));
        assertThat(gate.pass()).as("the first").isTrue();
        assertThat(gate.pass()).as("at once after").isFalse();
        Thread.sleep(60);
        assertThat(gate.pass()).as("a period later").isTrue();
        assertThat(gate.pass()).isFalse();
    }
}
