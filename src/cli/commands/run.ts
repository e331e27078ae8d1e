// `wanctl run`: the daemon, until SIGTERM/SIGINT (systemd stops it with SIGTERM). One per state
// directory (a second one exits 2 naming the first); SIGHUP reloads the config, and a broken new
// config leaves the old one running.
import { ConfigError, loadConfig } from "../../config/load.js";
import { composeDaemon } from "../../daemon/compose.js";
import { Daemon } from "../../daemon/daemon.js";
import { InstanceLockedError, lockStateDir, type InstanceLock } from "../../daemon/instance-lock.js";
import type { OfficePbx } from "../../asterisk/pbx/index.js";
import { createLogger } from "../../log.js";
import { opsObservers } from "../../ops/index.js";
import { commandRunner } from "../../system/command.js";
import { hostProblems } from "../../system/host-checks.js";
import { CliError, ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { packageVersion } from "../../lib/version.js";
import { loadConfigForCommand } from "./load.js";

export async function runDaemon(file: string, io: CliIo): Promise<ExitCodeValue> {
  const { config, warnings } = loadConfigForCommand(file, io);
  const logger = createLogger({ level: config.log.level });
  for (const warning of warnings) logger.warn(warning);

  // A SIGHUP must never kill the daemon (its default action), not even while it starts.
  let hangupWhileStarting = false;
  const early = () => void (hangupWhileStarting = true);
  process.on("SIGHUP", early);

  let lock: InstanceLock | undefined;
  const problems = await hostProblems(config, { run: commandRunner() });
  try {
    lock = await lockStateDir(config.stateDir);
  } catch (error) {
    if (error instanceof InstanceLockedError) {
      process.off("SIGHUP", early);
      throw new CliError(`wanctl run: ${error.message}`, ExitCode.usage);
    }
    // Without flock(1) the daemon still runs: failover matters more; the status says it.
    problems.push(`no lock on ${config.stateDir}: ${(error as Error).message}`);
  }

  // The PBX of the config in force (a reload builds a new one), for the trunks on the status page.
  let pbx: OfficePbx | undefined;
  const compose = (c: typeof config) => {
    const { pbx: built, ...deps } = composeDaemon(c, logger);
    pbx = built;
    return { ...deps, problems: [...problems, ...(deps.problems ?? [])] };
  };
  const first = compose(config);
  // Metrics, history, the status page and systemd watch the daemon for its whole life: a reload
  // keeps them (and their history); a changed http section takes effect at the next start.
  const trunks = { readTrunks: () => (pbx ? pbx.readTrunks() : Promise.resolve({ ok: false, durationMs: 0, detail: "no Asterisk configured" })) };
  const observers = await opsObservers(config, logger, { version: packageVersion(), ...(first.steps?.pbx ? { pbx: trunks } : {}) });
  const daemon = new Daemon(config, { ...first, observers });
  lock?.onLost((why) => daemon.configProblem(why));
  try {
    await daemon.start();
  } catch (error) {
    logger.fatal({ err: (error as Error).message }, `cannot start: ${(error as Error).message}`);
    await daemon.stop().catch(() => undefined);
    await lock?.release();
    process.off("SIGHUP", early);
    return ExitCode.failure;
  }
  logger.info({ config: file, links: config.links.map((l) => l.name) }, `wanctl running with ${file}`);

  // SIGHUP: one reload at a time; one more if another SIGHUP came meanwhile.
  let reloading: Promise<void> | undefined;
  let again = false;
  const reload = async (): Promise<void> => {
    do {
      again = false;
      try {
        const loaded = loadConfig(file, io.env);
        for (const warning of loaded.warnings) logger.warn(warning);
        await daemon.reload(loaded.config, compose);
      } catch (error) {
        const why = error instanceof ConfigError ? error.message : (error as Error).message;
        daemon.configProblem(`the config was not reloaded, the old one keeps running: ${why}`);
      }
    } while (again);
  };
  const onHangup = () => {
    logger.info({ config: file }, `SIGHUP: reloading ${file}`);
    if (reloading) {
      again = true;
      return;
    }
    reloading = reload().finally(() => (reloading = undefined));
  };
  process.on("SIGHUP", onHangup);
  process.off("SIGHUP", early);
  if (hangupWhileStarting) onHangup();

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info({ signal }, `stopping (${signal})`);
  process.off("SIGHUP", onHangup);
  await reloading;
  await daemon.stop();
  await lock?.release();
  return ExitCode.ok;
}
