// `wanctl run`: the daemon, until SIGTERM/SIGINT (systemd stops it with SIGTERM).
import { composeDaemon } from "../../daemon/compose.js";
import { Daemon } from "../../daemon/daemon.js";
import { createLogger } from "../../log.js";
import { opsObservers } from "../../ops/index.js";
import { packageVersion } from "../version.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadConfigForCommand } from "./load.js";

export async function runDaemon(file: string, io: CliIo): Promise<ExitCodeValue> {
  const { config, warnings } = loadConfigForCommand(file, io);
  const logger = createLogger({ level: config.log.level });
  for (const warning of warnings) logger.warn(warning);
  const { pbx, ...deps } = composeDaemon(config, logger);
  const observers = await opsObservers(config, logger, { version: packageVersion(), ...(pbx ? { pbx } : {}) });
  const daemon = new Daemon(config, { ...deps, observers });
  try {
    await daemon.start();
  } catch (error) {
    logger.fatal({ err: (error as Error).message }, `cannot start: ${(error as Error).message}`);
    await daemon.stop().catch(() => undefined);
    return ExitCode.failure;
  }
  logger.info({ config: file, links: config.links.map((l) => l.name) }, `wanctl running with ${file}`);
  // systemd's ExecReload sends SIGHUP, whose default would end the process. Until the config is
  // reloaded in place, say so and keep running.
  process.on("SIGHUP", () => logger.warn("SIGHUP: reloading the config is not supported yet; restart wanctl to apply a changed config"));
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info({ signal }, `stopping (${signal})`);
  await daemon.stop();
  return ExitCode.ok;
}
