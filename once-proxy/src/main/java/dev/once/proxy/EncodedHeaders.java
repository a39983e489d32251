package dev.once.proxy;

import java.util.AbstractList;
import java.util.List;
import java.util.RandomAccess;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.PreEncodedHttpField;

/**
 * A stored answer's headers, read-only, with their Jetty fields made once and kept: a near-cache hit
 * writes the same headers to every client, and building and encoding them per hit was a tenth of the hit
 * path's work (async-profiler, issue 12). A field whose name is a token and whose value is printable
 * ASCII is pre-encoded ({@link PreEncodedHttpField}, the bytes Jetty would write); any other is a plain
 * field, which Jetty sanitises as it writes, as before.
 */
final class EncodedHeaders extends AbstractList<String[]> implements RandomAccess {
    private final String[][] rows;
    /** The fields, made at the first write (a race makes them twice, the same). */
    private HttpField[] fields;

    private EncodedHeaders(String[][] rows) {
        this.rows = rows;
    }

    /** The headers as a read-only list; the same list when it is one already. */
    static List<String[]> of(List<String[]> headers) {
        if (headers instanceof EncodedHeaders e) return e;
        String[][] rows = new String[headers.size()][];
        for (int i = 0; i < rows.length; i++) {
            String[] h = headers.get(i);
            rows[i] = new String[] {h[0], h[1]}; // a copy: a later change to the caller's arrays stays theirs
        }
        return new EncodedHeaders(rows);
    }

    @Override
    public String[] get(int index) {
        return rows[index];
    }

    @Override
    public int size() {
        return rows.length;
    }

    /** The headers as Jetty fields, in order, with their names as stored. */
    HttpField[] fields() {
        HttpField[] f = fields;
        if (f == null) {
            f = new HttpField[rows.length];
            for (int i = 0; i < rows.length; i++) f[i] = field(rows[i][0], rows[i][1]);
            fields = f;
        }
        return f;
    }

    static HttpField field(String name, String value) {
        HttpHeader known = HttpHeader.CACHE.get(name);
        // pre-encoded bytes spell a known header as Jetty does (Content-Type), which Jetty's writer does
        // for a plain field too; an unknown name keeps its spelling either way
        if (!HeaderRules.oddlySpelled(name) && printable(value)) return new PreEncodedHttpField(known, name, value);
        return new HttpField(known, name, value);
    }

    /** Printable ASCII and tabs only: what a pre-encoded field may hold unsanitised. */
    private static boolean printable(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if ((c < 0x20 && c != '\t') || c > 0x7E) return false;
        }
        return true;
    }
}
