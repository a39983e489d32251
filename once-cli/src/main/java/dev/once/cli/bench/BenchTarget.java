package dev.once.cli.bench;

import javax.sql.DataSource;

/**
 * The database a bench run measures: a pool for in-process work, and the URL and credentials that
 * worker processes use to connect themselves.
 */
public record BenchTarget(String url, String user, String password, String description, DataSource pool) {}
