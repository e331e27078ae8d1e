// The command-line interface: one program, a subcommand per job, the same exit codes for all.
import { Command, CommanderError, Option } from "commander";
import { DEFAULT_CONFIG_PATH } from "../config/load.js";
import { checkConfig } from "./commands/check-config.js";
import { loadConfigForCommand } from "./commands/load.js";
import { showStatus } from "./commands/status.js";
import { pinLink, unpin } from "./commands/use.js";
import { CliError, ExitCode, type ExitCodeValue } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import { packageVersion } from "../lib/version.js";

interface CommonOptions {
  config: string;
}

function buildProgram(io: CliIo, setExit: (code: ExitCodeValue) => void): Command {
  const program = new Command("wanctl")
    .description("Dual-WAN failover for an office phone system: route, DNS, Asterisk and SIP trunks in seconds.")
    .version(packageVersion(), "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(run with --help for usage)");

  /** A subcommand with the shared --config option; its action returns the exit code. */
  const command = (nameAndArgs: string, description: string) =>
    program
      .command(nameAndArgs)
      .description(description)
      .addOption(new Option("-c, --config <file>", "config file (or $WANCTL_CONFIG)").default(io.env.WANCTL_CONFIG ?? DEFAULT_CONFIG_PATH));
  const done = async (code: ExitCodeValue | Promise<ExitCodeValue>) => setExit(await code);

  // The daemon and the alert channels are loaded only by the commands that use them: a resident
  // daemon's memory should not pay for every command, nor `wanctl status` for the daemon.
  command("run", "run the daemon: monitor the links and fail over (systemd runs this)").action(async (o: CommonOptions) =>
    done((await import("./commands/run.js")).runDaemon(o.config, io)),
  );
  command("check-config", "validate the config file and summarise what it manages").action((o: CommonOptions) => done(checkConfig(o.config, io)));
  command("status", "show each link's state, the active link and why")
    .option("--json", "print the status as JSON")
    .action((o: CommonOptions & { json?: boolean }) => done(showStatus(loadConfigForCommand(o.config, io).config, io, { json: o.json })));
  command("use <link>", "pin the office to a link until `wanctl auto` (survives restarts)").action((link: string, o: CommonOptions) =>
    done(pinLink(loadConfigForCommand(o.config, io).config, link, io)),
  );
  command("auto", "let wanctl choose the link again").action((o: CommonOptions) => done(unpin(loadConfigForCommand(o.config, io).config, io)));
  command("test", "run a failover drill in the running daemon: to the backup link and back, every step proven")
    .option("--notify", "only send a test alert through every channel and report each outcome")
    .action(async (o: CommonOptions & { notify?: boolean }) => {
      const { config } = loadConfigForCommand(o.config, io);
      if (o.notify) return done(import("./commands/test-notify.js").then((m) => m.testNotify(config, io)));
      return done(import("./commands/drill.js").then((m) => m.runDrillCommand(config, io)));
    });
  command("ip", "print each link's public address, learned through that link").action(async (o: CommonOptions) =>
    done((await import("./commands/ip-dns.js")).showPublicAddresses(loadConfigForCommand(o.config, io).config, io)),
  );
  program
    .command("dns")
    .description("dynamic DNS tools")
    .command("update")
    .description("push every record now: the active link's public address, each link's own name, the SRV records with the active link first; exit 1 if any failed")
    .addOption(new Option("-c, --config <file>", "config file (or $WANCTL_CONFIG)").default(io.env.WANCTL_CONFIG ?? DEFAULT_CONFIG_PATH))
    .action(async (o: CommonOptions) => done((await import("./commands/ip-dns.js")).updateDnsNow(loadConfigForCommand(o.config, io).config, io)));
  program
    .command("asterisk")
    .description("Asterisk tools")
    .command("check")
    .description("connect to the AMI, check the privileges wanctl needs, list the transports and trunks it will manage")
    .addOption(new Option("-c, --config <file>", "config file (or $WANCTL_CONFIG)").default(io.env.WANCTL_CONFIG ?? DEFAULT_CONFIG_PATH))
    .action(async (o: CommonOptions) => done((await import("./commands/asterisk-check.js")).asteriskCheck(loadConfigForCommand(o.config, io).config, io)));
  program
    .command("router")
    .description("MikroTik tools (route.backend \"routeros\")")
    .command("check")
    .description("log in to the router, check the policies, marked routes, interfaces and probes wanctl needs, and say what is missing")
    .addOption(new Option("-c, --config <file>", "config file (or $WANCTL_CONFIG)").default(io.env.WANCTL_CONFIG ?? DEFAULT_CONFIG_PATH))
    .action(async (o: CommonOptions) => done((await import("./commands/router-check.js")).routerCheck(loadConfigForCommand(o.config, io).config, io)));
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
      // Help shown because a subcommand is missing (`wanctl dns`) carries exit code 1: a usage error.
      const informational = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(error.code) && error.exitCode === 0;
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
