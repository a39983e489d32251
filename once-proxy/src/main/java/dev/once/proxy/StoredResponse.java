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
 */
record StoredResponse(int status, List<String[]> headers, byte[] body, java.io.InputStream rest, long declaredLength) {

    StoredResponse(int status, List<String[]> headers, byte[] body) {
        this(status, headers, body, null, -1);
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
        private static final int VERSION = 1;

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
                return bytes.toByteArray();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public StoredResponse decode(byte[] data) {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
                int version = in.readByte();
                if (version != VERSION) throw new IOException("stored response format " + version + " is unknown");
                int status = in.readShort();
                int n = in.readShort();
                List<String[]> headers = new ArrayList<>(n);
                for (int i = 0; i < n; i++) headers.add(new String[] {in.readUTF(), in.readUTF()});
                byte[] body = new byte[in.readInt()];
                in.readFully(body);
                return new StoredResponse(status, headers, body);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read a cached response", e);
            }
        }
    };
}
