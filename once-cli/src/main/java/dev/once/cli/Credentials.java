package dev.once.cli;

import picocli.CommandLine.Option;

/** The database user and password options every command that takes --db shares. */
final class Credentials {
    @Option(names = "--user", defaultValue = "${env:ONCE_DB_USER}", description = "Database user (env ONCE_DB_USER).")
    String user;

    @Option(
            names = "--password",
            defaultValue = "${env:ONCE_DB_PASSWORD}",
            description = "Database password (env ONCE_DB_PASSWORD, which keeps it out of the process list).")
    String password;
}
