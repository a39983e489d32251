package dev.once.spring;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.LoggerFactory;

/** A method result that cannot be written as JSON: its caller still gets it, and the error says why. */
class UnserialisableValueTest {
    /** No properties: Jackson refuses it ("No serializer found"). */
    public static final class Handle {
        final int id;

        Handle(int id) {
            this.id = id;
        }
    }

    private final String table = TestDatabases.newTable("unser");
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(OnceSpringCache.class);

    @BeforeEach
    void capture() {
        logged.start();
        logger.addAppender(logged);
    }

    @AfterEach
    void release() {
        logger.detachAppender(logged);
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE", "POSTGRES"})
    void get_valueJacksonCannotWrite_returnedToItsCallerNotCachedAndTheErrorNamesCacheAndType(Db db) throws Exception {
        try (OnceCacheManager m = SpringCaches.manager(db, table, b -> b.allowedPackages("dev.once.spring"))) {
            OnceSpringCache handles = m.getCache("handles");
            AtomicInteger calls = new AtomicInteger();
            Handle first = handles.get("h", () -> new Handle(calls.incrementAndGet()));
            Handle second = handles.get("h", () -> new Handle(calls.incrementAndGet()));

            assertThat(first.id).isEqualTo(1);
            assertThat(second.id).isEqualTo(2); // nothing was stored, so the second call loads again
            assertThat(SpringCaches.count(db, table, "namespace = 'handles' AND state = 1"))
                    .isZero();
            assertThat(logged.list)
                    .filteredOn(e -> e.getLevel() == Level.ERROR)
                    .extracting(ILoggingEvent::getFormattedMessage)
                    .hasSize(2)
                    .allSatisfy(msg -> assertThat(msg)
                            .contains("cache 'handles'")
                            .contains(Handle.class.getName())
                            .contains("cannot be stored as JSON")
                            .contains("returned to its caller"));
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Db.class,
            names = {"SQLITE"})
    void put_valueOfATypeOutsideTheAllowlist_notStoredTheOldValueGoneAndTheErrorSaysWhy(Db db) throws Exception {
        try (OnceCacheManager m = SpringCaches.manager(db, table, b -> {})) {
            OnceSpringCache c = m.getCache("c");
            c.put("k", "old");
            c.put(
                    "k",
                    new Handle(7)); // @CachePut of a result this cache could not read back: the method's result still
            // returns
            assertThat(c.get("k")).isNull();
            assertThat(logged.list)
                    .extracting(ILoggingEvent::getFormattedMessage)
                    .anySatisfy(msg -> assertThat(msg)
                            .contains("cache 'c'")
                            .contains(Handle.class.getName())
                            .contains("not in the allowed packages"));
        }
    }
}
