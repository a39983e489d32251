package dev.once.cli;

import java.sql.SQLException;

/** One-line descriptions of failures for the terminal. */
final class Errors {
    private Errors() {}

    static String describe(Throwable e) {
        if (e instanceof UserError) return e.getMessage();
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        String message = firstLine(message(e));
        String rootMessage = firstLine(message(root));
        if (root != e && rootMessage != null && (message == null || !message.contains(rootMessage))) {
            message = (message == null ? "" : message + ": ") + rootMessage;
        }
        String state = e instanceof SQLException sql && sql.getSQLState() != null
                ? " [SQLState " + sql.getSQLState() + "]"
                : "";
        return (message == null ? e.getClass().getSimpleName() : message) + state;
    }

    /**
     * The message, with what is wrong added where the JDK gives only a path (java.nio's file system
     * exceptions without a reason: /tmp/f says nothing, /tmp/f: already exists ... does).
     */
    private static String message(Throwable t) {
        if (!(t instanceof java.nio.file.FileSystemException fs) || fs.getReason() != null) return t.getMessage();
        String kind;
        if (fs instanceof java.nio.file.FileAlreadyExistsException) kind = "already exists, and is not a directory";
        else if (fs instanceof java.nio.file.NotDirectoryException) kind = "not a directory";
        else if (fs instanceof java.nio.file.AccessDeniedException) kind = "permission denied";
        else if (fs instanceof java.nio.file.NoSuchFileException) kind = "no such file or directory";
        else if (fs instanceof java.nio.file.DirectoryNotEmptyException) kind = "directory not empty";
        else if (fs instanceof java.nio.file.NotLinkException) kind = "not a symbolic link";
        else if (fs instanceof java.nio.file.FileSystemLoopException) kind = "a loop of symbolic links";
        else kind = fs.getClass().getSimpleName();
        return fs.getMessage() + ": " + kind;
    }

    static String firstLine(String s) {
        if (s == null) return null;
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}
