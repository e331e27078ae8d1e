// The DNS step of a switch: every record to the new public address, through the new link. The
// authoritative answer is checked in the background, so a slow name server never holds up Asterisk.
import type { Config } from "../config/schema/index.js";
import { createProviders, DEFAULT_USER_AGENT, updateAllRecords, type DdnsAlert, type RecordResult } from "../ddns/index.js";
import type { Logger } from "../log.js";
import type { LinuxRouteBackend } from "../wan/route/linux.js";

export function describeRecords(results: readonly RecordResult[]): string {
  return results.map((r) => `${r.record} ${r.outcome}${r.ok ? "" : ` (${r.detail})`}`).join("; ");
}

export function dnsStep(
  config: Config,
  route: Pick<LinuxRouteBackend, "sourceAddress">,
  logger: Logger,
  /** A record stopped by a permanent error (bad credentials, unknown host): people must act. */
  onStopped: (alert: DdnsAlert) => void,
): (address: string, link: string) => Promise<{ detail: string; changed: boolean }> {
  // One set of providers for the daemon's life: Cloudflare remembers the zone ids it found.
  const providers = createProviders(config.dns.providers, { userAgent: DEFAULT_USER_AGENT(), requestTimeoutMs: 10_000, now: Date.now });
  return async (address, linkName) => {
    const link = config.links.find((l) => l.name === linkName)!;
    const sourceAddress = await route.sourceAddress(link);
    const results = await updateAllRecords(config, address, {
      stateDir: config.stateDir,
      sourceAddress,
      providers,
      verify: "background",
      onVerified: (result) => logger.info({ record: result.record, verification: result.verification, verifiedMs: result.verifiedMs }, `${result.record}: ${result.verification ?? "verified"}`),
      onAlert: (alert) => {
        logger.error({ alert }, `${alert.record} stopped: ${alert.detail}`);
        onStopped(alert);
      },
    });
    const summary = describeRecords(results);
    if (results.some((r) => !r.ok)) throw new Error(summary);
    return { detail: summary, changed: results.some((r) => r.changed) };
  };
}
