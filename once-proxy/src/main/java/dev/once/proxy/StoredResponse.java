package dev.once.proxy;

import dev.once.cache.Codec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * An upstream answer as the cache keeps it: status, end-to-end headers, body. An answer too large to
 * store also carries the rest of its body as a stream ({@code rest}, with the upstream's declared
 * length or -1); such an answer is only ever handed over, never stored.
 *
 * <p>For HTTP caching (RFC 9111) it also keeps when the request that fetched it was sent and when the
 * answer arrived (epoch ms, for the Age calculation), and {@code variant}: for an answer with {@code
 * Vary}, the normalised values of the named request headers it was selected by; for a {@link
 * #varySpec} (status 0), the epoch that names its variants.
 */
record StoredResponse(
        int status,
        List<String[]> headers,
        byte[] body,
        java.io.InputStream rest,
        long declaredLength,
        long requestTime,
        long responseTime,
        String variant) {

    StoredResponse(int status, List<String[]> headers, byte[] body) {
        this(status, headers, body, null, -1);
    }

    StoredResponse(int status, List<String[]> headers, byte[] body, java.io.InputStream rest, long declaredLength) {
        this(status, headers, body, rest, declaredLength, 0, 0, "");
    }

    /** The same answer with the times of the exchange that produced it. */
    StoredResponse timed(long requestTime, long responseTime) {
        return new StoredResponse(status, headers, body, rest, declaredLength, requestTime, responseTime, variant);
    }

    StoredResponse withVariant(String variant) {
        return new StoredResponse(status, headers, body, rest, declaredLength, requestTime, responseTime, variant);
    }

    StoredResponse withHeaders(List<String[]> headers) {
        return new StoredResponse(status, headers, body, rest, declaredLength, requestTime, responseTime, variant);
    }

    /** What the base key of a URI holds when its answers vary: the Vary header names, and an epoch. */
    static StoredResponse varySpec(String varyNames, String epoch, long now) {
        List<String[]> h = new ArrayList<>();
        h.add(new String[] {"Vary", varyNames});
        return new StoredResponse(0, h, new byte[0], null, -1, now, now, epoch);
    }

    boolean isVarySpec() {
        return status == 0;
    }

    boolean streamed() {
        return rest != null;
    }

    String header(String name) {
        for (String[] h : headers) if (h[0].equalsIgnoreCase(name)) return h[1];
        return null;
    }

    List<String> headerValues(String name) {
        List<String> out = new ArrayList<>();
        for (String[] h : headers) if (h[0].equalsIgnoreCase(name)) out.add(h[1]);
        return out;
    }

    /** A compact binary form: no Base64, no JSON escaping of the body. */
    static final Codec<StoredResponse> CODEC = new Codec<>() {
        private static final int VERSION = 2; // 2 added the exchange times and the variant

        @Override
        public byte[] encode(StoredResponse r) {
            try {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream(r.body.length + 256);
                DataOutputStream out = new DataOutputStream(bytes);
                out.writeByte(VERSION);
                out.writeShort(r.status);
                out.writeShort(r.headers.size());
                for (String[] h : r.headers) {
                    out.writeUTF(h[0]);
                    out.writeUTF(h[1]);
                }
                out.writeInt(r.body.length);
                out.write(r.body);
                out.writeLong(r.requestTime);
                out.writeLong(r.responseTime);
                out.writeUTF(r.variant == null ? "" : r.variant);
                return bytes.toByteArray();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public StoredResponse decode(byte[] data) {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
                int version = in.readByte();
                if (version != VERSION && version != 1)
                    throw new IOException("stored response format " + version + " is unknown");
                int status = in.readShort();
                int n = in.readShort();
                List<String[]> headers = new ArrayList<>(n);
                for (int i = 0; i < n; i++) headers.add(new String[] {in.readUTF(), in.readUTF()});
                byte[] body = new byte[in.readInt()];
                in.readFully(body);
                if (version == 1) return new StoredResponse(status, headers, body);
                return new StoredResponse(status, headers, body, null, -1, in.readLong(), in.readLong(), in.readUTF());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read a cached response", e);
            }
        }
    };
}
