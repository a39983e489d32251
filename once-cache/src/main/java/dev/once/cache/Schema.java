package dev.once.cache;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Locale;
import java.util.regex.Pattern;

/** The shipped DDL ({@code dev/once/cache/schema-*.sql}), with the table name substituted. */
final class Schema {
    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,50}");

    private Schema() {}

    static String validTable(String table) {
        if (table == null || !NAME.matcher(table).matches()) {
            throw new IllegalArgumentException("invalid cache table name '" + table
                    + "': letters, digits and _, not starting with a digit, 1 to 51 characters");
        }
        return table;
    }

    static String ddl(StoreDialect dialect, String table) {
        String file = "schema-" + dialect.schemaName + ".sql";
        try (InputStream in = Schema.class.getResourceAsStream(file)) {
            if (in == null) throw new IllegalStateException("missing resource " + file);
            String sql = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return sql.replaceAll("(?m)^--.*$", "").replace("once_entry", table);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static boolean exists(Connection c, String table) throws SQLException {
        for (String name : new String[] {table, table.toLowerCase(Locale.ROOT), table.toUpperCase(Locale.ROOT)}) {
            try (ResultSet rs = c.getMetaData().getTables(c.getCatalog(), null, name, null)) {
                if (rs.next()) return true;
            }
        }
        return false;
    }
}
