package dev.once.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The help as printed: what it says matches the code, and no line is broken mid-sentence by wrapping. */
class HelpTest {
    /** picocli prints each description and footer element as its own line, wrapping one over 100 columns. */
    @Test
    void descriptionsAndFooters_everyLineFitsUnwrapped() {
        List<String> tooLong = new ArrayList<>();
        CommandLine cli = OnceCommand.commandLine();
        List<CommandLine> commands = new ArrayList<>(cli.getSubcommands().values());
        commands.add(cli);
        for (CommandLine c : commands) {
            var usage = c.getCommandSpec().usageMessage();
            for (String[] lines : List.of(usage.description(), usage.footer(), usage.header())) {
                for (String line : lines) if (line.length() > 95) tooLong.add(c.getCommandName() + ": " + line);
            }
        }
        assertThat(tooLong).isEmpty();
    }

    @Test
    void benchQuick_sayTheThreadsItUses() {
        String help = RacecheckCommandTest.once("help", "bench").out();

        assertThat(help).contains("1 and 16 threads").doesNotContain("1, 4 and 16");
        assertThat(dev.once.cli.bench.Settings.quick(new java.io.PrintWriter(java.io.Writer.nullWriter()))
                        .threads())
                .containsExactly(1, 16);
    }

    @Test
    void serveDrain_namesItsEnvironmentVariable() {
        assertThat(RacecheckCommandTest.once("help", "serve").out()).contains("(env ONCE_DRAIN");
    }

    @Test
    void topLevelError_namesTheCommandOnce() {
        RacecheckCommandTest.Run run = RacecheckCommandTest.once("frob");

        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err()).startsWith("once: Unmatched argument").doesNotContain("once once");
        RacecheckCommandTest.Run sub = RacecheckCommandTest.once("serve", "--frob");
        assertThat(sub.err()).startsWith("once serve: Unknown option");
    }
}
