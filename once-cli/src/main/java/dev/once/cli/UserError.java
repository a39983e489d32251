package dev.once.cli;

/** A failure the user can fix (bad input, unreachable database): one line, no stack trace, exit code 2. */
final class UserError extends RuntimeException {
    private final int exitCode;

    UserError(String message) {
        this(message, null);
    }

    UserError(String message, Throwable cause) {
        super(message, cause);
        this.exitCode = 2;
    }

    int exitCode() {
        return exitCode;
    }
}
