package dev.once.cli;

import java.sql.SQLException;

/** One-line descriptions of failures for the terminal. */
final class Errors {
    private Errors() {}

    static String describe(Throwable e) {
        if (e instanceof UserError) return e.getMessage();
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        String message = firstLine(e.getMessage());
        String rootMessage = firstLine(root.getMessage());
        if (root != e && rootMessage != null && (message == null || !message.contains(rootMessage))) {
            message = (message == null ? "" : message + ": ") + rootMessage;
        }
        String state = e instanceof SQLException sql && sql.getSQLState() != null
                ? " [SQLState " + sql.getSQLState() + "]"
                : "";
        return (message == null ? e.getClass().getSimpleName() : message) + state;
    }

    static String firstLine(String s) {
        if (s == null) return null;
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}
