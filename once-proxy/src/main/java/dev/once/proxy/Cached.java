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
 * What a route's cache holds under a key: a {@link StoredResponse}, a {@link VaryRecord} (the answers
 * of this key vary; each variant has a key of its own), or a {@link UriRecord} (the epoch that names
 * every stored answer of one URI, so one purge retires them all).
 */
sealed interface Cached permits StoredResponse, VaryRecord, UriRecord {

    /** A compact binary form: a kind byte, then the record; no Base64, no JSON escaping of bodies. */
    Codec<Cached> CODEC = new Codec<>() {
        private static final int RESPONSE = 6; // 1 and 2 were the single-type formats, 3 had no encodingAsked
        private static final int VARY = 4;
        private static final int URI = 5;

        @Override
        public byte[] encode(Cached value) {
            try {
                ByteArrayOutputStream bytes =
                        new ByteArrayOutputStream(value instanceof StoredResponse r ? r.body().length + 256 : 64);
                DataOutputStream out = new DataOutputStream(bytes);
                switch (value) {
                    case StoredResponse r -> {
                        out.writeByte(RESPONSE);
                        out.writeShort(r.status());
                        out.writeShort(r.headers().size());
                        for (String[] h : r.headers()) {
                            out.writeUTF(h[0]);
                            out.writeUTF(h[1]);
                        }
                        out.writeInt(r.body().length);
                        out.write(r.body());
                        out.writeLong(r.requestTime());
                        out.writeLong(r.responseTime());
                        out.writeUTF(r.variant());
                        out.writeUTF(r.encodingAsked());
                    }
                    case VaryRecord v -> {
                        out.writeByte(VARY);
                        out.writeUTF(String.join(",", v.names()));
                    }
                    case UriRecord u -> {
                        out.writeByte(URI);
                        out.writeUTF(u.epoch());
                    }
                }
                return bytes.toByteArray();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public Cached decode(byte[] data) {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
                int kind = in.readByte();
                return switch (kind) {
                    case RESPONSE -> {
                        int status = in.readShort();
                        int n = in.readShort();
                        List<String[]> headers = new ArrayList<>(n);
                        for (int i = 0; i < n; i++) headers.add(new String[] {in.readUTF(), in.readUTF()});
                        byte[] body = new byte[in.readInt()];
                        in.readFully(body);
                        yield new StoredResponse(
                                status, headers, body, in.readLong(), in.readLong(), in.readUTF(), in.readUTF());
                    }
                    case VARY -> new VaryRecord(List.of(in.readUTF().split(",")));
                    case URI -> new UriRecord(in.readUTF());
                    default -> throw new IOException("stored entry format " + kind + " is unknown");
                };
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read a cached entry", e);
            }
        }
    };
}
