// The operations side of `wanctl run`, built from the config as daemon observers: the history,
// Prometheus metrics and the status page on http.listen (loaded only when http.enabled), and
// systemd's readiness, status line and watchdog (only under systemd).
import type { OfficePbx } from "../asterisk/pbx/index.js";
import type { Config } from "../config/schema/index.js";
import { parseListen } from "../config/schema/http.js";
import { readSecret } from "../config/secrets.js";
import type { DaemonObserver } from "../daemon/observer.js";
import type { DaemonStatus } from "../daemon/status-file.js";
import type { Logger } from "../log.js";
import { systemdNotifier } from "./systemd.js";

export interface OpsOptions {
  /** The PBX, whose trunks' registrations the metrics and the page show. */
  pbx?: Pick<OfficePbx, "readTrunks">;
  env?: NodeJS.ProcessEnv;
  version?: string;
}

/** The http.listen part: history, metrics, the page. A listener that cannot open is logged: failover matters more. */
export async function httpObservers(config: Config, logger: Logger, options: OpsOptions = {}): Promise<DaemonObserver[]> {
  const env = options.env ?? process.env;
  const [{ History }, { OpsMetrics }, { startOpsServer }, { statusJson }, { ddnsStatus }, { TrunkPoller }] = await Promise.all([
    import("./history.js"),
    import("./metrics.js"),
    import("./server.js"),
    import("../cli/commands/status.js"),
    import("../ddns/index.js"),
    import("./trunks.js"),
  ]);
  const pbx = options.pbx;
  const poller = pbx ? new TrunkPoller(() => pbx.readTrunks(), logger) : undefined;
  poller?.start();
  const trunks = poller ? () => poller.current() : undefined;
  const links = config.links.map((l) => l.name);
  const history = new History({ stateDir: config.stateDir, links, logger });
  await history.start();
  const dnsRecords = () => (config.dns.records.length || config.dns.sip ? ddnsStatus(config, config.stateDir, env).records : []);
  const metrics = new OpsMetrics(config, {
    dnsRecords,
    lastDrill: () => history.lastDrill(),
    ...(trunks ? { trunks } : {}),
    ...(options.version ? { version: options.version } : {}),
  });
  let latest: DaemonStatus | undefined;
  const { auth } = config.http;
  const listen = parseListen(config.http.listen)!;
  const server = await startOpsServer({
    listen,
    logger,
    ...(auth
      ? {
          auth: {
            ...(auth.token !== undefined ? { token: readSecret(auth.token, "http.auth.token", env) } : {}),
            ...(auth.username !== undefined && auth.password !== undefined ? { username: auth.username, password: readSecret(auth.password, "http.auth.password", env) } : {}),
          },
        }
      : {}),
    routes: {
      metrics: () => metrics.text(),
      status: () => (latest ? statusJson(config, latest, Date.now(), env) : undefined),
      history: (range) => {
        const minutes = range === "24h" ? 24 * 60 : 7 * 24 * 60;
        const now = Date.now();
        return {
          range,
          bucketSeconds: range === "24h" ? 60 : 300,
          links: [...config.links].sort((a, b) => a.priority - b.priority).map((l) => l.name),
          series: history.series(minutes, range === "24h" ? 1 : 5),
          switches: history.switchesSince(now - minutes * 60_000).map(({ at, kind, from, to, ok }) => ({ at, kind, from, to, ok })),
        };
      },
      activity: () => ({ switches: history.lastSwitches(20), drill: history.lastDrill() ?? null, trunks: trunks?.() ?? null }),
    },
  }).then(
    (server) => {
      logger.info({ listen: config.http.listen }, `metrics on http://${config.http.listen}/metrics, status page on http://${config.http.listen}/`);
      return server;
    },
    (error: unknown) => {
      logger.error({ err: (error as Error).message }, `no metrics or status page: cannot listen on ${config.http.listen}: ${(error as Error).message}`);
      return undefined;
    },
  );
  return [
    history,
    metrics,
    ...(poller ? [poller] : []),
    {
      status: (status) => {
        latest = status;
      },
      stopping: () => server?.close(),
    },
  ];
}

/** Every observer the config (and systemd) asks for. */
export async function opsObservers(config: Config, logger: Logger, options: OpsOptions = {}): Promise<DaemonObserver[]> {
  const { upAfter, downAfter } = config.monitor;
  const systemd = systemdNotifier(options.env ?? process.env, { links: config.links.map((l) => l.name), judgedAfterRounds: Math.max(upAfter, downAfter), logger });
  return [...(systemd ? [systemd] : []), ...(config.http.enabled ? await httpObservers(config, logger, options) : [])];
}
