// Runs system commands (ip, conntrack, ...) with a time limit and errors that say what and where.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs argv[0] with the rest as arguments; injected so tests can run it inside a namespace. */
export type CommandRunner = (argv: readonly string[], options?: { timeoutMs?: number }) => Promise<CommandResult>;

export class CommandError extends Error {
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly stderr: string,
    readonly exitCode: number | null,
    /** The binary is not installed (or not on the PATH). */
    readonly notFound = false,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

/** Debian package that provides each binary wanctl calls, for the "not found" message. */
const PACKAGE_OF: Record<string, string> = { ip: "iproute2", conntrack: "conntrack", ping: "iputils-ping", nsupdate: "bind9-dnsutils" };

export function commandRunner(prefix: readonly string[] = []): CommandRunner {
  return (argv, options = {}) => {
    const full = [...prefix, ...argv];
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      execFile(full[0]!, full.slice(1), { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (!error) return resolve({ stdout, stderr });
        const shown = argv.join(" ");
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          const binary = full[0]!;
          const pkg = PACKAGE_OF[binary];
          return reject(new CommandError(`${binary} not found${pkg ? ` (install the Debian package ${pkg})` : ""}`, argv, "", null, true));
        }
        if ((error as { killed?: boolean }).killed) {
          return reject(new CommandError(`\`${shown}\` did not finish within ${timeoutMs} ms`, argv, stderr, null));
        }
        const exitCode = typeof error.code === "number" ? error.code : null;
        const why = stderr.trim().split("\n").slice(-3).join("; ") || `exit code ${exitCode}`;
        reject(new CommandError(`\`${shown}\` failed: ${why}`, argv, stderr, exitCode));
      });
    });
  };
}

/** What a long-running helper (the conntrack flush) needs of a child process: its pipes, kill, and its events. */
export type ServingProcess = Pick<ChildProcessWithoutNullStreams, "stdin" | "stdout" | "stderr" | "kill" | "on">;

/** Starts argv[0] with the rest as arguments and pipes to it; injected like CommandRunner (the same prefix) and faked in tests. */
export type Spawner = (argv: readonly string[]) => ServingProcess;

export function commandSpawner(prefix: readonly string[] = []): Spawner {
  return (argv) => {
    const full = [...prefix, ...argv];
    return spawn(full[0]!, full.slice(1), { stdio: "pipe" });
  };
}
