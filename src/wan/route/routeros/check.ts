// `wanctl router check`: can wanctl do its job on this MikroTik? Logs in, reads the user's group
// policies, and checks with harmless requests what the config relies on: each link's interface and
// address, the marked default routes (and other default routes whose distance would collide), the
// routing tables probes use, a /ping through each link, a write that changes nothing, and the
// router's fetch of an echo where a link learns its public address so. Says plainly what is missing.
import type { Config } from "../../../config/schema/index.js";
import type { RouterOsRouteConfig } from "../../../config/schema/routing.js";
import { RouterPingSession, readPingRecord, type RouterPingVia } from "../../probes/routeros-ping.js";
import { echoAnswer } from "../../public-ip/index.js";
import type { RouterOsRouteBackend } from "./backend.js";
import { isTrue, type RouterClient, type RouterError } from "./client.js";
import { routerOsBackend } from "./gateway.js";

export interface RouterCheckResult {
  readonly ok: boolean;
  /** Every finding, in order, prefixed `ok:`, `problem:` or `note:`. */
  readonly lines: string[];
  /** The `problem:` lines without the prefix. */
  readonly problems: string[];
}

/** The policies wanctl's user needs, and why. */
export function neededPolicies(transport: string): { policy: string; why: string }[] {
  return [
    transport === "rest" ? { policy: "rest-api", why: "to log in over REST" } : { policy: "api", why: "to log in over the API" },
    { policy: "read", why: "to read routes, addresses, interfaces and connections" },
    { policy: "write", why: "to change the marked routes' distance (or disable them) and remove stale connections" },
    { policy: "test", why: "to run /ping (the link probes)" },
  ];
}

const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export async function checkRouter(config: Config, client: RouterClient): Promise<RouterCheckResult> {
  const route = config.route as RouterOsRouteConfig;
  const lines: string[] = [];
  const problems: string[] = [];
  const ok = (t: string) => void lines.push(`ok: ${t}`);
  const note = (t: string) => void lines.push(`note: ${t}`);
  const problem = (t: string) => {
    lines.push(`problem: ${t}`);
    problems.push(t);
  };
  const done = (): RouterCheckResult => ({ ok: problems.length === 0, lines, problems });
  const backend = routerOsBackend(config, client);

  // 1. Login and version.
  let version = "";
  try {
    version = (await client.print("/system/resource"))[0]?.version ?? "?";
    ok(`logged in to ${client.address} over ${client.transport} as ${route.router.user}: RouterOS ${version}`);
  } catch (error) {
    const e = error as RouterError;
    if (e.kind === "auth") problem(`${e.message}: check the user and password, and that its group has the ${client.transport === "rest" ? "rest-api" : "api"} policy`);
    else problem(describeError(error));
    return done();
  }
  const major = Number.parseInt(version, 10);

  // 2. The user's group and its policies.
  try {
    const user = (await client.print("/user", { where: { name: route.router.user }, proplist: ["name", "group"] }))[0];
    const group = user?.group;
    const policies = group ? ((await client.print("/user/group", { where: { name: group }, proplist: ["name", "policy"] }))[0]?.policy ?? "").split(",") : [];
    const missing = neededPolicies(client.transport).filter((n) => !policies.includes(n.policy));
    if (!group) note(`could not find the user ${route.router.user} in /user to read its group`);
    else if (missing.length === 0) ok(`group ${group} has ${neededPolicies(client.transport).map((n) => n.policy).join(", ")}`);
    else {
      for (const m of missing) problem(`group ${group} lacks the "${m.policy}" policy, needed ${m.why}`);
      note(`to add them: /user group set ${group} policy=${[...policies.filter((p) => p && !p.startsWith("!")), ...missing.map((m) => m.policy)].join(",")}`);
    }
    const extra = policies.filter((p) => ["policy", "sensitive", "reboot", "ftp", "password", "sniff"].includes(p));
    if (extra.length) note(`group ${group} also has ${extra.join(", ")}, which wanctl does not need`);
  } catch (error) {
    note(`could not read the user's group (${describeError(error)}): the checks below try what wanctl does`);
  }

  // 3. Interfaces, addresses, marked routes.
  let marked: Awaited<ReturnType<RouterOsRouteBackend["markedRoutes"]>> = [];
  let defaults: Awaited<ReturnType<RouterOsRouteBackend["defaultRoutes"]>> = [];
  try {
    [marked, defaults] = await Promise.all([backend.markedRoutes(), backend.defaultRoutes()]);
  } catch (error) {
    problem(`cannot read the routes: ${describeError(error)}`);
    return done();
  }
  const interfaces = new Set((await client.print("/interface", { proplist: ["name"] }).catch(() => [])).map((i) => i.name));
  for (const link of config.links) {
    if (!interfaces.has(link.interface)) {
      problem(`${link.name}: the router has no interface ${link.interface} (links[].interface must be the router's interface name)`);
      continue;
    }
    const address = await backend.linkAddress(link.name).catch(() => undefined);
    if (address) ok(`${link.name}: interface ${link.interface}, address ${address}`);
    else note(`${link.name}: interface ${link.interface} has no IPv4 address now (DHCP or PPP not up?)`);
    const routes = marked.filter((r) => r.link === link.name);
    if (routes.length === 0) {
      problem(`${link.name}: no default route is marked "${backend.mark(link.name)}": /ip route add gateway=${link.gateway} comment=${backend.mark(link.name)} distance=${route.standbyDistance}`);
      continue;
    }
    for (const r of routes) {
      const state = `${r.disabled ? "disabled" : "enabled"}, distance ${r.distance}${r.active ? ", active" : ""}`;
      ok(`${link.name}: route ${r.id} marked ${backend.mark(link.name)} via ${r.gateway} (${state})`);
      if (/^\d+\.\d+\.\d+\.\d+$/.test(r.gateway) && r.gateway !== link.gateway) note(`${link.name}: the marked route goes via ${r.gateway}, the config says ${link.gateway}; wanctl follows the route`);
    }
  }
  // Default routes that are not wanctl's but would tie with (or beat) the distances wanctl sets.
  const ours = new Set([route.activeDistance, ...config.links.map((_, rank) => route.standbyDistance + rank)]);
  const markedIds = new Set(marked.map((m) => m.id));
  for (const r of defaults.filter((d) => !markedIds.has(d[".id"] ?? "") && !isTrue(d.disabled))) {
    const d = Number(r.distance ?? 1);
    if (ours.has(d) || d < route.activeDistance) {
      problem(`default route ${r[".id"]} via ${r.gateway} (${r.comment ?? "no comment"}) has distance ${d}, which ${d < route.activeDistance ? "beats" : "ties with"} the distances wanctl sets: give it more than ${route.standbyDistance + config.links.length - 1}`);
    }
  }

  // 4. A write that changes nothing: the active marked route's distance to what it is.
  const sample = marked.find((r) => r.active) ?? marked[0];
  if (sample) {
    try {
      await client.set("/ip/route", [sample.id], { distance: String(sample.distance) });
      ok("wanctl can change routes (a write that changed nothing went through)");
    } catch (error) {
      problem(`wanctl cannot change routes: ${describeError(error)}`);
    }
  }

  // 5. Probing: the routing tables, and one /ping through each link.
  const target = config.monitor.targets.find((t) => t.type === "icmp");
  for (const link of config.links) {
    const how = route.links[link.name] ?? { probeVia: "interface" as const };
    let via: RouterPingVia;
    if (how.probeVia === "routing-table") {
      if (major < 7) {
        problem(`${link.name}: probeVia "routing-table" needs RouterOS 7 (this is ${version}): use "interface" or "src-address"`);
        continue;
      }
      const tables = await client.print("/routing/table", { where: { name: how.routingTable! }, proplist: ["name"] }).catch(() => []);
      if (tables.length === 0) {
        problem(`${link.name}: no routing table ${how.routingTable}: /routing table add name=${how.routingTable} fib; /ip route add gateway=${link.gateway} routing-table=${how.routingTable}`);
        continue;
      }
      via = { "routing-table": how.routingTable! };
    } else if (how.probeVia === "src-address") {
      const address = await backend.linkAddress(link.name).catch(() => undefined);
      if (!address) continue;
      via = { "src-address": address };
    } else via = { interface: link.interface };
    if (!target) continue;
    try {
      const records = await client.call("/ping", RouterPingSession.pingArgs({ target: target.host, via, intervalMs: config.monitor.intervalMs }, 1), route.router.timeoutMs + 2000);
      const echo = records.map((r) => readPingRecord(r, 2000)).find((e) => e !== null);
      const how = Object.entries(via).map(([k, v]) => `${k}=${v}`).join(" ");
      if (echo?.ok) ok(`${link.name}: /ping ${target.host} ${how} answered in ${echo.rttMs} ms`);
      else note(`${link.name}: /ping ${target.host} ${how} got no answer (${echo?.error ?? "no echo"}): the link is down, or the ping does not leave through it${how.startsWith("interface=") ? " (on an Ethernet link use a routing table: interface= sends to the target as if it were on the link)" : ""}`);
    } catch (error) {
      problem(`${link.name}: the router refused /ping: ${describeError(error)}`);
    }
  }

  // 6. Public addresses the router fetches. An echo from a standby link's address that comes back
  // with the active link's public address left through the active link: the router lacks a rule
  // that routes the link's own address through the link.
  const active = await backend.activeLink().catch(() => undefined);
  const activeLink = config.links.find((l) => l.name === active);
  let activePublic: string | undefined;
  if (activeLink?.publicIp.method === "static") activePublic = activeLink.publicIp.address;
  else if (activeLink?.publicIp.method === "interface") activePublic = await backend.linkAddress(activeLink.name).catch(() => undefined);
  for (const link of config.links) {
    if (link.publicIp.method !== "http") continue;
    const url = link.publicIp.urls[0]!;
    try {
      const answer = echoAnswer(url, await backend.fetchThrough(link.name, url, 5000), 4);
      if (!answer.address) {
        note(`${link.name}: the router fetched ${url}: ${answer.error}`);
      } else if (link.name !== active && answer.address === activePublic) {
        const source = await backend.linkAddress(link.name).catch(() => "its address");
        problem(`${link.name}: the echo the router fetched from ${source} came back with ${answer.address}, ${active}'s address: it left through the active link. Route the link's own address through the link, e.g. /routing rule add src-address=${source}/32 action=lookup-only-in-table table=<a table with ${link.name}'s default route>`);
      } else {
        ok(`${link.name}: the router fetched ${url} through the link: ${answer.address}`);
      }
    } catch (error) {
      const message = describeError(error);
      if (/permission/i.test(message)) problem(`${link.name}: the router refused /tool/fetch: ${message}`);
      else note(`${link.name}: the router could not fetch ${url} through the link: ${message}`);
    }
  }
  if (route.flushConntrack) note("stale SIP/RTP connections are removed from /ip/firewall/connection after a switch");
  return done();
}
