package dev.once.jdbc;

import static dev.once.jdbc.testing.TestDatabases.execute;
import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A guarded batch ({@code upsertAll} with {@code onlyIfIncoming}) must do what its rows would do one call
 * each, in input order: the same outcome for every row and the same rows stored. Random batches over a
 * case-insensitive key ('k1' and 'K1' are one key), with repeated and equal versions, stored rows with and
 * without a version, for every comparison, with and without onlyIfChanged (helper-67).
 */
class GuardedBatchTest {
    private static final List<String> KEYS = List.of("k1", "K1", "k2", "K2", "k3", "k4");

    private static String table(Db db) throws SQLException {
        String t = TestDatabases.newTable("guarded");
        String columns = ", price INT, version INT)";
        switch (db) {
            case POSTGRES ->
                execute(
                        db,
                        "CREATE COLLATION IF NOT EXISTS once_ci (provider = icu, locale = 'und-u-ks-level2',"
                                + " deterministic = false)",
                        "CREATE TABLE " + t + " (k text COLLATE once_ci NOT NULL UNIQUE" + columns);
            case MARIADB ->
                execute(
                        db,
                        "CREATE TABLE " + t + " (k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
                                + " NOT NULL UNIQUE" + columns);
            case SQLITE -> execute(db, "CREATE TABLE " + t + " (k TEXT COLLATE NOCASE NOT NULL UNIQUE" + columns);
        }
        return t;
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void upsertAll_guarded_asOneCallPerRow(Db db) throws SQLException {
        Once once = Once.using(TestDatabases.shared(db));
        Random random = new Random(67);
        for (Upsert.Comparison comparison : Upsert.Comparison.values()) {
            for (boolean onlyIfChanged : new boolean[] {false, true}) {
                Upsert spec = Upsert.on("k").doUpdate().onlyIfIncoming("version", comparison);
                if (onlyIfChanged) spec = spec.onlyIfChanged();
                for (int round = 0; round < 4; round++) {
                    String batch = table(db);
                    String single = table(db);
                    for (String t : List.of(batch, single)) { // the same stored rows in both
                        execute(db, "INSERT INTO " + t + " VALUES ('k1', 1, 3), ('k2', 1, NULL)");
                    }
                    List<Map<String, Object>> rows = new ArrayList<>();
                    int size = 2 + random.nextInt(20);
                    for (int i = 0; i < size; i++) {
                        Map<String, Object> row = new HashMap<>();
                        row.put("k", KEYS.get(random.nextInt(KEYS.size())));
                        row.put("price", random.nextInt(3));
                        row.put("version", random.nextInt(8) == 0 ? null : random.nextInt(6));
                        rows.add(row);
                    }
                    List<UpsertOutcome> expected = new ArrayList<>();
                    for (Map<String, Object> r : rows) expected.add(once.upsert(single, r, spec));
                    assertThat(once.upsertAll(batch, rows, spec))
                            .as("%s on %s: %s", spec, db, rows)
                            .isEqualTo(expected);
                    assertThat(contents(db, batch))
                            .as("%s on %s: %s", spec, db, rows)
                            .isEqualTo(contents(db, single));
                }
            }
        }
    }

    private static List<String> contents(Db db, String t) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = TestDatabases.connect(db);
                var s = c.createStatement();
                var rs = s.executeQuery("SELECT k, price, version FROM " + t)) {
            while (rs.next()) out.add(rs.getString(1) + ":" + rs.getObject(2) + ":" + rs.getObject(3));
        }
        out.sort(null);
        return out;
    }
}
