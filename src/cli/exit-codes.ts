// The CLI's exit codes: the same meaning for every command, so scripts can rely on them.
export const ExitCode = {
  ok: 0,
  /** The command ran and something failed (a check, a step, a record). */
  failure: 1,
  /** The command could not run: bad usage or a broken config. */
  usage: 2,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends a command with a message for the user and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.failure,
  ) {
    super(message);
    this.name = "CliError";
  }
}
