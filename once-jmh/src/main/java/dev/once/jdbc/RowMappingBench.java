package dev.once.jdbc;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Row mapping on an in-memory SQLite database, where a query costs microseconds and Once's own work
 * shows: a raw JDBC read of one row into an array, Once's statement-and-map helper, and a whole
 * getOrCreate that finds its row (metadata cached, on the same connection).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RowMappingBench {
    private static final String SELECT = "SELECT * FROM quotes WHERE item = ?";

    private Connection c;
    private Once once;

    @Setup(Level.Trial)
    public void setup() throws Exception {
        c = DriverManager.getConnection("jdbc:sqlite::memory:");
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE quotes (id INTEGER PRIMARY KEY, item TEXT NOT NULL UNIQUE, price REAL,"
                    + " currency TEXT, updated TEXT)");
            s.execute(
                    "INSERT INTO quotes (item, price, currency, updated) VALUES ('AAPL', 190.25, 'USD', '2026-11-25')");
        }
        once = Once.using(new org.sqlite.SQLiteDataSource()); // only its dialect: every call below passes c
        once.getOrCreate(c, "quotes", Map.of("item", "AAPL"), Map.of());
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        c.close();
    }

    @Benchmark
    public Object[] rawJdbc() throws Exception {
        try (PreparedStatement ps = c.prepareStatement(SELECT)) {
            ps.setString(1, "AAPL");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                int n = rs.getMetaData().getColumnCount();
                Object[] row = new Object[n];
                for (int i = 0; i < n; i++) row[i] = rs.getObject(i + 1);
                return row;
            }
        }
    }

    @Benchmark
    public Map<String, Object> onceQueryAndMap() throws Exception {
        return Sql.first(c, SELECT, List.of("AAPL"));
    }

    @Benchmark
    public GetOrCreateResult onceGetOrCreateFound() throws Exception {
        return once.getOrCreate(c, "quotes", Map.of("item", "AAPL"), Map.of());
    }
}
