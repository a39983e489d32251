package dev.once.cli;

import dev.once.jdbc.Once;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import javax.sql.DataSource;

/** How a racecheck worker gets-or-creates the row for a value. */
enum RaceStrategy {
    /** Once's getOrCreate on a table with a unique constraint on the value. */
    once {
        @Override
        String columns() {
            return "data BIGINT NOT NULL UNIQUE";
        }

        @Override
        Op op(DataSource pool, String table) {
            Once once = Once.using(pool);
            return data -> once.getOrCreate(table, Map.of("data", data), Map.of());
        }
    },
    /** The classic code: SELECT, and INSERT when nothing came back, on a table without a unique constraint. */
    naive {
        @Override
        String columns() {
            return "data BIGINT NOT NULL";
        }

        @Override
        String[] indexes(String table) {
            return new String[] {"CREATE INDEX " + table + "_data ON " + table + " (data)"};
        }

        @Override
        Op op(DataSource pool, String table) {
            String select = "SELECT id FROM " + table + " WHERE data = ?";
            String insert = "INSERT INTO " + table + " (data) VALUES (?)";
            return data -> {
                try (Connection c = pool.getConnection()) {
                    try (PreparedStatement ps = c.prepareStatement(select)) {
                        ps.setLong(1, data);
                        try (ResultSet rs = ps.executeQuery()) {
                            if (rs.next()) return;
                        }
                    }
                    try (PreparedStatement ps = c.prepareStatement(insert)) {
                        ps.setLong(1, data);
                        ps.executeUpdate();
                    }
                }
            };
        }
    };

    interface Op {
        void run(long data) throws SQLException;
    }

    abstract String columns();

    String[] indexes(String table) {
        return new String[0];
    }

    abstract Op op(DataSource pool, String table) throws SQLException;

    String table() {
        return "once_racecheck_" + name();
    }
}
