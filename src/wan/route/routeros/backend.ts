// The RouterOS route backend: wanctl on a LAN host moves the office between links by changing the
// default routes it manages on the router, those whose comment is <markPrefix><link> (wanctl:wan1).
// No other route is ever written. After a switch it removes the router's SIP/RTP connections tied
// to the links left, and it can ask the router for a link's address or fetch an echo through it.
import { performance } from "node:perf_hooks";
import { staleVoiceFlows, type ConntrackEntry } from "../conntrack.js";
import type { RouteBackend, RouteLink, SwitchResult } from "../backend.js";
import { isTrue, RouterError, type RouterClient, type RouterRecord } from "./client.js";

export interface RouterOsLink extends RouteLink {
  /** Lower is preferred: orders the standby routes. */
  readonly priority: number;
}

export interface RouterOsRouteOptions {
  readonly client: RouterClient;
  readonly links: readonly RouterOsLink[];
  readonly markPrefix: string;
  readonly switchBy: "distance" | "disable";
  readonly activeDistance: number;
  readonly standbyDistance: number;
  readonly sipPorts: readonly number[];
  readonly rtpPorts: { readonly from: number; readonly to: number };
}

const ROUTES = "/ip/route";
const ROUTE_PROPS = [".id", "dst-address", "gateway", "distance", "disabled", "active", "comment", "routing-table", "routing-mark"];
const CONNECTIONS = "/ip/firewall/connection";

/** A marked default route, read. */
export interface MarkedRoute {
  readonly id: string;
  readonly link: string;
  readonly gateway: string;
  readonly distance: number;
  readonly disabled: boolean;
  readonly active: boolean;
}

/** "192.0.2.1:5060" → address and port (RouterOS writes a connection's ends so). */
function endpoint(text: string | undefined): { address: string; port: number } | undefined {
  const m = text ? /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(text) : null;
  return m ? { address: m[1]!, port: Number(m[2]) } : undefined;
}

/** A /ip/firewall/connection record as a conntrack entry (for the shared choice of stale flows); undefined when it has no ports. */
export function connectionEntry(record: RouterRecord): (ConntrackEntry & { id: string }) | undefined {
  const [src, dst, rsrc, rdst] = [record["src-address"], record["dst-address"], record["reply-src-address"], record["reply-dst-address"]].map(endpoint);
  if (!record[".id"] || !src || !dst || !rsrc || !rdst) return undefined;
  return {
    id: record[".id"],
    protocol: record.protocol ?? "",
    original: { src: src.address, dst: dst.address, sport: src.port, dport: dst.port },
    reply: { src: rsrc.address, dst: rdst.address, sport: rsrc.port, dport: rdst.port },
  };
}

export class RouterOsRouteBackend implements RouteBackend {
  constructor(private readonly options: RouterOsRouteOptions) {}

  get client(): RouterClient {
    return this.options.client;
  }

  private link(name: string): RouterOsLink {
    const link = this.options.links.find((l) => l.name === name);
    if (!link) throw new Error(`unknown link "${name}" (configured: ${this.options.links.map((l) => l.name).join(", ")})`);
    return link;
  }

  /** The comment that marks `link`'s default routes. */
  mark(link: string): string {
    return `${this.options.markPrefix}${link}`;
  }

  /** Every default route of the main table, as the router lists it. */
  async defaultRoutes(): Promise<RouterRecord[]> {
    const routes = await this.options.client.print(ROUTES, { where: { "dst-address": "0.0.0.0/0" }, proplist: ROUTE_PROPS });
    // RouterOS 7 names the table (routing-table=main); RouterOS 6 marks policy routes with routing-mark.
    return routes.filter((r) => (r["routing-table"] ?? "main") === "main" && !r["routing-mark"]);
  }

  /** The marked default routes, each with the link its comment names (unknown links are not ours). */
  async markedRoutes(): Promise<MarkedRoute[]> {
    const marks = new Map(this.options.links.map((l) => [this.mark(l.name), l.name]));
    return (await this.defaultRoutes()).flatMap((r) => {
      const link = marks.get(r.comment ?? "");
      if (!link || !r[".id"]) return [];
      return [{ id: r[".id"], link, gateway: r.gateway ?? "", distance: Number(r.distance ?? 1), disabled: isTrue(r.disabled), active: isTrue(r.active) }];
    });
  }

  async activeLink(): Promise<string | undefined> {
    const routes = await this.defaultRoutes();
    const active = routes.filter((r) => isTrue(r.active));
    for (const link of [...this.options.links].sort((a, b) => a.priority - b.priority)) {
      if (active.some((r) => r.comment === this.mark(link.name))) return link.name;
    }
    return undefined;
  }

  async activate(name: string): Promise<SwitchResult> {
    const started = performance.now();
    const target = this.link(name);
    const routes = await this.markedRoutes();
    const mine = routes.filter((r) => r.link === target.name);
    if (mine.length === 0) {
      throw new Error(`no default route on the router is marked "${this.mark(name)}" (its comment): add one, e.g. /ip route add gateway=${target.gateway} comment=${this.mark(name)}`);
    }
    const { client, switchBy, activeDistance, standbyDistance } = this.options;
    if (switchBy === "disable") {
      // The new link's routes first, so that a default route exists throughout.
      await client.set(ROUTES, mine.filter((r) => r.disabled).map((r) => r.id), { disabled: "no" });
      await client.set(ROUTES, routes.filter((r) => r.link !== name && !r.disabled).map((r) => r.id), { disabled: "yes" });
    } else {
      const disabled = mine.filter((r) => r.disabled);
      if (disabled.length === mine.length) {
        throw new Error(`the route marked "${this.mark(name)}" is disabled on the router (switchBy "distance" leaves that to you): enable it, or use switchBy "disable"`);
      }
      // The others step back first, each to its own distance by priority (standbyDistance + rank
      // among all links): no two routes tie (RouterOS 7 would share the traffic between them),
      // and the traffic stays on the old link until the new one's route comes down, or moves
      // straight to the new one. A target whose distance is one the others are about to take is
      // parked first on a distance no default route has.
      const ranked = [...this.options.links].sort((a, b) => a.priority - b.priority);
      const standbyOf = new Map(ranked.map((link, rank) => [link.name, standbyDistance + rank]));
      const taken = new Set([...standbyOf.entries()].filter(([link]) => link !== name).map(([, d]) => d));
      if (mine.some((r) => taken.has(r.distance))) {
        const used = new Set([...(await this.defaultRoutes()).map((r) => Number(r.distance ?? 1)), ...taken]);
        let parking = activeDistance + 1;
        while (used.has(parking) && parking < 255) parking++;
        await client.set(ROUTES, mine.filter((r) => taken.has(r.distance)).map((r) => r.id), { distance: String(parking) });
      }
      for (const link of ranked) {
        if (link.name === name) continue;
        const distance = standbyOf.get(link.name)!;
        await client.set(ROUTES, routes.filter((r) => r.link === link.name && r.distance !== distance).map((r) => r.id), { distance: String(distance) });
      }
      await client.set(ROUTES, mine.filter((r) => r.distance !== activeDistance).map((r) => r.id), { distance: String(activeDistance) });
    }
    return { active: name, durationMs: performance.now() - started };
  }

  /** The IPv4 addresses the router has on an interface (without their prefix length). */
  async interfaceAddresses(iface: string): Promise<string[]> {
    const addresses = await this.options.client.print("/ip/address", { where: { interface: iface }, proplist: ["address", "disabled", "invalid"] });
    return addresses.filter((a) => !isTrue(a.disabled) && !isTrue(a.invalid) && a.address).map((a) => a.address!.split("/")[0]!);
  }

  async linkAddress(name: string): Promise<string | undefined> {
    return (await this.interfaceAddresses(this.link(name).interface))[0];
  }

  /** Nothing to install on the router: its probes name the link themselves. Returns the link's address. */
  async prepareLink(name: string): Promise<string> {
    const link = this.link(name);
    const address = await this.linkAddress(name);
    if (!address) throw new Error(`link ${name}: interface ${link.interface} on the router has no IPv4 address`);
    return address;
  }

  /**
   * Removes the router's UDP connections of SIP/RTP flows tied to the links other than `name`
   * (NATed to their address, sent from it or to it): one filtered listing, one remove of them all.
   */
  async flushStaleFlows(name: string): Promise<number> {
    this.link(name);
    const staleAddresses = new Set<string>();
    for (const link of this.options.links) {
      if (link.name === name) continue;
      for (const address of await this.interfaceAddresses(link.interface)) staleAddresses.add(address);
    }
    if (staleAddresses.size === 0) return 0;
    const select = async (): Promise<string[]> => {
      const records = await this.options.client.print(CONNECTIONS, {
        where: { protocol: "udp" },
        proplist: [".id", "protocol", "src-address", "dst-address", "reply-src-address", "reply-dst-address"],
      });
      const entries = records.map(connectionEntry).filter((e) => e !== undefined);
      return staleVoiceFlows(entries, { sipPorts: this.options.sipPorts, rtpPorts: this.options.rtpPorts, staleAddresses }).map((e) => e.id);
    };
    let ids = await select();
    try {
      await this.options.client.remove(CONNECTIONS, ids);
    } catch (error) {
      // One of them ended meanwhile ("no such item"): list again and remove what is left.
      if (!(error instanceof RouterError) || error.kind !== "trap") throw error;
      ids = await select();
      await this.options.client.remove(CONNECTIONS, ids);
    }
    return ids.length;
  }

  /**
   * Has the router fetch `url` through the link (its `/tool/fetch` from the link's address) and
   * returns the body: an IP echo answers with the link's public address.
   */
  async fetchThrough(name: string, url: string, timeoutMs: number): Promise<string> {
    const source = await this.prepareLink(name);
    const records = await this.options.client.call("/tool/fetch", { url, output: "user", "src-address": source }, timeoutMs);
    const finished = records.find((r) => r.data !== undefined || r.status === "finished" || r.status === "failed");
    if (!finished || finished.status === "failed") throw new Error(`the router's fetch failed${finished?.message ? `: ${finished.message}` : ""}`);
    return finished.data ?? "";
  }
}
