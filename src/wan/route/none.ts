// route.backend "none": a router that switches by itself, and wanctl on the PBX host following it.
// wanctl owns no routes and probes no link: the office's egress address (egress.ts) says which link
// carries it. `activate` only confirms that the router has the office where wanctl is told; there
// are no stale flows wanctl could clear (they are in the router's connection tracking).
import { performance } from "node:perf_hooks";
import type { Config } from "../../config/schema/index.js";
import { EgressLooker, linkAddressBlocks, type EgressDeps, type EgressSample, type EgressWatch } from "../egress.js";
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
