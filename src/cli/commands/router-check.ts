// `wanctl router check`: what wanctl needs on the MikroTik (route.backend "routeros"), and what is missing.
import type { Config } from "../../config/schema/index.js";
import { CliError, ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";

export async function routerCheck(config: Config, io: CliIo): Promise<ExitCodeValue> {
  if (config.route.backend !== "routeros") {
    throw new CliError(`wanctl router check: route.backend is "${config.route.backend}"; this command checks a MikroTik (route.backend "routeros")`, ExitCode.usage);
  }
  const { routerClient } = await import("../../wan/route/routeros/gateway.js");
  const { checkRouter } = await import("../../wan/route/routeros/check.js");
  let client;
  try {
    client = routerClient(config.route, io.env);
  } catch (error) {
    io.out(`problem: ${(error as Error).message}`);
    io.out("1 problem found");
    return ExitCode.failure;
  }
  try {
    const result = await checkRouter(config, client);
    for (const line of result.lines) io.out(line);
    io.out(result.ok ? "the router is ready for wanctl" : `${result.problems.length} problem${result.problems.length === 1 ? "" : "s"} found`);
    return result.ok ? ExitCode.ok : ExitCode.failure;
  } finally {
    await client.close();
  }
}
