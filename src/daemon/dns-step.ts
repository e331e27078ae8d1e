// The DNS step of a converge run: every record to what it should hold with the active link
// carrying the office (ddns/plan.ts), the updates sent through the active link. The other links'
// own names (dns.sip) need those links' addresses, each learned through its own link; a link
// whose address cannot be learned now (it is down) keeps its name as it is, which is no failure.
// The authoritative answer is checked in the background, so a slow name server never holds up
// Asterisk.
import type { Config } from "../config/schema/index.js";
import { sipHosts } from "../config/schema/dns.js";
import { createProviders, DEFAULT_USER_AGENT, updateAllRecords, type DdnsAlert, type OfficeAddresses, type RecordResult } from "../ddns/index.js";
import type { Logger } from "../log.js";
import type { LinuxRouteBackend } from "../wan/route/linux.js";

/** The target an SRV value lists first ("10 0 5060 wan2.example.com, 20 ..." → wan2.example.com). */
const firstTarget = (value: string): string => value.split(", ")[0]!.split(" ")[3]!;

/** One line for the step's detail (status, alerts): each record and its outcome, the reason when it is not as it should be. */
export function describeRecords(results: readonly RecordResult[]): string {
  return results
    .map((r) => {
      if (r.outcome === "kept") return `${r.record} ${r.detail}`;
      const first = r.type === "SRV" && r.ok ? ` (${firstTarget(r.value)} first)` : "";
      return `${r.record} ${r.outcome}${first}${r.ok ? "" : ` (${r.detail})`}`;
    })
    .join("; ");
}

/**
 * The office's addresses for the plan: the active link's (from the public-ip step), and each
 * other link that has a name of its own, learned through that link, all at once.
 */
export async function officeAddresses(
  config: Pick<Config, "dns" | "links">,
  active: string,
  address: string,
  learn: (link: string) => Promise<{ address: string }>,
): Promise<OfficeAddresses> {
  const others = config.dns.sip ? sipHosts(config.dns.sip, config.links).map((h) => h.link).filter((l) => l !== active) : [];
  const addresses = new Map([[active, address]]);
  const unknown = new Map<string, string>();
  await Promise.all(
    others.map(async (link) => {
      try {
        addresses.set(link, (await learn(link)).address);
      } catch (error) {
        unknown.set(link, `${link}'s public address cannot be learned through it (${(error as Error).message})`);
      }
    }),
  );
  return { active, addresses, unknown };
}

export function dnsStep(
  config: Config,
  route: Pick<LinuxRouteBackend, "sourceAddress">,
  logger: Logger,
  /** A record stopped by a permanent error (bad credentials, unknown host): people must act. */
  onStopped: (alert: DdnsAlert) => void,
  /** A link's public address, learned through that link; rejects when it cannot be learned. */
  learn: (link: string) => Promise<{ address: string }>,
): (address: string, link: string) => Promise<{ detail: string; changed: boolean }> {
  // One set of providers for the daemon's life: Cloudflare remembers the zone ids it found.
  const providers = createProviders(config.dns.providers, { userAgent: DEFAULT_USER_AGENT(), requestTimeoutMs: 10_000, now: Date.now });
  return async (address, linkName) => {
    const link = config.links.find((l) => l.name === linkName)!;
    const [sourceAddress, office] = await Promise.all([route.sourceAddress(link), officeAddresses(config, linkName, address, learn)]);
    const results = await updateAllRecords(config, office, {
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
