package dev.once.jdbc.testing;

import java.util.List;

/** The warnings one class logs while a piece of a test runs, as their formatted messages. */
public final class Warnings {
    public interface Work {
        void run() throws Exception;
    }

    private Warnings() {}

    public static List<String> loggedBy(Class<?> source, Work work) throws Exception {
        ch.qos.logback.classic.Logger logger =
                (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(source);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged =
                new ch.qos.logback.core.read.ListAppender<>();
        logged.start();
        logger.addAppender(logged);
        try {
            work.run();
        } finally {
            logger.detachAppender(logged);
        }
        return logged.list.stream()
                .filter(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN)
                .map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
                .toList();
    }
}
