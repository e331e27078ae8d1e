// The Linux route backend: iproute2 for the default route and per-link routing, conntrack for
// the flows whose NAT mapping went stale with the switch.
import { performance } from "node:perf_hooks";
import { CommandError, type CommandRunner } from "../../system/command.js";
import type { RouteBackend, RouteLink, SwitchResult } from "./backend.js";
import { deletedCount, flushedCount, staleFlowFilters, staleFlowFlushCommand } from "./conntrack.js";

export interface LinuxRouteOptions {
  links: readonly RouteLink[];
  run: CommandRunner;
  /**
   * First routing table (and rule priority) for the per-link tables; link i uses base + i. Chosen
   * far from the tables distributions use (main 254, default 253, local 255).
   */
  tableBase?: number;
}

interface IpRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
  metric?: number;
}

interface IpRule {
  priority?: number;
  table?: string;
}

interface IpAddrInfo {
  addr_info?: { family?: string; local?: string; scope?: string }[];
}

export class LinuxRouteBackend implements RouteBackend {
  private readonly tableBase: number;

  constructor(private readonly options: LinuxRouteOptions) {
    this.tableBase = options.tableBase ?? 4200;
  }

  private async ipJson<T>(args: string[]): Promise<T> {
    const { stdout } = await this.options.run(["ip", "-j", ...args]);
    return (stdout.trim() ? JSON.parse(stdout) : []) as T;
  }

  private link(name: string): RouteLink {
    const link = this.options.links.find((l) => l.name === name);
    if (!link) throw new Error(`unknown link "${name}" (configured: ${this.options.links.map((l) => l.name).join(", ")})`);
    return link;
  }

  async activeLink(): Promise<string | undefined> {
    const routes = await this.ipJson<IpRoute[]>(["-4", "route", "show", "default", "table", "main"]);
    // With several default routes the kernel uses the lowest metric.
    const best = [...routes].sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
    if (!best) return undefined;
    return this.options.links.find((l) => l.interface === best.dev && (!best.gateway || best.gateway === l.gateway))?.name;
  }

  /** The link's own IPv4 address (the first global one on its interface). */
  async sourceAddress(link: RouteLink): Promise<string> {
    const [info] = await this.ipJson<IpAddrInfo[]>(["-4", "addr", "show", "dev", link.interface]);
    const address = info?.addr_info?.find((a) => a.family === "inet" && a.scope === "global")?.local;
    if (!address) throw new Error(`link ${link.name}: interface ${link.interface} has no IPv4 address`);
    return address;
  }

  async linkAddress(name: string): Promise<string | undefined> {
    return this.sourceAddress(this.link(name)).catch(() => undefined);
  }

  async prepareLink(name: string): Promise<string> {
    const link = this.link(name);
    const index = this.options.links.indexOf(link);
    const table = String(this.tableBase + index);
    const source = await this.sourceAddress(link);
    await this.options.run(["ip", "-4", "route", "replace", "default", "via", link.gateway, "dev", link.interface, "table", table]);
    // Two ways into the link's table: sockets bound to its address (TCP, UDP, HTTP, SIP probes)
    // and sockets bound to its device (ping -I). Our rules are replaced so an address change sticks.
    const rules = await this.ipJson<IpRule[]>(["-4", "rule", "show"]);
    for (const rule of rules.filter((r) => r.table === table)) {
      await this.options.run(["ip", "-4", "rule", "del", "priority", String(rule.priority), "table", table]);
    }
    await this.options.run(["ip", "-4", "rule", "add", "from", `${source}/32`, "lookup", table, "priority", String(this.tableBase + 2 * index)]);
    await this.options.run(["ip", "-4", "rule", "add", "oif", link.interface, "lookup", table, "priority", String(this.tableBase + 2 * index + 1)]);
    return source;
  }

  async activate(name: string): Promise<SwitchResult> {
    const started = performance.now();
    const link = this.link(name);
    await this.options.run(["ip", "-4", "route", "replace", "default", "via", link.gateway, "dev", link.interface, "table", "main"]);
    // Other default routes of ours with a lower metric would still win: remove those only.
    const routes = await this.ipJson<IpRoute[]>(["-4", "route", "show", "default", "table", "main"]);
    for (const route of routes) {
      const ours = this.options.links.some((l) => l.interface === route.dev);
      if (ours && route.dev !== link.interface && (route.metric ?? 0) === 0) {
        const via = route.gateway ? ["via", route.gateway] : [];
        await this.options.run(["ip", "-4", "route", "del", "default", ...via, "dev", route.dev ?? "", "table", "main"]);
      }
    }
    return { active: name, durationMs: performance.now() - started };
  }

  /**
   * Deletes the UDP entries NATed to the links other than `name` (the active one): one run of the
   * netlink program, which has the kernel filter the table (see conntrack.ts), or without perl one
   * `conntrack -D` per kind; returns how many. A step of its own: if it fails, the route has still moved.
   */
  async flushStaleFlows(name: string): Promise<number> {
    const active = this.link(name);
    const left = this.options.links.filter((link) => link.name !== active.name);
    if (left.length === 0) return 0;
    try {
      // The program finds the addresses itself: a process fewer on the way to the trunks.
      const { stdout } = await this.options.run(staleFlowFlushCommand(left.map((link) => link.interface)));
      const count = flushedCount(stdout);
      if (count === null) throw new Error(`the conntrack flush printed no count: ${JSON.stringify(stdout.slice(0, 200))}`);
      return count;
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      if (!error.notFound) {
        const why = error.stderr.trim().split("\n").slice(-3).join("; ") || (error.exitCode === null ? "no end within the time limit" : `exit code ${error.exitCode}`);
        throw new Error(`the conntrack flush (perl, netlink) failed: ${why}`);
      }
    }
    // No perl: conntrack-tools, one pass over the whole table per filter.
    const staleAddresses: string[] = [];
    for (const link of left) {
      const address = await this.sourceAddress(link).catch(() => undefined); // no address, no flows NATed to it
      if (address) staleAddresses.push(address);
    }
    const counts = await Promise.all(staleAddresses.flatMap(staleFlowFilters).map((filter) => this.deleteFlows(filter)));
    return counts.reduce((a, b) => a + b, 0);
  }

  private async deleteFlows(filter: readonly string[]): Promise<number> {
    try {
      const { stderr } = await this.options.run(["conntrack", "-D", ...filter]);
      return deletedCount(stderr) ?? 0;
    } catch (error) {
      // conntrack exits 1 when nothing matched.
      if (error instanceof CommandError && error.exitCode === 1 && deletedCount(error.stderr) === 0) return 0;
      throw error;
    }
  }
}
