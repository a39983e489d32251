package dev.once.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.once.jdbc.testing.Db;
import dev.once.jdbc.testing.TestDatabases;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/** Leases and TTLs use the database's clock, in UTC epoch milliseconds, whatever the session's time zone. */
class ClockTest {
    /** 2023-10-29 01:30 UTC: 02:30 in Berlin, an hour that Berlin's clocks show twice that night. */
    private static final long REPEATED_HOUR = 1698543000L;

    /**
     * Issue 11 item 6: {@code UNIX_TIMESTAMP(NOW(3))} reads the wall clock back in the session's zone,
     * so in the repeated hour of a daylight-saving change it was 3,600 s off. The zone is loaded by hand
     * (its two 2023 transitions), since the embedded server ships without time zone tables.
     */
    @Test
    void now_mariadbSessionInAZoneWithDaylightSaving_utcEpochMillis() throws Exception {
        String zone = "Once/" + TestDatabases.newTable("Berlin");
        TestDatabases.execute(
                Db.MARIADB,
                "INSERT INTO mysql.time_zone (Use_leap_seconds) VALUES ('N')",
                "SET @id = LAST_INSERT_ID()",
                "INSERT INTO mysql.time_zone_name (Name, Time_zone_id) VALUES ('" + zone + "', @id)",
                "INSERT INTO mysql.time_zone_transition_type (Time_zone_id, Transition_type_id, `Offset`, Is_DST,"
                        + " Abbreviation) VALUES (@id, 0, 3600, 0, 'CET'), (@id, 1, 7200, 1, 'CEST')",
                "INSERT INTO mysql.time_zone_transition (Time_zone_id, Transition_time, Transition_type_id)"
                        + " VALUES (@id, 1679792400, 1), (@id, 1698541200, 0)");
        try (Connection c = TestDatabases.connect(Db.MARIADB);
                Statement s = c.createStatement()) {
            s.execute("SET time_zone = '" + zone + "'");
            s.execute("SET timestamp = " + REPEATED_HOUR);
            try (ResultSet rs = s.executeQuery("SELECT @@session.time_zone, NOW(), " + StoreDialect.MARIADB.now
                    + ", CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo(zone);
                assertThat(rs.getString(2)).startsWith("2023-10-29 02:30:00"); // the zone is in force
                assertThat(rs.getLong(3)).isEqualTo(REPEATED_HOUR * 1000);
                // the clock this replaced: an hour early in the repeated hour
                assertThat(rs.getLong(4)).isEqualTo((REPEATED_HOUR - 3600) * 1000);
            }
        }
    }

    @Test
    void now_postgresSessionInAZoneWithDaylightSaving_utcEpochMillis() throws Exception {
        try (Connection c = TestDatabases.connect(Db.POSTGRES);
                Statement s = c.createStatement()) {
            s.execute("SET TIME ZONE 'Europe/Berlin'");
            try (ResultSet rs = s.executeQuery(
                    "SELECT " + StoreDialect.POSTGRES.now + ", (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT")) {
                rs.next();
                assertThat(Math.abs(rs.getLong(1) - System.currentTimeMillis())).isLessThan(60_000);
            }
        }
    }
}
