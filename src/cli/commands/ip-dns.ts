// `wanctl ip` (each link's public address, learned through that link) and `wanctl dns update`
// (push every record now, like ddclient -force: the active link's address, each link's own name,
// the SRV records with the active link first).
import type { Config } from "../../config/schema/index.js";
import { managedRecords, updateAllRecords } from "../../ddns/index.js";
import { officeAddresses } from "../../daemon/dns-step.js";
import { commandRunner } from "../../system/command.js";
import { learnPublicIp, type PublicIpResult } from "../../wan/public-ip/index.js";
import { LinuxRouteBackend } from "../../wan/route/linux.js";
import { createFollowGateway } from "../../wan/route/none.js";
import { createRouterOsGateway } from "../../wan/route/routeros/gateway.js";
import { CliError, ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";

/** What these commands need of the gateway: Linux, RouterOS, or a router followed (route.backend "none"). */
interface Gateway {
  activeLink(): Promise<string | undefined>;
  /** A link's public address, learned through that link. */
  learn(name: string): Promise<PublicIpResult>;
  /** Where DNS updates for a link leave from (undefined: the host's own choice). */
  sourceAddress(name: string): Promise<string | undefined>;
  close(): Promise<void>;
}

function gatewayOf(config: Config, io: CliIo): Gateway {
  if (config.route.backend === "routeros") {
    const g = createRouterOsGateway(config, { env: io.env });
    return { activeLink: () => g.route.activeLink(), learn: (name) => g.publicAddress(name), sourceAddress: () => g.sourceAddress(), close: () => g.close() };
  }
  if (config.route.backend === "none") {
    const g = createFollowGateway(config);
    return { activeLink: () => g.route.activeLink(), learn: (name) => g.publicAddress(name), sourceAddress: () => g.sourceAddress(), close: async () => undefined };
  }
  const route = new LinuxRouteBackend({ links: config.links, run: commandRunner(), tableBase: config.route.tableBase });
  return {
    activeLink: () => route.activeLink(),
    // The per-link routing is (re)installed first, so that the link can be asked through.
    learn: async (name) => {
      const link = config.links.find((l) => l.name === name)!;
      try {
        const sourceAddress = await route.prepareLink(name);
        return await learnPublicIp(link, { name, interface: link.interface, sourceAddress });
      } catch (error) {
        return { link: name, method: link.publicIp.method, ok: false, detail: (error as Error).message, answers: [], durationMs: 0 };
      }
    },
    sourceAddress: (name) => route.sourceAddress(config.links.find((l) => l.name === name)!),
    close: async () => undefined,
  };
}

export async function showPublicAddresses(config: Config, io: CliIo): Promise<ExitCodeValue> {
  const gateway = gatewayOf(config, io);
  try {
    const active = await gateway.activeLink().catch(() => undefined);
    const results = await Promise.all(config.links.map((link) => gateway.learn(link.name)));
    for (const r of results) {
      const mark = r.link === active ? "*" : " ";
      io.out(`${mark} ${r.link.padEnd(8)} ${(r.ok ? r.address! : "-").padEnd(16)} ${r.ok ? "" : "FAILED: "}${r.detail}`);
      for (const d of r.disagreement ?? []) io.out(`    disagrees: ${d.source} said ${d.address ?? d.error}`);
    }
    return results.every((r) => r.ok) ? ExitCode.ok : ExitCode.failure;
  } finally {
    await gateway.close();
  }
}

export async function updateDnsNow(config: Config, io: CliIo): Promise<ExitCodeValue> {
  if (config.dns.records.length === 0 && !config.dns.sip) throw new CliError("wanctl dns update: the config has no DNS records (dns.records, dns.sip)", ExitCode.usage);
  const gateway = gatewayOf(config, io);
  try {
    const active = await gateway.activeLink();
    if (!active) throw new CliError("wanctl dns update: no configured link carries the default route", ExitCode.failure);
    const learned = await gateway.learn(active);
    if (!learned.ok || !learned.address) throw new CliError(`wanctl dns update: cannot learn ${active}'s public address: ${learned.detail}`, ExitCode.failure);
    io.out(`${active} (active) is ${learned.address}; updating ${managedRecords(config).length} record(s)`);
    const office = await officeAddresses(config, active, learned.address, async (name) => {
      const r = await gateway.learn(name);
      if (!r.ok || !r.address) throw new Error(r.detail);
      io.out(`${name} is ${r.address}`);
      return { address: r.address };
    });
    const sourceAddress = await gateway.sourceAddress(active);
    const results = await updateAllRecords(config, office, {
      stateDir: config.stateDir,
      force: true,
      ...(sourceAddress ? { sourceAddress } : {}),
      verify: "wait",
      env: io.env,
    });
    for (const r of results) {
      const verified = r.verifiedMs !== undefined ? `, authoritative answer after ${Math.round(r.verifiedMs)} ms` : r.verification ? `, ${r.verification}` : "";
      const srv = r.type === "SRV" && r.ok ? ` (${r.value})` : "";
      const what = r.outcome === "kept" ? r.detail : `${r.outcome}${srv}${verified}${r.ok ? "" : `: ${r.detail}`}`;
      io.out(`${r.ok ? "ok  " : "FAIL"} ${r.record} (${r.provider}): ${what}`);
    }
    return results.every((r) => r.ok) ? ExitCode.ok : ExitCode.failure;
  } finally {
    await gateway.close();
  }
}
