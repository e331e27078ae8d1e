// The Linux route backend: iproute2 for the default route and per-link routing, conntrack for
// the flows whose NAT mapping went stale with the switch.
import { performance } from "node:perf_hooks";
import { CommandError, commandSpawner, type CommandRunner, type ServingProcess, type Spawner } from "../../system/command.js";
import type { RouteBackend, RouteLink, SwitchResult } from "./backend.js";
import { deletedCount, FLUSH_HELPER, flushAnswer, flushRequest, staleFlowFilters } from "./conntrack.js";

export interface LinuxRouteOptions {
  links: readonly RouteLink[];
  run: CommandRunner;
  /** Starts the conntrack flush helper: give it the same prefix as `run` (default: none). */
  spawn?: Spawner;
  /** How long one flush may take before the helper is killed (default 8 s, under the converge step's 10 s). */
  flushTimeoutMs?: number;
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
  private readonly spawn: Spawner;
  /** The flush helper in use; replaced at the next flush once it has ended. */
  private helper?: FlushHelper;
  /** One flush request at a time: the helper answers them in turn. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Helpers being stopped (a failed one, or at close). */
  private readonly stopping = new Set<Promise<void>>();

  constructor(private readonly options: LinuxRouteOptions) {
    this.tableBase = options.tableBase ?? 4200;
    this.spawn = options.spawn ?? commandSpawner();
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
   * Starts the flush helper now, so that the first switch finds it ready: starting it costs more
   * than the flush (bench:conntrack: 86 ms for the flush that starts it, 29 ms after); else the
   * first flush starts it. Only where flushes come (the daemon): it runs until close().
   */
  startFlushHelper(): void {
    try {
      this.runningHelper();
    } catch {
      // spawn() threw (EMFILE and the like): the first flush tries again and says why.
    }
  }

  /** Stops the flush helper (end of its input, SIGTERM, SIGKILL 1 s later) and waits until it is gone. */
  async close(): Promise<void> {
    if (this.helper) this.retire(this.helper);
    await Promise.all(this.stopping);
  }

  /**
   * Deletes the UDP entries NATed to the links other than `name` (the active one): one request to
   * the netlink program, which has the kernel filter the table (see conntrack.ts), or without perl
   * one `conntrack -D` per kind; returns how many. A step of its own: if it fails, the route has still moved.
   */
  async flushStaleFlows(name: string): Promise<number> {
    const active = this.link(name);
    const left = this.options.links.filter((link) => link.name !== active.name);
    if (left.length === 0) return 0;
    // The program finds the addresses itself: a process fewer on the way to the trunks.
    const request = flushRequest(left.map((link) => link.interface));
    try {
      return await this.askHelper(request);
    } catch (error) {
      if (!(error instanceof CommandError && error.notFound)) throw new Error(`the conntrack flush (perl, netlink) failed: ${(error as Error).message}`);
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

  /** One request to the helper, after the ones before it; a helper that fails is replaced at the next. */
  private askHelper(request: string): Promise<number> {
    const answered = this.queue.then(async () => {
      const helper = this.runningHelper();
      try {
        return flushAnswer(await helper.ask(request, this.options.flushTimeoutMs ?? 8_000));
      } catch (error) {
        this.retire(helper);
        throw error;
      }
    });
    this.queue = answered.catch(() => undefined);
    return answered;
  }

  /** The helper that runs, or a new one in place of one that has ended. */
  private runningHelper(): FlushHelper {
    if (!this.helper || this.helper.ended) this.helper = new FlushHelper(this.spawn);
    return this.helper;
  }

  private retire(helper: FlushHelper): void {
    if (this.helper === helper) this.helper = undefined;
    const gone = helper.close();
    this.stopping.add(gone);
    void gone.then(() => this.stopping.delete(gone));
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

/**
 * The flush program of conntrack.ts, running: it answers each request line with one line. It ends
 * when its input does, after an error, or when killed; then it is of no more use (ended says why).
 */
class FlushHelper {
  private readonly child: ServingProcess;
  private waiting?: { resolve: (line: string) => void; reject: (error: Error) => void };
  private output = "";
  private stderr = "";
  /** Why it answers no more; undefined while it runs. */
  ended?: Error;
  /** Settles once the process is gone and its pipes are closed. */
  private readonly gone: Promise<void>;
  private exited = false;

  constructor(spawn: Spawner) {
    this.child = spawn(FLUSH_HELPER);
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => {
      this.output += chunk;
      for (let end = this.output.indexOf("\n"); end >= 0; end = this.output.indexOf("\n")) {
        const line = this.output.slice(0, end);
        this.output = this.output.slice(end + 1);
        // An error line is its last: it exits after it.
        if (line.startsWith("error: ")) this.ended ??= new Error(line);
        this.answer()?.resolve(line);
      }
    });
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (chunk: string) => void (this.stderr = (this.stderr + chunk).slice(-2000)));
    this.child.stdin.on("error", () => undefined); // EPIPE from a helper that died: its end says why
    let failed: NodeJS.ErrnoException | undefined;
    this.child.on("error", (error) => void (failed ??= error));
    this.gone = new Promise((resolve) => {
      this.child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
        this.exited = true;
        const why = this.stderr.trim().split("\n").slice(-3).join("; ");
        // ENOENT: no perl on this host (the caller falls back on conntrack -D).
        this.ended ??=
          failed?.code === "ENOENT"
            ? new CommandError(`${FLUSH_HELPER[0]} not found`, FLUSH_HELPER, "", null, true)
            : (failed ?? new Error(`the helper ended (${signal ?? `exit code ${code}`})${why ? `: ${why}` : ""}`));
        this.answer()?.reject(this.ended);
        resolve();
      });
    });
  }

  /** Sends one request line; the answer line, or why there is none (it ended, or took longer than timeoutMs: then it is killed). */
  ask(request: string, timeoutMs: number): Promise<string> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ended ??= new Error(`no answer within ${timeoutMs} ms (the helper was killed)`);
        this.child.kill("SIGKILL");
        this.answer()?.reject(this.ended);
      }, timeoutMs);
      const done = () => clearTimeout(timer);
      this.waiting = { resolve: (line) => (done(), resolve(line)), reject: (error) => (done(), reject(error)) };
      this.child.stdin.write(request);
    });
  }

  /** Ends its input, then SIGTERM, and SIGKILL if it is still there 1 s later; settles once it is gone. */
  close(): Promise<void> {
    this.ended ??= new Error("the helper was closed");
    if (!this.exited) {
      this.child.stdin.end();
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 1_000);
      void this.gone.then(() => clearTimeout(timer));
    }
    return this.gone;
  }

  /** The request waiting for its answer, taken. */
  private answer(): { resolve: (line: string) => void; reject: (error: Error) => void } | undefined {
    const waiting = this.waiting;
    this.waiting = undefined;
    return waiting;
  }
}
