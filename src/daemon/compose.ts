// The composition root: the real adapters for a config (iproute2, ping and sockets, AMI, DNS
// providers, mail and webhooks), handed to the daemon. Nothing else builds them.
import { createOfficePbx, type OfficePbx } from "../asterisk/pbx/index.js";
import { secretRefs } from "../config/load.js";
import type { Config } from "../config/schema/index.js";
import { readSecret } from "../config/secrets.js";
import type { Logger } from "../log.js";
import type { DdnsAlert } from "../ddns/index.js";
import { AlertOutbox, notifiersFromConfig } from "../notify/index.js";
import { commandRunner } from "../system/command.js";
import { createProbes } from "../wan/probes/index.js";
import { learnPublicIp } from "../wan/public-ip/index.js";
import { LinuxRouteBackend } from "../wan/route/linux.js";
import { watchCarrier } from "../wan/carrier.js";
import { createFollowGateway, gatewayPath } from "../wan/route/none.js";
import { createRouterOsGateway } from "../wan/route/routeros/gateway.js";
import { dnsStoppedAlert } from "./alerts.js";
import { BaselineStore } from "./baseline.js";
import type { DaemonDeps } from "./daemon.js";
import { dnsStep } from "./dns-step.js";

/** Several AMI round trips (GetConfig, UpdateConfig, Reload, read back) each bounded by ami.timeoutMs. */
const AMI_ROUND_TRIPS = 6;

/** The daemon's adapters, and the PBX for the parts that watch it (the trunks on the status page). */
export function composeDaemon(config: Config, logger: Logger): DaemonDeps & { pbx?: OfficePbx } {
  const timing = { intervalMs: config.monitor.intervalMs, timeoutMs: config.monitor.timeoutMs };
  // --- route.backend "routeros": the router's routes, its /ping probes, its view of each link's
  // public address, and this host's address for wanctl's own requests (src/wan/route/routeros).
  const routerOs = config.route.backend === "routeros" ? createRouterOsGateway(config) : undefined;
  // --- route.backend "none": the router switches by itself; the office's egress address says where
  // it is (src/wan/egress.ts), and wanctl's requests follow the router's default route.
  const follow = config.route.backend === "none" ? createFollowGateway(config) : undefined;
  const linux =
    config.route.backend === "linux"
      ? new LinuxRouteBackend({ links: config.links, run: commandRunner(), tableBase: config.route.tableBase })
      : undefined;
  const route = routerOs?.route ?? follow?.route ?? linux!;
  const sources = routerOs ? { sourceAddress: () => routerOs.sourceAddress() } : follow ? { sourceAddress: () => follow.sourceAddress() } : linux!;
  const learn = async (name: string) => {
    if (routerOs) return routerOs.publicAddress(name);
    if (follow) return follow.publicAddress(name);
    const link = config.links.find((l) => l.name === name)!;
    const sourceAddress = await linux!.sourceAddress(link);
    return learnPublicIp(link, { name, interface: link.interface, sourceAddress });
  };
  // --- end of route.backend "routeros" and "none"

  const publicAddress = async (name: string) => {
    const learned = await learn(name);
    if (!learned.ok || !learned.address) throw new Error(learned.detail);
    return { address: learned.address, detail: `${learned.address} (${learned.detail})` };
  };

  const asterisk = config.asterisk;
  const pbx = asterisk ? createOfficePbx(asterisk, { logger }) : undefined;
  const secrets = secretValues(config);
  const alerts = openAlerts(config, logger, secrets);
  const stopped = (alert: DdnsAlert) => alerts?.enqueue(dnsStoppedAlert(alert, Date.now()));
  const updateDns = config.dns.records.length > 0 || config.dns.sip ? dnsStep(config, sources, logger, stopped, publicAddress) : undefined;
  // Last, once nothing above can throw: the conntrack flush's helper process, ready for the first
  // switch; close() stops it.
  if (linux && config.route.backend === "linux" && config.route.flushConntrack) linux.startFlushHelper();

  return {
    route,
    logger,
    secrets,
    makeProbes: (link) => (routerOs ? routerOs.makeProbes(link, timing) : createProbes(config.monitor.targets, link, timing)),
    ...(follow
      ? {
          watchEgress: (onSample: Parameters<typeof follow.watchEgress>[0]) =>
            follow.watchEgress(
              onSample,
              (sample, inARow) => {
                // Said once per streak: the status says the rest once downAfter is reached.
                if (inARow === 1) logger.warn({ egress: sample.detail }, `no answer about the office's egress: ${sample.detail}`);
              },
              (error) => logger.error({ err: (error as Error).stack }, `following the egress failed: ${(error as Error).message}`),
            ),
          // monitor.targets, probed from this host through the router's default route (see gatewayPath).
          ...(config.monitor.targets.length ? { gatewayPath: () => gatewayPath(config.monitor.targets, commandRunner()) } : {}),
        }
      : {}),
    // The links' interfaces are this host's only with the Linux backend.
    ...(linux ? { watchCarrier } : {}),
    ...(alerts ? { alerts, problems: [...alerts.damaged] } : {}),
    ...(pbx ? { pbx, activeCalls: async () => (await pbx.activeCalls()).data?.calls ?? null } : {}),
    ...(pbx || routerOs || linux ? { close: async () => void (await Promise.all([pbx?.close(), routerOs?.close(), linux?.close()])) } : {}),
    steps: {
      flushConntrack: config.route.backend !== "none" && config.route.flushConntrack,
      publicAddress,
      ...(updateDns ? { updateDns } : {}),
      ...(pbx && asterisk
        ? {
            pbx: {
              pbx,
              baseline: new BaselineStore(config.stateDir),
              shortExpirySeconds: asterisk.shortExpirySeconds,
              trunksTimeoutMs: asterisk.registerTimeoutMs + AMI_ROUND_TRIPS * asterisk.ami.timeoutMs,
              ...(follow ? { primeFirst: true } : {}),
            },
          }
        : {}),
    },
  };
}

/** The values of every secret in the config, to scrub from whatever leaves the process. */
function secretValues(config: Config): string[] {
  return secretRefs(config).flatMap(({ path, ref }) => {
    try {
      return [readSecret(ref, path)];
    } catch {
      return []; // Checked at load; whoever uses it reports it.
    }
  });
}

/**
 * The alert outbox, when a channel is configured. Alerts follow the default route, which the
 * failover has just moved onto the link that works.
 */
function openAlerts(config: Config, logger: Logger, others: readonly string[]): AlertOutbox | undefined {
  // Every secret of the config is scrubbed, not only the channels' own: alerts quote DNS and AMI errors.
  const { notifiers, secrets } = notifiersFromConfig(config.alerts, { secrets: others });
  if (notifiers.length === 0) return undefined;
  return AlertOutbox.open({
    stateDir: config.stateDir,
    notifiers,
    secrets,
    coalesceSeconds: config.alerts.coalesceSeconds,
    maxPerHour: config.alerts.maxPerHour,
    log: logger,
  });
}
