package dev.once.proxy;

import java.io.InputStream;
import java.util.List;

/**
 * An upstream answer larger than the cache takes, or read when the answer memory had no room for it
 * ({@code overMemory}): the bytes read so far and the rest as a stream (with the declared length, or
 * -1). Handed to its one client, never stored.
 */
record StreamedResponse(
        int status, List<String[]> headers, byte[] prefix, InputStream rest, long declaredLength, boolean overMemory)
        implements Answer {

    /**
     * What the key's other requests get when this request's answer was passed through for want of
     * memory: a 503 to retry, not a paid call each (they made one each: helper-24), nor the answer, which
     * could not be held for them.
     */
    UpstreamFailure forOthers() {
        return new UpstreamFailure(503, UpstreamFailure.OVER_MEMORY, null);
    }
}
