// `wanctl asterisk check`: what wanctl will manage on the PBX, and what is missing or wrong.
import type { Config } from "../../config/schema/index.js";
import { CliError, ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";

export async function asteriskCheck(config: Config, io: CliIo): Promise<ExitCodeValue> {
  if (!config.asterisk) throw new CliError("wanctl asterisk check: the config has no \"asterisk\" section", ExitCode.usage);
  const { checkAsterisk } = await import("../../asterisk/check.js");
  const result = await checkAsterisk(config.asterisk, { env: io.env });
  for (const line of result.lines) io.out(line);
  io.out(result.ok ? "Asterisk is ready for wanctl" : `${result.problems.length} problem${result.problems.length === 1 ? "" : "s"} found`);
  return result.ok ? ExitCode.ok : ExitCode.failure;
}
