// Commands whose machinery is not built yet say so plainly instead of pretending.
import { CliError, ExitCode } from "../exit-codes.js";

export function notBuiltYet(command: string, what: string): never {
  throw new CliError(`wanctl ${command}: ${what} is not built yet in this version of wanctl; nothing was done`, ExitCode.failure);
}
