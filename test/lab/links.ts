// What happens to a link: which one carries the default route, how a probe leaves through a
// given one, and a cut beyond the office (the ISP's uplink dies; the office's port stays up).
import { ADDRESSES as A, LINK_PLAN, LINKS, type LinkId } from "./addresses.js";
import { IFACES, type LabNames } from "./names.js";
import { exec, run } from "./proc.js";

/** Rule priorities for the per-link tables; below main (32766), above nothing else we add. */
const PREF_FROM = 1000;
const PREF_OIF = 1010;

const ip = (ns: string, ...args: string[]): string[] => ["ip", "-n", ns, ...args];

/** Point the office's main default route at `link` (the one route a real gateway has). */
export async function setDefaultRoute(names: LabNames, link: LinkId): Promise<void> {
  const l = LINK_PLAN[link];
  await run(ip(names.ns.office, "route", "replace", "default", "via", l.gateway, "dev", l.ifname));
}

/** Which link the office's main default route uses, or null if there is none. */
export async function defaultRouteLink(names: LabNames): Promise<LinkId | null> {
  const r = await run(ip(names.ns.office, "-4", "route", "show", "default"));
  const dev = /\bdev (\S+)/.exec(r.stdout)?.[1];
  return LINKS.find((l) => LINK_PLAN[l].ifname === dev) ?? null;
}

/**
 * Let a probe leave through a given link whichever link has the main default route:
 * each link gets its own routing table (wan1: 101, wan2: 102) holding a default route via its
 * gateway, selected by two policy rules:
 *   - `from <link address> lookup <table>`: sockets bound to the link's address (ping -I <addr>,
 *     bind() in Node) follow the link;
 *   - `oif <ifname> lookup <table>`: sockets bound to the device (ping -I <ifname>,
 *     SO_BINDTODEVICE) find a route there instead of the kernel's "assume on-link" fallback.
 * The LAN's forwarded traffic matches neither rule and keeps using the main default route.
 * Idempotent.
 */
export async function enableLinkProbes(names: LabNames): Promise<void> {
  const ns = names.ns.office;
  for (const [i, link] of LINKS.entries()) {
    const l = LINK_PLAN[link];
    const table = String(l.table);
    await run(ip(ns, "route", "replace", l.network, "dev", l.ifname, "src", l.address, "table", table));
    await run(ip(ns, "route", "replace", "default", "via", l.gateway, "dev", l.ifname, "table", table));
    await replaceRule(ns, ["from", l.address, "lookup", table, "pref", String(PREF_FROM + i)]);
    await replaceRule(ns, ["oif", l.ifname, "lookup", table, "pref", String(PREF_OIF + i)]);
  }
}

/** Remove what enableLinkProbes installed. Idempotent. */
export async function disableLinkProbes(names: LabNames): Promise<void> {
  const ns = names.ns.office;
  for (const [i, link] of LINKS.entries()) {
    const table = String(LINK_PLAN[link].table);
    await exec(ip(ns, "rule", "del", "pref", String(PREF_FROM + i)));
    await exec(ip(ns, "rule", "del", "pref", String(PREF_OIF + i)));
    await exec(ip(ns, "route", "flush", "table", table));
  }
}

/** `ip rule` has no replace: delete by priority (quietly) and add again. */
async function replaceRule(ns: string, rule: string[]): Promise<void> {
  const pref = rule[rule.indexOf("pref") + 1] ?? "";
  await exec(ip(ns, "rule", "del", "pref", pref));
  await run(ip(ns, "rule", "add", ...rule));
}

const uplink = (link: LinkId) =>
  link === "wan1"
    ? { isp: "isp1" as const, gw: A.inet.isp1, inetIf: IFACES.inet.isp1, route: `${LINK_PLAN.wan1.network}`, via: A.isp1.up }
    : { isp: "isp2" as const, gw: A.inet.isp2, inetIf: IFACES.inet.isp2, route: `${A.isp2.nat}/32`, via: A.isp2.up };

/** Cut `link` beyond the office: the ISP's uplink toward inet goes down. Office carrier stays up. */
export async function cut(names: LabNames, link: LinkId): Promise<void> {
  const u = uplink(link);
  await run(ip(names.ns[u.isp], "link", "set", IFACES[u.isp].up, "down"));
}

/** The cable between the office and the ISP is pulled: the office's interface loses its carrier. */
export async function unplug(names: LabNames, link: LinkId): Promise<void> {
  await run(ip(names.ns[uplink(link).isp], "link", "set", IFACES[uplink(link).isp].cust, "down"));
}

/** Undo unplug(): the carrier comes back (the office keeps its address and its routes). */
export async function plug(names: LabNames, link: LinkId): Promise<void> {
  await run(ip(names.ns[uplink(link).isp], "link", "set", IFACES[uplink(link).isp].cust, "up"));
}

/** Undo cut(): uplink up, and the routes the kernel dropped with it back. Idempotent. */
export async function heal(names: LabNames, link: LinkId): Promise<void> {
  const u = uplink(link);
  const isp = names.ns[u.isp];
  await run(ip(isp, "link", "set", IFACES[u.isp].up, "up"));
  await run(ip(isp, "route", "replace", "default", "via", u.gw, "dev", IFACES[u.isp].up));
  await run(ip(names.ns.inet, "route", "replace", u.route, "via", u.via, "dev", u.inetIf));
}

/** Is the ISP's uplink administratively up? (For tests and the demo's status line.) */
export async function isCut(names: LabNames, link: LinkId): Promise<boolean> {
  const u = uplink(link);
  const r = await run(ip(names.ns[u.isp], "-o", "link", "show", IFACES[u.isp].up));
  return !/[<,]UP[,>]/.test(r.stdout);
}
