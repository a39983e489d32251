package dev.once.spring;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.function.Consumer;

/** Cache managers on the tests' real databases, each on a table of its own. */
final class SpringCaches {
    private SpringCaches() {}

    static OnceCacheManager manager(Db db, String table, Consumer<OnceCacheManager.Builder> options) {
        OnceCacheManager.Builder b = OnceCacheManager.builder(TestDatabases.shared(db))
                .table(table)
                .allowedPackages("dev.once.spring.values");
        options.accept(b);
        return b.build();
    }

    /** The stored value's JSON text of a key (by its key text), or null. */
    static String value(Db db, String table, String cache, String keyText) throws SQLException {
        try (Connection c = TestDatabases.connect(db);
                PreparedStatement ps =
                        c.prepareStatement("SELECT value FROM " + table + " WHERE namespace = ? AND key_text = ?")) {
            ps.setString(1, cache);
            ps.setString(2, keyText);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return null;
                byte[] v = rs.getBytes(1);
                return v == null ? null : new String(v, java.nio.charset.StandardCharsets.UTF_8);
            }
        }
    }

    /** Overwrites a stored value as anyone with write access to the table could. */
    static void overwrite(Db db, String table, String cache, String keyText, String json) throws SQLException {
        try (Connection c = TestDatabases.connect(db);
                PreparedStatement ps =
                        c.prepareStatement("UPDATE " + table + " SET value = ? WHERE namespace = ? AND key_text = ?")) {
            ps.setBytes(1, json.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            ps.setString(2, cache);
            ps.setString(3, keyText);
            if (ps.executeUpdate() != 1) throw new AssertionError("no row for " + keyText);
        }
    }

    static long count(Db db, String table, String where) throws SQLException {
        return TestDatabases.count(db, "SELECT COUNT(*) FROM " + table + " WHERE " + where);
    }
}
