// The command-line interface: one program, a subcommand per job, the same exit codes for all.
import { Command, CommanderError, Option } from "commander";
import { DEFAULT_CONFIG_PATH } from "../config/load.js";
import { checkConfig } from "./commands/check-config.js";
import { loadConfigForCommand } from "./commands/load.js";
import { notBuiltYet } from "./commands/not-built.js";
import { CliError, ExitCode, type ExitCodeValue } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import { packageVersion } from "./version.js";

type Action = (options: { config: string }) => ExitCodeValue | Promise<ExitCodeValue>;

function buildProgram(io: CliIo, setExit: (code: ExitCodeValue) => void): Command {
  const program = new Command("wanctl")
    .description("Dual-WAN failover for an office phone system: route, DNS, Asterisk and SIP trunks in seconds.")
    .version(packageVersion(), "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(run with --help for usage)");

  const command = (name: string, description: string, action: Action) =>
    program
      .command(name)
      .description(description)
      .addOption(new Option("-c, --config <file>", "config file (or $WANCTL_CONFIG)").default(io.env.WANCTL_CONFIG ?? DEFAULT_CONFIG_PATH))
      .action(async (options: { config: string }) => setExit(await action(options)));

  command("run", "run the daemon: monitor the links and fail over (systemd runs this)", ({ config }) => {
    loadConfigForCommand(config, io);
    return notBuiltYet("run", "the daemon (link monitoring and failover)");
  });
  command("check-config", "validate the config file and summarise what it manages", ({ config }) => checkConfig(config, io));
  command("status", "show each link's state, the active link and why", ({ config }) => {
    loadConfigForCommand(config, io);
    return notBuiltYet("status", "the daemon's state (it comes with link monitoring)");
  });
  command("test", "run a failover drill that proves every step", ({ config }) => {
    loadConfigForCommand(config, io);
    return notBuiltYet("test", "the failover drill");
  });
  return program;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCodeValue> {
  let exitCode: ExitCodeValue = ExitCode.ok;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    if (argv.length === 0) {
      io.err(program.helpInformation());
      return ExitCode.usage;
    }
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      const informational = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(error.code);
      return informational ? ExitCode.ok : ExitCode.usage;
    }
    if (error instanceof CliError) {
      io.err(error.message);
      return error.exitCode;
    }
    io.err(`wanctl: unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    return ExitCode.failure;
  }
}
