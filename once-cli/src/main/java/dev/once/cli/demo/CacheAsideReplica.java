package dev.once.cli.demo;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.Callback;

/**
 * A replica running the usual cache-aside code: SELECT the answer, on a miss call the API and INSERT
 * it, plainly (duplicate-key errors when replicas race) or with {@code ON CONFLICT DO NOTHING} (no
 * errors, every racer still pays for the call).
 */
final class CacheAsideReplica implements AutoCloseable {
    private final Server server;

    CacheAsideReplica(DataSource db, String table, String api, boolean onConflictDoNothing) throws Exception {
        HttpClient client =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String insert = "INSERT INTO " + table + " (k, v) VALUES (?, ?)"
                + (onConflictDoNothing ? " ON CONFLICT (k) DO NOTHING" : "");
        server = LoopbackServer.start(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                String key = request.getHttpURI().getPath();
                try (Connection c = db.getConnection()) {
                    String value = null;
                    try (PreparedStatement ps = c.prepareStatement("SELECT v FROM " + table + " WHERE k = ?")) {
                        ps.setString(1, key);
                        try (ResultSet rs = ps.executeQuery()) {
                            if (rs.next()) value = rs.getString(1);
                        }
                    }
                    if (value == null) {
                        value = client.send(
                                        HttpRequest.newBuilder(URI.create(api + key))
                                                .build(),
                                        HttpResponse.BodyHandlers.ofString())
                                .body();
                        try (PreparedStatement ps = c.prepareStatement(insert)) {
                            ps.setString(1, key);
                            ps.setString(2, value);
                            ps.executeUpdate();
                        }
                    }
                    response.setStatus(200);
                    response.write(true, ByteBuffer.wrap(value.getBytes(StandardCharsets.UTF_8)), callback);
                } catch (SQLException | java.io.IOException | InterruptedException e) {
                    response.setStatus(500);
                    response.write(
                            true,
                            ByteBuffer.wrap(("error: " + e.getMessage()).getBytes(StandardCharsets.UTF_8)),
                            callback);
                }
                return true;
            }
        });
    }

    int port() {
        return LoopbackServer.port(server);
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }
}
