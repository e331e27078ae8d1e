// Config loading for commands: a broken config ends the command with exit code 2 and every problem.
import { ConfigError, loadConfig, type LoadedConfig } from "../../config/load.js";
import { CliError, ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";

export function loadConfigForCommand(file: string, io: CliIo): LoadedConfig {
  try {
    const loaded = loadConfig(file, io.env);
    for (const warning of loaded.warnings) io.err(`warning: ${warning}`);
    return loaded;
  } catch (error) {
    if (error instanceof ConfigError) {
      const count = error.problems.length;
      throw new CliError(`${error.message}\n${count} problem${count === 1 ? "" : "s"} in ${file}`, ExitCode.usage);
    }
    throw error;
  }
}
