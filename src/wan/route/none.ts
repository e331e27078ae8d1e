// route.backend "none": a router that switches by itself, and wanctl on the PBX host following it.
// wanctl owns no routes and probes no link: the office's egress address (egress.ts) says which link
// carries it. `activate` only confirms that the router has the office where wanctl is told; there
// are no stale flows wanctl could clear (they are in the router's connection tracking).
// monitor.targets, when given, probe the way out through the router (gatewayPath, at the end).
import { lookup } from "node:dns/promises";
import { performance } from "node:perf_hooks";
import type { Config } from "../../config/schema/index.js";
import type { ProbeTargetConfig } from "../../config/schema/monitor.js";
import type { CommandRunner } from "../../system/command.js";
import { EgressLooker, linkAddressBlocks, type EgressDeps, type EgressSample, type EgressWatch } from "../egress.js";
import type { LinkBinding } from "../probes/types.js";
import type { PublicIpResult } from "../public-ip/types.js";
import type { RouteBackend, SwitchResult } from "./backend.js";

export class NoneRouteBackend implements RouteBackend {
  readonly follows = true;

  constructor(private readonly egress: Pick<EgressLooker, "current">) {}

  async activeLink(): Promise<string | undefined> {
    return (await this.egress.current()).link ?? undefined;
  }

  prepareLink(link: string): Promise<string> {
    return Promise.reject(new Error(`route.backend "none": the router probes its links, wanctl does not (${link})`));
  }

  /** Confirms that the router carries the office on `link`; throws, saying where it is, when not. */
  async activate(link: string): Promise<SwitchResult> {
    const started = performance.now();
    const sample = await this.egress.current();
    if (sample.link === link) return { active: link, durationMs: performance.now() - started };
    if (sample.address === null) throw new Error(`cannot tell which link carries the office: ${sample.detail}`);
    throw new Error(`the office's traffic leaves with ${sample.address}${sample.link ? `, ${sample.link}'s address` : ", no configured link's address"}, not by ${link}: the router decides, wanctl cannot move it`);
  }
}

/** Everything route.backend "none" puts in place of the Linux adapters. */
export interface FollowGateway {
  readonly route: NoneRouteBackend;
  readonly looker: EgressLooker;
  watchEgress(onSample: (sample: EgressSample) => void, onFailure?: (sample: EgressSample, inARow: number) => void, onError?: (error: unknown) => void): EgressWatch;
  /**
   * A link's public address: the egress address while the office leaves by it (the only link that
   * can be asked through), else its static address from the config.
   */
  publicAddress(link: string): Promise<PublicIpResult>;
  /** Where wanctl's own requests leave from: any address, through the router's default route. */
  sourceAddress(): Promise<string>;
}

export function createFollowGateway(config: Config, deps: EgressDeps = {}): FollowGateway {
  const route = config.route;
  if (route.backend !== "none") throw new Error(`route.backend is "${route.backend}", not "none"`);
  const looker = new EgressLooker(route.egress, linkAddressBlocks(config.links, route.links), deps);
  return {
    route: new NoneRouteBackend(looker),
    looker,
    watchEgress: (onSample, onFailure, onError) => looker.watch(onSample, onFailure, onError),
    publicAddress: async (name) => {
      const link = config.links.find((l) => l.name === name);
      if (!link) throw new Error(`unknown link "${name}"`);
      const started = performance.now();
      const done = (ok: boolean, detail: string, address?: string): PublicIpResult => ({
        link: name,
        method: link.publicIp.method,
        ok,
        detail,
        ...(address ? { address } : {}),
        answers: [],
        durationMs: performance.now() - started,
      });
      const sample = await looker.current();
      if (sample.link === name && sample.address) return done(true, `the office's traffic leaves with it (${sample.detail})`, sample.address);
      if (link.publicIp.method === "static") return done(true, `static address ${link.publicIp.address} from the config`, link.publicIp.address);
      const where = sample.address === null ? `no egress seen: ${sample.detail}` : `the office's traffic leaves with ${sample.address}${sample.link ? ` (${sample.link})` : ""}`;
      return done(false, `${name}: learned only while the router sends the office through it (${where})`);
    },
    sourceAddress: async () => "0.0.0.0",
  };
}

/** The name of the office's path to the Internet through the router, as its probes and health call it. */
export const GATEWAY_PATH = "gateway";

/** The host (name or address) a target's probe goes to. */
export function targetHost(target: ProbeTargetConfig): string {
  switch (target.type) {
    case "icmp":
    case "tcp":
    case "sip":
      return target.host;
    case "dns":
      return target.server;
    case "http":
      return new URL(target.url).hostname.replace(/^\[|\]$/g, "");
  }
}

/** `dev` and `src` of `ip -4 -o route get <address>`: "203.0.113.5 via 192.168.1.1 dev eth0 src 192.168.1.20 uid 0 \    cache". */
export function parseRouteGet(stdout: string): { device: string; source: string } | null {
  const device = /\bdev (\S+)/.exec(stdout)?.[1];
  const source = /\bsrc (\S+)/.exec(stdout)?.[1];
  return device && source ? { device, source } : null;
}

/**
 * How the probes of monitor.targets leave this host when wanctl follows a router: through the
 * default route, that is through whichever link the router uses. The kernel is asked the way to the
 * first target (`ip -4 route get`): its device is what `ping -I` binds to, its source address what
 * the sockets bind to, so that the probes take exactly the way the office's traffic takes (and a
 * SIP probe's Via names an address of this host). Asked again whenever the probes are built anew:
 * the daemon compares it now and then and rebuilds them when it changed (DHCP on the LAN).
 */
export async function gatewayPath(
  targets: readonly ProbeTargetConfig[],
  run: CommandRunner,
  resolve: (host: string) => Promise<string> = async (host) => (await lookup(host, { family: 4 })).address,
): Promise<LinkBinding> {
  const first = targets[0];
  if (!first) throw new Error("no monitor.targets to probe the way out through the router");
  const host = targetHost(first);
  const address = await resolve(host).catch((error: unknown) => {
    throw new Error(`cannot resolve ${host} (the first of monitor.targets): ${(error as Error).message}`);
  });
  const { stdout } = await run(["ip", "-4", "-o", "route", "get", address], { timeoutMs: 2000 });
  const way = parseRouteGet(stdout);
  if (!way) throw new Error(`\`ip route get ${address}\` names no device and source address: ${stdout.trim() || "(nothing)"}`);
  return { name: GATEWAY_PATH, interface: way.device, sourceAddress: way.source };
}
