// createLab(): one run's namespaces, built by up() and ALWAYS removable by down() (also after a
// half-built up), plus the helpers tests and the demo drive the network with.
import { isIPv4 } from "node:net";
import { ADDRESSES, LINK_PLAN, type LabAddresses, type LinkId, type LinkPlan } from "./addresses.js";
import { labAvailability, type Availability } from "./availability.js";
import { onProcessDeath } from "./exit-hooks.js";
import { clear, detectNetem, impair, type Impairment, type LabCapabilities } from "./impair.js";
import * as links from "./links.js";
import { labNames, newRunId, NODES, type LabNames, type LabNode } from "./names.js";
import { destroyNamespace, destroyNamespaceSync, namespaceExists, nsArgv, nsExec } from "./netns.js";
import { removeRecord, processStartTime, writeRecord } from "./ownership.js";
import { ping, type PingOptions, type PingResult } from "./ping.js";
import { CommandError, exec, run, startProcess, type ExecOptions, type ExecResult, type ManagedProcess } from "./proc.js";
import { buildSteps } from "./topology.js";

export interface LabOptions {
  /** Use this run id instead of a fresh one (format <4 hex>p<pid>). */
  runId?: string;
  /** Install per-link routing for probes at up() (see enableLinkProbes). Default false. */
  linkProbes?: boolean;
}

export type LabState = "new" | "up" | "down";

export interface LabProcess extends ManagedProcess {
  readonly node: LabNode;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
}

/** JSON-friendly description of a running lab (what the CLI prints). */
export interface LabDescription {
  runId: string;
  namespaces: Record<LabNode, string>;
  interfaces: LabNames["ifaces"];
  addresses: LabAddresses;
  links: Record<LinkId, LinkPlan>;
  capabilities: LabCapabilities;
  linkProbes: boolean;
}

export interface Lab {
  readonly runId: string;
  readonly names: LabNames;
  readonly addresses: LabAddresses;
  readonly links: Readonly<Record<LinkId, LinkPlan>>;
  /** Known after up(); netem is false before. */
  readonly capabilities: LabCapabilities;
  readonly state: LabState;
  /** Build the topology. Idempotent; on failure it tears down what it built and rethrows. */
  up(): Promise<void>;
  /** Kill every process, delete every namespace, drop the ownership record. Idempotent. */
  down(): Promise<void>;
  /** Namespace name of a node. */
  ns(node: LabNode): string;
  /** Run argv inside a node's namespace (bounded by opts.timeoutMs, default 10 s). Never throws on exit codes. */
  exec(node: LabNode, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** exec() that throws a CommandError unless the command exits 0. */
  run(node: LabNode, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Start a long-running process in a node; it is killed at down() if still running. */
  spawn(node: LabNode, argv: readonly string[], opts?: SpawnOptions): LabProcess;
  /** Processes started with spawn() that are still running. */
  processes(): LabProcess[];
  ping(node: LabNode, dest: string, opts?: PingOptions): Promise<PingResult>;
  /** The ISP's uplink toward inet goes down; the office interface and its carrier stay up. */
  cut(link: LinkId): Promise<void>;
  heal(link: LinkId): Promise<void>;
  isCut(link: LinkId): Promise<boolean>;
  /** The cable between the office and the ISP is pulled: the office's interface loses its carrier. */
  unplug(link: LinkId): Promise<void>;
  plug(link: LinkId): Promise<void>;
  /** Loss (and, with netem, delay/jitter) at the link's ISP, both directions. Replaces any previous one. */
  impair(link: LinkId, imp: Impairment): Promise<void>;
  clear(link: LinkId): Promise<void>;
  /** Move the office's main default route to `link`. */
  setDefaultRoute(link: LinkId): Promise<void>;
  defaultRouteLink(): Promise<LinkId | null>;
  /** Per-link tables + `ip rule from <addr>` / `oif <ifname>`: probes leave through the link they name. */
  enableLinkProbes(): Promise<void>;
  disableLinkProbes(): Promise<void>;
  /** Add a /32 service address on inet's loopback. Idempotent. */
  addServiceAddress(address: string): Promise<void>;
  describe(): LabDescription;
}

export function createLab(options: LabOptions = {}): Lab {
  return new LabImpl(options);
}

/**
 * For scripts on the lab (benchmarks, the transcript recorder): checks that the lab (and whatever
 * `needs` names) can run here, brings a lab up, runs `work`, and takes the lab down whatever
 * happens; a failure is printed as `<name>: <error>` and makes the exit code 1.
 */
export function runScriptOnLab(name: string, work: (lab: Lab) => Promise<void>, needs: ReadonlyArray<() => Availability> = []): void {
  const main = async (): Promise<number> => {
    for (const available of [labAvailability, ...needs].map((check) => check())) {
      if (!available.ok) {
        process.stderr.write(`${name}: the network lab cannot run here: ${available.reason}\n`);
        return 1;
      }
    }
    const lab = createLab();
    try {
      await lab.up();
      await work(lab);
      return 0;
    } finally {
      await lab.down();
    }
  };
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

class LabImpl implements Lab {
  readonly runId: string;
  readonly names: LabNames;
  readonly addresses = ADDRESSES;
  readonly links = LINK_PLAN;
  capabilities: LabCapabilities = { netem: false };
  state: LabState = "new";
  private linkProbesOn = false;
  private readonly procs = new Set<LabProcess>();
  private upping: Promise<void> | undefined;
  private downing: Promise<void> | undefined;
  private unregister: (() => void) | undefined;

  constructor(private readonly options: LabOptions) {
    this.runId = options.runId ?? newRunId();
    this.names = labNames(this.runId);
  }

  ns(node: LabNode): string {
    return this.names.ns[node];
  }

  private get namespaces(): string[] {
    return NODES.map((n) => this.names.ns[n]);
  }

  up(): Promise<void> {
    if (this.state === "up") return Promise.resolve();
    if (this.downing) return Promise.reject(new Error("lab: up() while down() is running"));
    this.upping ??= this.build().finally(() => (this.upping = undefined));
    return this.upping;
  }

  private async build(): Promise<void> {
    // Ownership first: from here on, a crash leaves something a sweep can find.
    writeRecord({
      runId: this.runId,
      pid: process.pid,
      pidStart: processStartTime(process.pid),
      namespaces: this.namespaces,
      createdAt: new Date().toISOString(),
      argv: process.argv,
    });
    this.unregister ??= onProcessDeath(() => this.teardownSync());
    try {
      for (const ns of this.namespaces) {
        if (!namespaceExists(ns)) await run(["ip", "netns", "add", ns]);
      }
      for (const step of buildSteps(this.names)) {
        const r = await exec(step.argv, { input: step.input ?? "", timeoutMs: 15_000 });
        if (r.code !== 0) throw new Error(`lab up: step "${step.what}" failed: ${new CommandError(step.argv, r).message}`);
      }
      this.capabilities = { netem: await detectNetem(this.names.ns.inet) };
      if (this.options.linkProbes) {
        await links.enableLinkProbes(this.names);
        this.linkProbesOn = true;
      }
      this.state = "up";
    } catch (err) {
      await this.teardownNow().catch(() => {}); // the build error is the one worth reporting
      throw err;
    }
  }

  down(): Promise<void> {
    this.downing ??= this.teardown().finally(() => (this.downing = undefined));
    return this.downing;
  }

  private async teardown(): Promise<void> {
    // A concurrent up() still building: let it finish (or fail) first; its steps are bounded.
    if (this.upping) await this.upping.catch(() => {});
    await this.teardownNow();
  }

  private async teardownNow(): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.stop(2_000)));
    const errors: string[] = [];
    for (const ns of [...this.namespaces].reverse()) {
      const e = await destroyNamespace(ns);
      if (e) errors.push(e);
    }
    this.state = "down";
    this.linkProbesOn = false;
    if (errors.length) throw new Error(`lab ${this.runId} down: ${errors.join("; ")}`);
    removeRecord(this.runId);
    this.unregister?.();
    this.unregister = undefined;
  }

  /** From the exit/signal handlers: same as down(), synchronously, SIGKILL only. */
  private teardownSync(): void {
    for (const p of this.procs) p.killNow();
    let ok = true;
    for (const ns of [...this.namespaces].reverse()) ok = destroyNamespaceSync(ns) === null && ok;
    this.state = "down";
    if (ok) removeRecord(this.runId);
  }

  private assertUp(what: string): void {
    if (this.state !== "up") throw new Error(`lab ${this.runId}: ${what} needs the lab up (state ${this.state})`);
  }

  exec(node: LabNode, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    this.assertUp("exec");
    return nsExec(this.ns(node), argv, opts);
  }

  async run(node: LabNode, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    const r = await this.exec(node, argv, opts);
    if (r.code !== 0) throw new CommandError(nsArgv(this.ns(node), argv), r);
    return r;
  }

  spawn(node: LabNode, argv: readonly string[], opts: SpawnOptions = {}): LabProcess {
    this.assertUp("spawn");
    const p = Object.assign(startProcess(nsArgv(this.ns(node), argv), opts.env), { node }) as LabProcess;
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  processes(): LabProcess[] {
    return [...this.procs].filter((p) => p.running);
  }

  ping(node: LabNode, dest: string, opts?: PingOptions): Promise<PingResult> {
    this.assertUp("ping");
    return ping(this.ns(node), dest, opts);
  }

  async cut(link: LinkId): Promise<void> {
    this.assertUp("cut");
    await links.cut(this.names, link);
  }

  async heal(link: LinkId): Promise<void> {
    this.assertUp("heal");
    await links.heal(this.names, link);
  }

  async unplug(link: LinkId): Promise<void> {
    this.assertUp("unplug");
    await links.unplug(this.names, link);
  }

  async plug(link: LinkId): Promise<void> {
    this.assertUp("plug");
    await links.plug(this.names, link);
  }

  isCut(link: LinkId): Promise<boolean> {
    this.assertUp("isCut");
    return links.isCut(this.names, link);
  }

  async impair(link: LinkId, imp: Impairment): Promise<void> {
    this.assertUp("impair");
    await impair(this.names, this.capabilities, link, imp);
  }

  async clear(link: LinkId): Promise<void> {
    this.assertUp("clear");
    await clear(this.names, this.capabilities, link);
  }

  async setDefaultRoute(link: LinkId): Promise<void> {
    this.assertUp("setDefaultRoute");
    await links.setDefaultRoute(this.names, link);
  }

  defaultRouteLink(): Promise<LinkId | null> {
    this.assertUp("defaultRouteLink");
    return links.defaultRouteLink(this.names);
  }

  async enableLinkProbes(): Promise<void> {
    this.assertUp("enableLinkProbes");
    await links.enableLinkProbes(this.names);
    this.linkProbesOn = true;
  }

  async disableLinkProbes(): Promise<void> {
    this.assertUp("disableLinkProbes");
    await links.disableLinkProbes(this.names);
    this.linkProbesOn = false;
  }

  async addServiceAddress(address: string): Promise<void> {
    this.assertUp("addServiceAddress");
    if (!isIPv4(address)) throw new Error(`addServiceAddress: not an IPv4 address: ${address}`);
    await run(["ip", "-n", this.ns("inet"), "addr", "replace", `${address}/32`, "dev", "lo"]);
  }

  describe(): LabDescription {
    return {
      runId: this.runId,
      namespaces: { ...this.names.ns },
      interfaces: this.names.ifaces,
      addresses: this.addresses,
      links: { ...this.links },
      capabilities: { ...this.capabilities },
      linkProbes: this.linkProbesOn,
    };
  }
}
