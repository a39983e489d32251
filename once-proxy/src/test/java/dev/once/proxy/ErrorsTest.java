package dev.once.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.SQLException;
import org.junit.jupiter.api.Test;

/** {@link Errors#oneLine} and {@link Errors#withCause}: one line an operator can act on, never an object dump. */
class ErrorsTest {

    @Test
    void oneLine_shortPlainMessage_typeAndMessage() {
        assertThat(Errors.oneLine(new IllegalStateException("the store is away")))
                .isEqualTo("IllegalStateException: the store is away");
    }

    /** A purge's message names its long key; its cause says why it failed (the log said only the type). */
    @Test
    void oneLine_longMessage_theFirstPlainCausesReason() {
        Throwable purge = new IllegalStateException(
                "cannot purge key " + "k".repeat(300),
                new RuntimeException(
                        "wrapped at HttpConnection@1a2b",
                        new SQLException("ERROR: permission denied for table once_entry")));
        assertThat(Errors.oneLine(purge)).isEqualTo("IllegalStateException");
        assertThat(Errors.withCause(purge))
                .isEqualTo("IllegalStateException (SQLException: ERROR: permission denied for table once_entry)");
    }

    @Test
    void oneLine_noPlainMessageAnywhere_theTypeAlone() {
        Throwable dump = new IllegalStateException("HttpConnectionOverHTTP@1a2b::SocketChannelEndPoint@3c4d");
        assertThat(Errors.oneLine(dump)).isEqualTo("IllegalStateException");
        assertThat(Errors.withCause(dump)).isEqualTo("IllegalStateException");
    }
}
