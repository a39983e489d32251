package dev.once.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code once} command. */
@Command(
        name = "once",
        mixinStandardHelpOptions = true,
        usageHelpWidth = 100,
        versionProvider = OnceCommand.Version.class,
        subcommands = {
            ServeCommand.class,
            DemoCommand.class,
            RacecheckCommand.class,
            BenchCommand.class,
            CommandLine.HelpCommand.class
        },
        description = {
            "Once makes get-or-create safe when many processes race for the same key.",
            "",
            "Run 'once help COMMAND' for a command's options."
        },
        footer = {"", "Exit codes: 0 success, 1 the check found a problem, 2 bad input or unreachable database."})
public final class OnceCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new OnceCommand());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            boolean verbose = parseResult.originalArgs().contains("--verbose");
            commandLine.getErr().println(prefix(commandLine) + Errors.describe(e));
            if (verbose) e.printStackTrace(commandLine.getErr());
            return e instanceof UserError u ? u.exitCode() : 2;
        });
        cli.setParameterExceptionHandler((e, args) -> {
            CommandLine c = e.getCommandLine();
            c.getErr()
                    .println(prefix(c)
                            + (e instanceof CommandLine.UnmatchedArgumentException u ? unmatched(u) : e.getMessage()));
            c.getErr().println("Run 'once " + (c == cli ? "" : c.getCommandName() + " ") + "--help' for the options.");
            return 2;
        });
        return cli;
    }

    /**
     * What was not understood, without the values typed after an unknown option: picocli quoted them all,
     * so {@code --key-secert SECRET} printed the secret (helper-76). Option names are shown (cut at
     * {@code =}), with picocli's suggestions; a stray word only at the top level, where it is a command.
     */
    private static String unmatched(CommandLine.UnmatchedArgumentException u) {
        java.util.List<String> options = new java.util.ArrayList<>();
        int others = 0;
        for (String a : u.getUnmatched()) {
            if (a.startsWith("-")) options.add("'" + (a.indexOf('=') > 0 ? a.substring(0, a.indexOf('=')) : a) + "'");
            else others++;
        }
        if (options.isEmpty() && u.getCommandLine().getParent() == null) return u.getMessage();
        String hidden = others == 0 ? "" : " (and " + others + " value(s), not shown: one may be a secret)";
        String said = options.isEmpty()
                ? "Unmatched argument(s)" + hidden
                : (options.size() == 1 ? "Unknown option: " : "Unknown options: ")
                        + String.join(", ", options)
                        + hidden;
        java.util.List<String> suggestions = u.getSuggestions();
        if (!suggestions.isEmpty())
            said += "; did you mean " + String.join(" or ", suggestions.subList(0, Math.min(3, suggestions.size())))
                    + "?";
        return said;
    }

    /** "once: " for the command itself, "once serve: " for a subcommand. */
    private static String prefix(CommandLine c) {
        return c.getParent() == null ? "once: " : "once " + c.getCommandName() + ": ";
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = OnceCommand.class.getPackage().getImplementationVersion();
            return new String[] {"once " + (v == null ? "development build" : v)};
        }
    }
}
