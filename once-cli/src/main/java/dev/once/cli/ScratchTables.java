package dev.once.cli;

import java.security.SecureRandom;

/**
 * Names for the tables racecheck and bench create and drop: a fixed name ({@code once_racecheck_once})
 * made them drop a user's table of that name, rows and all (helper-34). Each run's tables end in a
 * random suffix no one else has, so dropping one drops nothing but this run's own.
 */
public final class ScratchTables {
    private static final SecureRandom RANDOM = new SecureRandom();

    private ScratchTables() {}

    /** {@code base} and a random suffix, e.g. once_bench_plain_k3x9q2: lower case, letters and digits. */
    public static String named(String base) {
        StringBuilder b = new StringBuilder(base).append('_');
        String digits = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (int i = 0; i < 8; i++) b.append(digits.charAt(RANDOM.nextInt(digits.length())));
        return b.toString();
    }
}
