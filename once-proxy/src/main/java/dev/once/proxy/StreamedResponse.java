package dev.once.proxy;

import java.io.InputStream;
import java.util.List;

/**
 * An upstream answer larger than the cache takes: the bytes read so far and the rest as a stream (with
 * the declared length, or -1). Handed to its one client, never stored.
 */
record StreamedResponse(int status, List<String[]> headers, byte[] prefix, InputStream rest, long declaredLength)
        implements Answer {}
