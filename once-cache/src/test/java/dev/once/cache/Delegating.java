package dev.once.cache;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;

/**
 * JDBC objects that pass every call through to real ones, for tests that wrap a pool the way tracing
 * and transaction-aware proxies do (hiding its URL) or hold its statements at chosen points.
 */
final class Delegating {
    private Delegating() {}

    /** What a test does to each connection the data source hands out, before the cache gets it. */
    interface OnBorrow {
        void accept(Connection c) throws SQLException;
    }

    /** A data source that hides the real one's type (and so its URL), each connection first given to {@code onBorrow}. */
    static DataSource dataSource(DataSource real, OnBorrow onBorrow) {
        return proxy(DataSource.class, real, (p, m, args) -> {
            Object r = invoke(m, real, args);
            if (r instanceof Connection c) onBorrow.accept(c);
            return r;
        });
    }

    /** What a test does around each prepared statement's execution, given its SQL. */
    interface StatementHook {
        void before(String sql) throws Exception;

        default void after(String sql) {}
    }

    /** A data source whose prepared statements call {@code hook} before and after each execution. */
    static DataSource statements(DataSource real, StatementHook hook) {
        return preparedStatements(real, (sql, ps, m, args) -> {
            boolean runs = m.getName().startsWith("execute");
            if (runs) hook.before(sql);
            Object r = invoke(m, ps, args);
            if (runs) hook.after(sql);
            return r;
        });
    }

    /** A data source whose prepared statements add each parameter bound to them to {@code bound}. */
    static DataSource parameters(DataSource real, java.util.List<Object> bound) {
        return preparedStatements(real, (sql, ps, m, args) -> {
            if (m.getName().startsWith("set") && args != null && args.length >= 2) bound.add(args[1]);
            return invoke(m, ps, args);
        });
    }

    /** Each call on a prepared statement, with the statement's SQL. */
    private interface StatementCall {
        Object invoke(String sql, java.sql.PreparedStatement ps, Method m, Object[] args) throws Throwable;
    }

    private static DataSource preparedStatements(DataSource real, StatementCall call) {
        return proxy(DataSource.class, real, (ds, m, args) -> {
            Object r = invoke(m, real, args);
            if (!(r instanceof Connection c)) return r;
            return proxy(Connection.class, c, (conn, cm, cargs) -> {
                Object cr = invoke(cm, c, cargs);
                if (!(cr instanceof java.sql.PreparedStatement ps)
                        || !cm.getName().equals("prepareStatement")) return cr;
                String sql = (String) cargs[0];
                return proxy(
                        java.sql.PreparedStatement.class, ps, (stmt, sm, sargs) -> call.invoke(sql, ps, sm, sargs));
            });
        });
    }

    static <T> T proxy(Class<T> type, Object target, InvocationHandler handler) {
        return type.cast(Proxy.newProxyInstance(Delegating.class.getClassLoader(), new Class<?>[] {type}, handler));
    }

    /** Calls the real method, throwing what it throws (not a reflective wrapper). */
    static Object invoke(Method m, Object target, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
