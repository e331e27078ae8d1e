// What this host must have for a config to work: the binaries the steps call, each link's
// interface, each gateway on its interface's subnet. Warnings, not errors: a config may be written
// on another machine, and an interface may come up after wanctl (PPP, USB modems). `wanctl
// check-config` prints them; the daemon says them at start, in the status and an alert, instead of
// failing a switch later.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { Config } from "../config/schema/index.js";
import type { CommandRunner } from "./command.js";

/** The binaries the Linux backend calls, what needs each, and the Debian package. */
function neededBinaries(config: Config, path: string | undefined): { binary: string; why: string; pkg: string }[] {
  const ping = config.monitor.targets.some((t) => t.type === "icmp") ? [{ binary: "ping", why: "the ICMP probes (those targets never answer)", pkg: "iputils-ping" }] : [];
  if (config.route.backend === "none" && config.monitor.targets.length > 0) {
    // Only the probes of the way out through the router run here.
    return [{ binary: "ip", why: "the gateway's probes (the way to monitor.targets through the router)", pkg: "iproute2" }, ...ping];
  }
  if (config.route.backend !== "linux") return [];
  const out = [{ binary: "ip", why: "the route step and per-link probing", pkg: "iproute2" }];
  // The conntrack step speaks netlink through perl (perl-base, in every Debian); conntrack is its fallback.
  if (config.route.flushConntrack && !onPath("perl", path)) {
    out.push({ binary: "conntrack", why: "the conntrack step of every switch (no perl either: the trunks then register through the stale NAT mapping of the dead link)", pkg: "conntrack" });
  }
  out.push(...ping);
  out.push({ binary: "flock", why: "the lock that keeps a second daemon off the state directory", pkg: "util-linux" });
  return out;
}

/** Whether an executable of that name is on the PATH. */
export function onPath(binary: string, path = process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

interface Ipv4Address {
  local: string;
  prefixlen: number;
  /** The peer of a point-to-point link (PPP): the gateway, whatever the prefix. */
  address?: string;
}

const toInt = (ip: string): number => ip.split(".").reduce((n, part) => (n << 8) + Number(part), 0) >>> 0;

function sameSubnet(a: string, b: string, prefix: number): boolean {
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return (toInt(a) & mask) === (toInt(b) & mask);
}

export interface HostCheckOptions {
  /** Runs `ip` (in tests, inside a namespace). */
  run: CommandRunner;
  path?: string;
}

/** Problems of this host for the config, each in a sentence that names the config path. */
export async function hostProblems(config: Config, options: HostCheckOptions): Promise<string[]> {
  const problems: string[] = [];
  for (const { binary, why, pkg } of neededBinaries(config, options.path)) {
    if (!onPath(binary, options.path)) problems.push(`${binary} not found: ${why} will fail (apt-get install ${pkg})`);
  }
  if (config.route.backend !== "linux" || !onPath("ip", options.path)) return problems;
  for (const [i, link] of config.links.entries()) {
    let addresses: Ipv4Address[];
    try {
      const { stdout } = await options.run(["ip", "-j", "-4", "addr", "show", "dev", link.interface]);
      const parsed = JSON.parse(stdout || "[]") as { addr_info?: { family?: string; local?: string; prefixlen?: number }[] }[];
      addresses = (parsed[0]?.addr_info ?? []).filter((a): a is Ipv4Address & { family: string } => a.family === "inet" && typeof a.local === "string" && typeof a.prefixlen === "number");
      if (parsed.length === 0) throw new Error("no such interface");
    } catch {
      problems.push(`links[${i}].interface: no interface ${link.interface} on this host (link ${link.name} cannot be probed or used until it exists)`);
      continue;
    }
    if (addresses.length === 0) {
      problems.push(`links[${i}].interface: ${link.interface} has no IPv4 address yet (link ${link.name} is probed once it has one)`);
      continue;
    }
    if (!addresses.some((a) => a.address === link.gateway || sameSubnet(a.local, link.gateway, a.prefixlen))) {
      const nets = addresses.map((a) => `${a.local}/${a.prefixlen}`).join(", ");
      problems.push(`links[${i}].gateway: ${link.gateway} is not on ${link.interface}'s subnet (${nets}): the default route via it would be refused`);
    }
  }
  return problems;
}
