// `wanctl ip` (each link's public address, learned through that link) and `wanctl dns update`
// (push the active link's address to every record now, like ddclient -force).
import type { Config } from "../../config/schema/index.js";
import { updateAllRecords } from "../../ddns/index.js";
import { commandRunner } from "../../system/command.js";
import { learnPublicIp } from "../../wan/public-ip/index.js";
import { LinuxRouteBackend } from "../../wan/route/linux.js";
import { CliError, ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";

function routeBackend(config: Config): LinuxRouteBackend {
  return new LinuxRouteBackend({ links: config.links, run: commandRunner(), tableBase: config.route.tableBase });
}

/** A link's public address through that link; the per-link routing is (re)installed first. */
async function learnThrough(config: Config, route: LinuxRouteBackend, name: string) {
  const link = config.links.find((l) => l.name === name)!;
  try {
    const sourceAddress = await route.prepareLink(name);
    return await learnPublicIp(link, { name, interface: link.interface, sourceAddress });
  } catch (error) {
    return { link: name, method: link.publicIp.method, ok: false, detail: (error as Error).message, answers: [], durationMs: 0 } as const;
  }
}

export async function showPublicAddresses(config: Config, io: CliIo): Promise<ExitCodeValue> {
  const route = routeBackend(config);
  const active = await route.activeLink().catch(() => undefined);
  const results = await Promise.all(config.links.map((link) => learnThrough(config, route, link.name)));
  for (const r of results) {
    const mark = r.link === active ? "*" : " ";
    io.out(`${mark} ${r.link.padEnd(8)} ${(r.ok ? r.address! : "-").padEnd(16)} ${r.ok ? "" : "FAILED: "}${r.detail}`);
    for (const d of ("disagreement" in r && r.disagreement) || []) io.out(`    disagrees: ${d.source} said ${d.address ?? d.error}`);
  }
  return results.every((r) => r.ok) ? ExitCode.ok : ExitCode.failure;
}

export async function updateDnsNow(config: Config, io: CliIo): Promise<ExitCodeValue> {
  if (config.dns.records.length === 0) throw new CliError("wanctl dns update: the config has no DNS records (dns.records)", ExitCode.usage);
  const route = routeBackend(config);
  const active = await route.activeLink();
  if (!active) throw new CliError("wanctl dns update: no configured link carries the default route", ExitCode.failure);
  const learned = await learnThrough(config, route, active);
  if (!learned.ok || !learned.address) throw new CliError(`wanctl dns update: cannot learn ${active}'s public address: ${learned.detail}`, ExitCode.failure);
  io.out(`${active} (active) is ${learned.address}; updating ${config.dns.records.length} record(s)`);
  const link = config.links.find((l) => l.name === active)!;
  const results = await updateAllRecords(config, learned.address, {
    stateDir: config.stateDir,
    force: true,
    sourceAddress: await route.sourceAddress(link),
    verify: "wait",
    env: io.env,
  });
  for (const r of results) {
    const verified = r.verifiedMs !== undefined ? `, authoritative answer after ${Math.round(r.verifiedMs)} ms` : r.verification ? `, ${r.verification}` : "";
    io.out(`${r.ok ? "ok  " : "FAIL"} ${r.record} (${r.provider}): ${r.outcome}${verified}${r.ok ? "" : `: ${r.detail}`}`);
  }
  return results.every((r) => r.ok) ? ExitCode.ok : ExitCode.failure;
}
