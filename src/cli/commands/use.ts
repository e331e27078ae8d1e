// `wanctl use <link>` / `wanctl auto`: the operator's pin, read by the running daemon.
import type { Config } from "../../config/schema/index.js";
import { writePin } from "../../daemon/pin.js";
import { CliError, ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";

export function pinLink(config: Config, link: string, io: CliIo): ExitCodeValue {
  if (config.route.backend === "none") {
    throw new CliError('wanctl use: route.backend is "none": the router chooses the link and wanctl follows it; choose the link on the router', ExitCode.usage);
  }
  if (!config.links.some((l) => l.name === link)) {
    throw new CliError(`wanctl use: no link named "${link}" (configured: ${config.links.map((l) => l.name).join(", ")})`, ExitCode.usage);
  }
  writePin(config.stateDir, { mode: "pinned", link, since: new Date().toISOString() });
  io.out(`pinned to ${link}: the daemon moves the office there as soon as ${link} is up, and stays there until \`wanctl auto\``);
  return ExitCode.ok;
}

export function unpin(config: Config, io: CliIo): ExitCodeValue {
  writePin(config.stateDir, { mode: "auto" });
  io.out("automatic: the daemon chooses the link again");
  return ExitCode.ok;
}
