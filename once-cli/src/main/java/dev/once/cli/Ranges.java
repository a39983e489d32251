package dev.once.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** Bounds checks for numeric options, reported the way picocli reports bad input (exit code 2). */
final class Ranges {
    private Ranges() {}

    static void check(CommandSpec spec, String option, long value, long min, long max) {
        if (value < min || value > max) {
            throw new ParameterException(
                    spec.commandLine(), option + " must be between " + min + " and " + max + ", not " + value);
        }
    }
}
