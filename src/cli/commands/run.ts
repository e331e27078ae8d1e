// `wanctl run`: the daemon, until SIGTERM/SIGINT (systemd stops it with SIGTERM).
import type { Config } from "../../config/schema/index.js";
import type { AlertSink } from "../../daemon/alerts.js";
import { Daemon } from "../../daemon/daemon.js";
import { Dispatcher, notifiersFromConfig } from "../../notify/index.js";
import { createLogger } from "../../log.js";
import { createProbes } from "../../wan/probes/index.js";
import { LinuxRouteBackend } from "../../wan/route/linux.js";
import { commandRunner } from "../../system/command.js";
import type { Logger } from "../../log.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadConfigForCommand } from "./load.js";

export async function runDaemon(file: string, io: CliIo): Promise<ExitCodeValue> {
  const { config, warnings } = loadConfigForCommand(file, io);
  const logger = createLogger({ level: config.log.level });
  for (const warning of warnings) logger.warn(warning);
  const route = new LinuxRouteBackend({
    links: config.links,
    run: commandRunner(),
    flushConntrack: config.route.flushConntrack,
    sipPorts: config.route.sipPorts,
    rtpPorts: config.route.rtpPorts,
  });
  const timing = { intervalMs: config.monitor.intervalMs, timeoutMs: config.monitor.timeoutMs };
  const alerts = openAlerts(config, logger);
  const daemon = new Daemon(config, {
    route,
    logger,
    ...(alerts ? { alerts } : {}),
    makeProbes: (link) => createProbes(config.monitor.targets, link, timing),
  });
  try {
    await daemon.start();
  } catch (error) {
    logger.fatal({ err: (error as Error).message }, `cannot start: ${(error as Error).message}`);
    await daemon.stop().catch(() => undefined);
    return ExitCode.failure;
  }
  logger.info({ config: file, links: config.links.map((l) => l.name) }, `wanctl running with ${file}`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info({ signal }, `stopping (${signal})`);
  await daemon.stop();
  return ExitCode.ok;
}

/**
 * The alert outbox, when a channel is configured. Alerts follow the default route, which the
 * failover has just moved onto the link that works.
 */
function openAlerts(config: Config, logger: Logger): AlertSink | undefined {
  const { notifiers, secrets } = notifiersFromConfig(config.alerts);
  if (notifiers.length === 0) return undefined;
  return Dispatcher.open({
    stateDir: config.stateDir,
    notifiers,
    secrets,
    coalesceSeconds: config.alerts.coalesceSeconds,
    maxPerHour: config.alerts.maxPerHour,
    log: logger,
  });
}
