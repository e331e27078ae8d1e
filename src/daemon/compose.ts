// The composition root: the real adapters for a config (iproute2, ping and sockets, AMI, DNS
// providers, mail and webhooks), handed to the daemon. Nothing else builds them.
import { createPbx } from "../asterisk/pbx/index.js";
import { secretRefs } from "../config/load.js";
import type { Config } from "../config/schema/index.js";
import { readSecret } from "../config/secrets.js";
import type { Logger } from "../log.js";
import type { DdnsAlert } from "../ddns/index.js";
import { createAlert, Dispatcher, notifiersFromConfig } from "../notify/index.js";
import { commandRunner } from "../system/command.js";
import { createProbes } from "../wan/probes/index.js";
import { learnPublicIp } from "../wan/public-ip/index.js";
import { LinuxRouteBackend } from "../wan/route/linux.js";
import type { AlertSink } from "./alerts.js";
import type { DaemonDeps } from "./daemon.js";
import { dnsStep } from "./dns-step.js";

/** Several AMI round trips (GetConfig, UpdateConfig, Reload, read back) each bounded by ami.timeoutMs. */
const AMI_ROUND_TRIPS = 6;

export function composeDaemon(config: Config, logger: Logger): DaemonDeps {
  const route = new LinuxRouteBackend({
    links: config.links,
    run: commandRunner(),
    tableBase: config.route.tableBase,
  });
  const timing = { intervalMs: config.monitor.intervalMs, timeoutMs: config.monitor.timeoutMs };

  const publicAddress = async (name: string) => {
    const link = config.links.find((l) => l.name === name)!;
    const sourceAddress = await route.sourceAddress(link);
    const learned = await learnPublicIp(link, { name, interface: link.interface, sourceAddress });
    if (!learned.ok || !learned.address) throw new Error(learned.detail);
    return { address: learned.address, detail: `${learned.address} (${learned.detail})` };
  };

  const asterisk = config.asterisk;
  const pbx = asterisk ? createPbx(asterisk, { logger }) : undefined;
  const secrets = secretValues(config);
  const alerts = openAlerts(config, logger, secrets);
  const stopped = (alert: DdnsAlert) =>
    alerts?.enqueue(createAlert({ kind: "step-failed", reason: `DNS record ${alert.record} (${alert.provider}) stopped until the config changes: ${alert.detail}`, links: [] }));
  const updateDns = config.dns.records.length > 0 ? dnsStep(config, route, logger, stopped) : undefined;

  return {
    route,
    logger,
    secrets,
    makeProbes: (link) => createProbes(config.monitor.targets, link, timing),
    ...(alerts ? { alerts } : {}),
    ...(pbx ? { activeCalls: async () => (await pbx.activeCalls()).data?.calls ?? null, close: () => pbx.close() } : {}),
    steps: {
      flushConntrack: config.route.flushConntrack,
      publicAddress,
      ...(updateDns ? { updateDns } : {}),
      ...(pbx && asterisk
        ? {
            pbx: {
              pbx,
              shortExpirySeconds: asterisk.shortExpirySeconds,
              trunksTimeoutMs: asterisk.registerTimeoutMs + AMI_ROUND_TRIPS * asterisk.ami.timeoutMs,
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
function openAlerts(config: Config, logger: Logger, others: readonly string[]): AlertSink | undefined {
  // Every secret of the config is scrubbed, not only the channels' own: alerts quote DNS and AMI errors.
  const { notifiers, secrets } = notifiersFromConfig(config.alerts, { render: { secrets: others } });
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
