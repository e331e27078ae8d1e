// Where the fake router's configuration takes effect. MemoryWorld keeps it in memory and answers
// pings and fetches as a test scripts them; NamespaceWorld applies it to a network namespace (the
// lab's office), so a route change moves real traffic, pings really leave through a link, a cut
// really cuts, and connections are the kernel's conntrack entries.
import { spawn } from "node:child_process";
import { parsePingLine } from "../../src/wan/probes/ping-parse.js";
import { exec, run } from "../lab/proc.js";
import type { Echo, FakeConnection, PingRequest, RouterWorld } from "./fake-router.js";

/** What a scripted link answers to one echo: an RTT in ms, or a status ("timeout") when lost. */
export type ScriptedEcho = number | string;

export class MemoryWorld implements RouterWorld {
  defaultRoute: { gateway: string; iface: string } | null = null;
  readonly tableRoutes = new Map<string, { gateway: string; iface: string } | null>();
  /** Every route change, in order: "main via 198.51.100.9 dev wan1", "main none", ... */
  readonly routeChanges: string[] = [];
  /** How an echo to `request.address` goes (default: answered in 1.5 ms). */
  echo: (request: PingRequest) => ScriptedEcho = () => 1.5;
  connectionsList: FakeConnection[] = [];
  /** Body of a fetch of `url` from `src`; throw to fail it. */
  fetchBody: (url: string, src: string | undefined) => string = () => {
    throw new Error("connection timeout");
  };
  /** Pings running now. */
  readonly pings = new Set<PingRequest>();

  async setDefaultRoute(route: { gateway: string; iface: string } | null): Promise<void> {
    this.defaultRoute = route;
    this.routeChanges.push(`main ${route ? `via ${route.gateway} dev ${route.iface}` : "none"}`);
  }

  async setTableRoute(table: string, route: { gateway: string; iface: string } | null): Promise<void> {
    this.tableRoutes.set(table, route);
    this.routeChanges.push(`${table} ${route ? `via ${route.gateway} dev ${route.iface}` : "none"}`);
  }

  ping(request: PingRequest, onEcho: (echo: Echo) => void): { stop(): void } {
    this.pings.add(request);
    let seq = 0;
    const tick = (): void => {
      const how = this.echo(request);
      onEcho(typeof how === "number" ? { seq: seq++, timeMs: how } : { seq: seq++, status: how });
    };
    // Like RouterOS: the first echo at once, then one per interval.
    const first = setTimeout(tick, 0);
    const timer = setInterval(tick, request.intervalMs);
    return {
      stop: () => {
        clearTimeout(first);
        clearInterval(timer);
        this.pings.delete(request);
      },
    };
  }

  async connections(): Promise<FakeConnection[]> {
    return this.connectionsList;
  }

  async removeConnections(ids: readonly string[]): Promise<void> {
    this.connectionsList = this.connectionsList.filter((c) => !ids.includes(c.id));
  }

  async fetch(url: string, srcAddress: string | undefined): Promise<string> {
    return this.fetchBody(url, srcAddress);
  }
}

/** Routing tables of RouterOS 7 become Linux tables from here, selected by an fwmark of the same number. */
const TABLE_BASE = 4300;

/**
 * The router is the namespace `ns`: its main default route is the namespace's, its routing tables
 * are Linux tables (a `routing-table=` ping carries the table's fwmark), `interface=` pings are
 * `ping -I <interface>`, `src-address=` pings `ping -I <address>`, and its connections are conntrack's.
 */
export class NamespaceWorld implements RouterWorld {
  private readonly tables = new Map<string, number>();
  private readonly children = new Set<ReturnType<typeof spawn>>();

  constructor(readonly ns: string) {}

  private ip(...args: string[]): string[] {
    return ["ip", "-n", this.ns, ...args];
  }

  private async tableNumber(table: string): Promise<number> {
    let n = this.tables.get(table);
    if (n === undefined) {
      n = TABLE_BASE + this.tables.size;
      this.tables.set(table, n);
      await exec(this.ip("rule", "del", "fwmark", String(n), "lookup", String(n)));
      await run(this.ip("rule", "add", "fwmark", String(n), "lookup", String(n), "priority", String(n)));
    }
    return n;
  }

  async setDefaultRoute(route: { gateway: string; iface: string } | null): Promise<void> {
    if (route) await run(this.ip("route", "replace", "default", "via", route.gateway, "dev", route.iface));
    else await exec(this.ip("route", "del", "default"));
  }

  async setTableRoute(table: string, route: { gateway: string; iface: string } | null): Promise<void> {
    const n = String(await this.tableNumber(table));
    if (route) await run(this.ip("route", "replace", "default", "via", route.gateway, "dev", route.iface, "table", n));
    else await exec(this.ip("route", "flush", "table", n));
  }

  ping(request: PingRequest, onEcho: (echo: Echo) => void, onEnd: (error?: string) => void): { stop(): void } {
    let stopped = false;
    let child: ReturnType<typeof spawn> | undefined;
    const start = async (): Promise<void> => {
      const via = request.interface
        ? ["-I", request.interface]
        : request.srcAddress
          ? ["-I", request.srcAddress]
          : request.routingTable && request.routingTable !== "main"
            ? ["-m", String(await this.tableNumber(request.routingTable))]
            : [];
      if (stopped) return;
      const count = request.count !== undefined ? ["-c", String(request.count)] : [];
      child = spawn("ip", ["netns", "exec", this.ns, "ping", "-n", "-O", "-4", "-i", (request.intervalMs / 1000).toFixed(3), ...count, ...via, request.address], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, LC_ALL: "C" },
      });
      this.children.add(child);
      let carry = "";
      child.stdout!.setEncoding("latin1");
      child.stdout!.on("data", (chunk: string) => {
        const lines = (carry + chunk).split("\n");
        carry = lines.pop() ?? "";
        for (const line of lines) {
          const p = parsePingLine(line);
          // Linux counts from 1, RouterOS from 0.
          if (p.kind === "reply" && !p.dup) onEcho({ seq: p.seq - 1, timeMs: p.rttMs });
          else if (p.kind === "no-answer") onEcho({ seq: p.seq - 1, status: "timeout" });
          else if (p.kind === "icmp-error") onEcho({ seq: p.seq - 1, status: p.message.toLowerCase() });
        }
      });
      let stderr = "";
      child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-300)));
      child.on("close", (code) => {
        if (child) this.children.delete(child);
        if (!stopped) onEnd(code === 0 ? undefined : stderr.trim() || `ping exited with code ${code}`);
      });
    };
    void start();
    return {
      stop: () => {
        stopped = true;
        child?.kill("SIGKILL");
      },
    };
  }

  async connections(): Promise<FakeConnection[]> {
    const { stdout } = await exec(["ip", "netns", "exec", this.ns, "conntrack", "-L", "-o", "id"]);
    const out: FakeConnection[] = [];
    for (const line of stdout.split("\n")) {
      const protocol = line.trim().split(/\s+/)[0];
      const id = / id=(\d+)/.exec(line)?.[1];
      const f = [...line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g)].map((m) => m[2]!);
      if (!protocol || !id || f.length < 8) continue;
      out.push({ id: `*${Number(id).toString(16).toUpperCase()}`, protocol, src: `${f[0]}:${f[2]}`, dst: `${f[1]}:${f[3]}`, replySrc: `${f[4]}:${f[6]}`, replyDst: `${f[5]}:${f[7]}` });
    }
    return out;
  }

  async removeConnections(ids: readonly string[]): Promise<void> {
    const all = await this.connections();
    for (const c of all.filter((x) => ids.includes(x.id))) {
      const [src, sport] = c.src.split(":");
      const [dst, dport] = c.dst.split(":");
      await exec(["ip", "netns", "exec", this.ns, "conntrack", "-D", "-p", c.protocol, "--orig-src", src!, "--orig-dst", dst!, "--sport", sport!, "--dport", dport!]);
    }
  }

  /** An HTTP GET from inside the namespace, bound to `srcAddress` (so it leaves through that link). */
  async fetch(url: string, srcAddress: string | undefined, timeoutMs: number): Promise<string> {
    const script = `
      const http = require("node:http");
      const req = http.get(process.argv[1], { localAddress: process.argv[2] || undefined, timeout: Number(process.argv[3]) }, (res) => {
        let body = ""; res.on("data", (d) => (body += d)); res.on("end", () => { process.stdout.write(body); process.exit(res.statusCode === 200 ? 0 : 2); });
      });
      req.on("timeout", () => { process.stderr.write("connection timeout"); process.exit(3); });
      req.on("error", (e) => { process.stderr.write(e.code || e.message); process.exit(3); });`;
    const r = await exec(["ip", "netns", "exec", this.ns, process.execPath, "-e", script, url, srcAddress ?? "", String(timeoutMs)], { timeoutMs: timeoutMs + 2000 });
    if (r.code !== 0) throw new Error(r.stderr.trim() || `HTTP error (exit ${r.code})`);
    return r.stdout;
  }

  /** Stops the pings still running. */
  close(): void {
    for (const child of this.children) child.kill("SIGKILL");
    this.children.clear();
  }
}
