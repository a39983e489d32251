package dev.once.cli.bench;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.once.cli.demo.LoopbackServer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.Callback;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * The proxy-waiters bench's second floor, on PostgreSQL: {@link BareProxy} plus the least database work
 * that makes a key cost one upstream call across replicas. The first request for a key in this process
 * runs one statement (claim the key's row, and read its value if one is stored); the process that
 * claimed it calls the upstream, writes the answer and sends it with a NOTIFY in one more statement; the
 * others wait for that NOTIFY on one LISTEN connection. Nothing else: no lease (a crashed leader leaves
 * its key's waiters waiting for good), no expiry, no failure handling, no rules, no near cache, no
 * credentials; a benchmark's reference, never a cache to deploy. What {@code once serve} adds over it is
 * the price of what it does beyond coalescing; what it adds over {@link BareProxy} is the price of
 * coordinating through the database on this machine.
 */
public final class FloorProxy {
    private FloorProxy() {}

    /**
     * {@code FloorProxy <upstream origin> <jdbc url> <user or ""> <table>}, the password in {@code
     * ONCE_DB_PASSWORD}; the table ({@code k text PRIMARY KEY, v text}) exists, and its name is the NOTIFY
     * channel. Listens on a free port of 127.0.0.1 and says so on stdout.
     */
    public static void main(String[] args) throws Exception {
        String origin = args[0];
        String url = args[1];
        String user = args[2].isEmpty() ? null : args[2];
        String table = args[3];
        String password = System.getenv("ONCE_DB_PASSWORD");
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(8); // once serve's statement slots for one route
        config.setConnectionInitSql("SET synchronous_commit = off"); // as once-cache's claims and writes
        HikariDataSource pool = new HikariDataSource(config);
        ConcurrentHashMap<String, CompletableFuture<byte[]>> answers = new ConcurrentHashMap<>();
        Connection listening = DriverManager.getConnection(url, user, password);
        try (Statement s = listening.createStatement()) {
            s.execute("LISTEN " + table);
        }
        PGConnection pg = listening.unwrap(PGConnection.class);
        Thread.ofPlatform().daemon().name("floor-listener").start(() -> {
            try {
                while (true) {
                    PGNotification[] heard = pg.getNotifications(0); // 0: wait until one comes
                    if (heard == null) continue;
                    for (PGNotification n : heard) {
                        String payload = n.getParameter();
                        int cut = payload.indexOf('\u0001');
                        CompletableFuture<byte[]> waiting = answers.get(payload.substring(0, cut));
                        if (waiting != null)
                            waiting.complete(payload.substring(cut + 1).getBytes(StandardCharsets.UTF_8));
                    }
                }
            } catch (java.sql.SQLException e) {
                System.err.println("floor proxy: the LISTEN connection failed: " + e.getMessage());
            }
        });
        HttpClient client = new HttpClient();
        client.setMaxConnectionsPerDestination(256);
        client.start();
        // the claim and the value already stored, in one round trip; the value is read from the statement's
        // snapshot, so a leader that stored it before that was heard here too late is read instead
        String claim = "WITH claimed AS (INSERT INTO " + table + " (k) VALUES (?) ON CONFLICT DO NOTHING RETURNING 1)"
                + " SELECT EXISTS (SELECT 1 FROM claimed), (SELECT v FROM " + table + " WHERE k = ?)";
        String store = "WITH stored AS (UPDATE " + table + " SET v = ? WHERE k = ? RETURNING k, v)"
                + " SELECT pg_notify('" + table + "', k || chr(1) || v) FROM stored";
        Server server = LoopbackServer.start(
                new Handler.Abstract.NonBlocking() {
                    @Override
                    public boolean handle(Request request, Response response, Callback callback) {
                        String path = request.getHttpURI().getPath();
                        if (BareProxy.metrics(path, response, callback)) return true;
                        // in the map before the claim: a NOTIFY that comes after the claim's snapshot finds it
                        CompletableFuture<byte[]> mine = new CompletableFuture<>();
                        CompletableFuture<byte[]> had = answers.putIfAbsent(path, mine);
                        if (had == null)
                            Thread.startVirtualThread(() -> resolve(pool, claim, store, client, origin, path, mine));
                        (had == null ? mine : had).whenComplete((body, failure) -> {
                            if (failure != null) callback.failed(failure);
                            else BareProxy.write(response, callback, null, body);
                        });
                        return true;
                    }
                },
                Runtime.getRuntime().availableProcessors());
        System.out.println("listening on http://127.0.0.1:" + LoopbackServer.port(server));
        System.out.flush();
        server.join();
    }

    /** Claims the key; the winner loads and stores, a stored value answers at once, else the NOTIFY will. */
    private static void resolve(
            HikariDataSource pool,
            String claim,
            String store,
            HttpClient client,
            String origin,
            String path,
            CompletableFuture<byte[]> mine) {
        boolean won;
        String stored;
        try (Connection c = pool.getConnection();
                PreparedStatement ps = c.prepareStatement(claim)) {
            ps.setString(1, path);
            ps.setString(2, path);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                won = rs.getBoolean(1);
                stored = rs.getString(2);
            }
        } catch (java.sql.SQLException e) {
            mine.completeExceptionally(e);
            return;
        }
        if (stored != null) {
            mine.complete(stored.getBytes(StandardCharsets.UTF_8));
        } else if (won) {
            client.newRequest(origin + path).send(new BufferingResponseListener() {
                @Override
                public void onComplete(org.eclipse.jetty.client.Result result) {
                    if (result.isFailed()) {
                        mine.completeExceptionally(result.getFailure());
                        return;
                    }
                    byte[] body = getContent();
                    Thread.startVirtualThread(
                            () -> { // as once serve: its own callers answered once it is stored
                                try (Connection c = pool.getConnection();
                                        PreparedStatement ps = c.prepareStatement(store)) {
                                    ps.setString(1, new String(body, StandardCharsets.UTF_8));
                                    ps.setString(2, path);
                                    ps.executeQuery().close();
                                    mine.complete(body);
                                } catch (java.sql.SQLException e) {
                                    mine.completeExceptionally(e);
                                }
                            });
                }
            });
        }
    }
}
