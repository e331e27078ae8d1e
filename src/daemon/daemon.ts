// The daemon: a thin driver around the pure parts. Link monitors feed the health machines, the
// decider chooses the link, the lifecycle (lifecycle.ts) says what to do about it, and this file
// carries the lifecycle's effects out through the injected adapters: the route, the converge runs,
// alerts, state.json and the status. Durations run on the monotonic clock; only the times people
// read come from the wall clock.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Cron } from "croner";
import type { Config } from "../config/schema/index.js";
import type { Logger } from "../log.js";
import { scrubText } from "../notify/sanitize.js";
import type { CarrierChange, CarrierWatch, CarrierWatchEvents } from "../wan/carrier.js";
import type { EgressSample, EgressWatch } from "../wan/egress.js";
import { carrierLost, createLinkHealth, observedState, recordRound, type HealthParams, type HealthStepResult, type LinkHealth } from "../wan/health.js";
import type { LinkBinding, Probe, ProbeResult } from "../wan/probes/types.js";
import type { RouteBackend } from "../wan/route/backend.js";
import { GATEWAY_PATH } from "../wan/route/none.js";
import { allDownAlert, gatewayAlert, lifecycleAlert, linkFigures, problemAlert, type AlertSink } from "./alerts.js";
import { CallCounter } from "./call-counter.js";
import { controlSocket, startControlServer, type ControlServer } from "./control.js";
import { convergeSteps, ROUTE_STEP_TIMEOUT_MS, type ConvergeAdapters } from "./converge.js";
import { decide, type Decision, type DeciderPolicy } from "./decider.js";
import {
  DEFAULT_LIFECYCLE_POLICY,
  inProgress,
  initialState,
  lastSwitch,
  pendingSteps,
  reportOf,
  step,
  takesDecisions,
  type ConvergeRun,
  type DrillReport,
  type Effect,
  type LifecycleEvent,
  type LifecyclePolicy,
  type LifecycleState,
} from "./lifecycle.js";
import { LinkMonitor } from "./link-monitor.js";
import { fanOut, type DaemonObserver } from "./observer.js";
import { readPin, type Pin } from "./pin.js";
import { runPipeline } from "./pipeline.js";
import { runStep, type StepResult } from "./report.js";
import { readState, writeState } from "./state.js";
import { StatusWriter, type DaemonStatus } from "./status-file.js";
import { buildStatus } from "./status-view.js";

export type { DrillReport } from "./lifecycle.js";

export interface DaemonDeps {
  route: RouteBackend;
  /** What a switch does after the route (public IP, DNS, Asterisk); the route alone without it. */
  steps?: Omit<ConvergeAdapters, "route">;
  /** Calls up now (for call-aware failback); null when unknown. */
  activeCalls?: () => Promise<number | null>;
  /** Secret values of the config: scrubbed from every step's detail as it comes in, before status, logs or alerts see it. */
  secrets?: readonly string[];
  /** How often to look for a changed link address (default 10 s). */
  addressCheckMs?: number;
  /** Releases what the adapters hold (the AMI connection), at stop. */
  close?: () => Promise<void>;
  makeProbes: (link: LinkBinding) => Probe[];
  /**
   * Where a router switches by itself (route.backend "none"): which link the office's traffic
   * leaves by, observed from outside (its public address). It replaces the probes and the decider:
   * the router decides, wanctl follows.
   */
  watchEgress?: (onSample: (sample: EgressSample) => void) => EgressWatch;
  /**
   * Where wanctl follows a router and monitor.targets are given: the way this host's probes leave,
   * through the router's default route. They then watch the office's path to the Internet through
   * the router as one health state ("gateway"): shown, alerted when down and back, and a change of
   * it makes the egress watch look at once.
   */
  gatewayPath?: () => Promise<LinkBinding>;
  /**
   * Watches the links' interfaces for a lost carrier and new addresses (Linux: `ip monitor link
   * address`); without it only probes tell, and addresses are checked every ADDRESS_CHECK_EVERY_MS.
   */
  watchCarrier?: (interfaces: readonly string[], events: CarrierWatchEvents) => CarrierWatch;
  logger: Logger;
  /** Where alerts go; none when no channel is configured. */
  alerts?: AlertSink;
  /** Problems found before the start (a missing binary), shown in the status and alerted once. */
  problems?: readonly string[];
  /** The monotonic clock, ms (durations, hold-down, backoff). */
  now?: () => number;
  /** The wall clock, ms (what people read). */
  wallNow?: () => number;
  /** Who watches the daemon (metrics, history, the status page, systemd); they never change what it does. */
  observers?: DaemonObserver[];
  /** Overrides of the lifecycle's timing (tests). */
  lifecycle?: Partial<Omit<LifecyclePolicy, "primary">>;
}

/** A link whose routing cannot be prepared (no address yet) is tried again after this long. */
const PREPARE_RETRY_MS = 5_000;
const STATUS_EVERY_MS = 1_000;
const CALLS_EVERY_MS = 5_000;
const PIN_READ_EVERY_MS = 500;
/** How often each link's own address is compared with the one its probes are bound to. */
const ADDRESS_CHECK_EVERY_MS = 10_000;
/** With the kernel's address news: only a safety net. */
const ADDRESS_NET_EVERY_MS = 60_000;

/** A reload waits this long at most for a switch in flight to end. */
const RELOAD_WAIT_MS = 60_000;

/** Monotonic, in the same range as the wall clock at process start: never jumps with it. */
const monotonic = (): number => performance.timeOrigin + performance.now();

export function healthParams(config: Config): HealthParams {
  const { quorum, downAfter, upAfter, windowRounds, quality } = config.monitor;
  return { quorum, downAfter, upAfter, windowRounds, latencyStat: "median", ...(quality ? { quality } : {}) };
}

/**
 * How often a link is probed: the one that carries the office every `intervalMs`; the others every
 * `standbyIntervalMs` only while that one is up and its last round passed. Any doubt about it (a
 * failed round, degraded, down, unknown, no active link) probes every link at the full rate, so the
 * link a switch would go to is known as freshly as the one it leaves.
 */
export function probeInterval(
  link: string,
  active: string | null,
  activeHealth: Pick<LinkHealth, "state" | "failStreak"> | undefined,
  monitor: Pick<Config["monitor"], "intervalMs" | "standbyIntervalMs">,
): number {
  const calm = activeHealth?.state === "up" && activeHealth.failStreak === 0;
  if (link === active || !calm) return monitor.intervalMs;
  return Math.max(monitor.intervalMs, monitor.standbyIntervalMs);
}

export function deciderPolicy(config: Config): DeciderPolicy {
  return {
    failbackHoldDownMs: config.failover.holdDownSeconds * 1000,
    waitForIdleCalls: config.failover.waitForIdleCalls,
    maxCallWaitMs: config.failover.maxCallWaitSeconds * 1000,
    // Long enough for a link that is coming back to finish proving itself.
    recoverySettleMs: config.monitor.upAfter * config.monitor.intervalMs,
  };
}

function lifecyclePolicy(config: Config, deps: DaemonDeps): LifecyclePolicy {
  const primary = [...config.links].sort((a, b) => a.priority - b.priority)[0]!.name;
  return { ...DEFAULT_LIFECYCLE_POLICY, primary, drillNotify: config.drills.notify, ...deps.lifecycle };
}

export class Daemon {
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly health = new Map<string, LinkHealth>();
  private readonly lastReason = new Map<string, string>();
  private monitors: LinkMonitor[] = [];
  private params: HealthParams;
  private deciderPolicy: DeciderPolicy;
  private policy: LifecyclePolicy;
  /** Decisions held while the config is being swapped. */
  private reloading = false;
  private lc: LifecycleState;
  private decision: Decision | undefined;
  private switches = 0;
  private allDown = false;
  private calls: CallCounter | undefined;
  private pinCache: { pin: Pin; at: number; warning?: string } | undefined;
  private control: ControlServer | undefined;
  private drillSchedule: Cron | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private addressTimer: NodeJS.Timeout | undefined;
  private addressCheck: Promise<void> | undefined;
  private addressCheckAgain = false;
  private dueTimer: NodeJS.Timeout | undefined;
  private carrier: CarrierWatch | undefined;
  private egress: EgressWatch | undefined;
  /**
   * The office's path to the Internet through the router (route.backend "none" with
   * monitor.targets). `downAt`: when it went down, on the monotonic clock (told when it is back).
   */
  private gateway: { health: LinkHealth; reason: string | null; downAt: number | null } | undefined;
  private gatewayMonitor: LinkMonitor | undefined;
  /** The way the gateway's probes were built with. */
  private gatewayBound: LinkBinding | undefined;
  /** Runs in flight, to cancel them. */
  private readonly runs = new Map<number, AbortController>();
  /** Route changes and runs in flight, to wait for at stop. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly drillWaiters = new Map<string, (report: DrillReport) => void>();
  /** The address each link's probes are bound to. */
  private readonly boundAddress = new Map<string, string>();
  /** Problems people must see (status) and be told of once (alert). */
  private readonly problems = new Map<string, string>();
  private readonly startedAt: string;
  private stoppedAt: string | undefined;
  private readonly statusWriter: StatusWriter;
  /** Built once: a reload keeps who watches (and their history). */
  private readonly observe: Required<DaemonObserver>;

  constructor(
    private config: Config,
    private deps: DaemonDeps,
  ) {
    this.now = deps.now ?? monotonic;
    this.wallNow = deps.wallNow ?? Date.now;
    this.params = healthParams(config);
    this.deciderPolicy = deciderPolicy(config);
    this.policy = lifecyclePolicy(config, deps);
    this.lc = initialState(config.links.map((l) => l.name));
    this.startedAt = new Date(this.wallNow()).toISOString();
    this.observe = fanOut(deps.observers ?? [], deps.logger);
    this.statusWriter = new StatusWriter(config.stateDir, (error) => this.statusWritten(error));
  }

  get activeLink(): string | null {
    return this.lc.active;
  }

  async start(): Promise<void> {
    const { logger, route } = this.deps;
    // The system says which link is active: a restart never flips anything by itself.
    const active = (await route.activeLink()) ?? null;
    logger.info({ active }, active ? `default route is on ${active}` : "no configured link carries the default route");
    const saved = readState(this.config.stateDir, new Date(this.wallNow()));
    if (saved.warning) this.problem("state", saved.warning);
    const baseline = this.deps.steps?.pbx?.baseline;
    const legacy = saved.legacyTrunks;
    if (legacy && baseline && !baseline.trunksOf(legacy.driver)) baseline.update(legacy.driver, { trunks: legacy });
    if (baseline?.warning) this.problem("baseline", baseline.warning);
    for (const link of this.config.links) this.health.set(link.name, createLinkHealth(link.name, this.now()));
    this.dispatch({ type: "start", active, journal: saved.state.journal, trouble: saved.state.trouble });
    this.startWatching();
    this.statusTimer = setInterval(() => this.writeStatus(), STATUS_EVERY_MS);
    try {
      this.control = await startControlServer(controlSocket(this.config.stateDir), () => this.drill());
    } catch (error) {
      // Failover matters more than the drill: run without the control socket, and say so.
      this.problem("control", `no control socket, so \`wanctl test\` will not work: ${(error as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    await this.observe.stopping();
    await this.control?.close();
    clearInterval(this.statusTimer);
    this.dispatch({ type: "stop" });
    clearTimeout(this.dueTimer);
    await this.stopWatching();
    await Promise.all([...this.inFlight]);
    await this.closeAdapters();
    this.stoppedAt = new Date(this.wallNow()).toISOString();
    this.writeStatus();
    await this.statusWriter.flush();
  }

  /**
   * A new config without a restart (SIGHUP): once no switch or run is in flight (decisions are held
   * meanwhile), the monitors and adapters are rebuilt from it. What the daemon knows stays: the
   * journal, the failing steps, the active link, and the health of every link whose config did not
   * change. `compose` builds the adapters for a config; if it fails, the old config comes back.
   */
  async reload(config: Config, compose: (config: Config) => DaemonDeps): Promise<void> {
    if (config.stateDir !== this.config.stateDir) throw new Error(`stateDir cannot change without a restart (${this.config.stateDir} → ${config.stateDir})`);
    this.reloading = true;
    try {
      for (let waited = 0; (this.lc.routing || this.lc.run || this.lc.drill) && waited < RELOAD_WAIT_MS; waited += 100) await new Promise((r) => setTimeout(r, 100));
      await this.stopWatching();
      await this.closeAdapters();
      const old = this.config;
      let deps: DaemonDeps;
      try {
        deps = compose(config);
      } catch (error) {
        this.problem("config", `the new config could not be put in place, the old one keeps running: ${(error as Error).message}`);
        deps = compose(old);
        config = old;
      }
      const keep = (name: string): boolean => JSON.stringify(old.links.find((l) => l.name === name)) === JSON.stringify(config.links.find((l) => l.name === name)) && JSON.stringify(old.monitor) === JSON.stringify(config.monitor);
      for (const name of [...this.health.keys()]) if (!keep(name)) this.health.delete(name);
      if (JSON.stringify(old.monitor) !== JSON.stringify(config.monitor)) this.gateway = undefined;
      for (const link of config.links) if (!this.health.has(link.name)) this.health.set(link.name, createLinkHealth(link.name, this.now()));
      this.config = config;
      // Who watches stays: they were built once, with the daemon.
      this.deps = { ...deps, now: this.now, wallNow: this.wallNow, observers: this.deps.observers ?? [] };
      this.params = healthParams(config);
      this.deciderPolicy = deciderPolicy(config);
      this.policy = lifecyclePolicy(config, this.deps);
      this.dispatch({ type: "links", links: Object.fromEntries(config.links.map((l) => [l.name, this.health.get(l.name)!.state])) });
      if (config === old) return;
      this.problems.delete("config");
      this.deps.logger.info({ links: config.links.map((l) => l.name) }, "config reloaded");
    } finally {
      this.startWatching();
      this.reloading = false;
      this.writeStatus();
    }
  }

  /** A new config that could not be loaded (SIGHUP): said in the log, the status and an alert; the old one keeps running. */
  configProblem(text: string): void {
    this.problem("config", text);
    this.writeStatus();
  }

  /** The monitors, the call counter, the drill schedule and the address check: what a reload rebuilds. */
  private startWatching(): void {
    for (const problem of this.deps.problems ?? []) this.problem(`host:${problem}`, problem);
    if (this.config.drills.schedule) {
      // Scheduled drills run in the daemon's own time zone, paused while another is running.
      this.drillSchedule = new Cron(this.config.drills.schedule, { protect: true }, () => void this.drill().catch(() => undefined));
    }
    if (this.deps.watchEgress) {
      // The router decides; wanctl follows what it sees of the office's traffic.
      this.egress = this.deps.watchEgress((sample) => this.onEgress(sample));
      this.watchGateway();
      return;
    }
    if (this.config.failover.waitForIdleCalls && this.deps.activeCalls) {
      this.calls = new CallCounter(this.deps.activeCalls, CALLS_EVERY_MS);
      this.calls.start();
    }
    this.monitors = this.config.links.map((link) => {
      const prepare = async (): Promise<LinkBinding> => ({ name: link.name, interface: link.interface, sourceAddress: await this.deps.route.prepareLink(link.name) });
      const monitor = new LinkMonitor({
        link: link.name,
        intervalMs: this.config.monitor.intervalMs,
        now: this.now,
        probes: this.probeFactory(link.name, prepare, (bound) => this.boundAddress.set(link.name, bound.sourceAddress)),
        onRound: (name, results, at) => this.onRound(name, results, at),
        onError: (error) => this.deps.logger.error({ link: link.name, err: (error as Error).stack }, `round of ${link.name} failed: ${(error as Error).message}`),
      });
      monitor.start();
      return monitor;
    });
    this.carrier = this.deps.watchCarrier?.(this.config.links.map((l) => l.interface), {
      onChange: (change) => this.onCarrier(change),
      onAddress: () => void this.followAddressChanges(),
      onError: (message) => this.deps.logger.warn({ carrier: message }, message),
    });
    // The kernel tells of new addresses; asking `ip` now and then stays as a net (a monitor that
    // died and is starting again), at a pace that costs nothing.
    const checkEvery = this.deps.addressCheckMs ?? (this.carrier ? ADDRESS_NET_EVERY_MS : ADDRESS_CHECK_EVERY_MS);
    this.addressTimer = setInterval(() => void this.followAddressChanges(), checkEvery);
  }

  /** The probes of monitor.targets through the router's default route, when wanctl follows a router. */
  private watchGateway(): void {
    const path = this.deps.gatewayPath;
    if (!path || this.config.monitor.targets.length === 0) {
      this.gateway = undefined;
      return;
    }
    this.gateway ??= { health: createLinkHealth(GATEWAY_PATH, this.now()), reason: null, downAt: null };
    this.gatewayMonitor = new LinkMonitor({
      link: GATEWAY_PATH,
      intervalMs: this.config.monitor.intervalMs,
      now: this.now,
      probes: this.probeFactory(GATEWAY_PATH, path, (bound) => (this.gatewayBound = bound)),
      onRound: (_name, results, at) => this.onGatewayRound(results, at),
      onError: (error) => this.deps.logger.error({ err: (error as Error).stack }, `round of the gateway's probes failed: ${(error as Error).message}`),
    });
    this.gatewayMonitor.start();
    this.addressTimer = setInterval(() => void this.followGatewayPath(), this.deps.addressCheckMs ?? ADDRESS_CHECK_EVERY_MS);
  }

  private async stopWatching(): Promise<void> {
    await this.egress?.stop();
    this.egress = undefined;
    await this.gatewayMonitor?.stop();
    this.gatewayMonitor = undefined;
    this.gatewayBound = undefined;
    await this.carrier?.stop();
    this.carrier = undefined;
    this.drillSchedule?.stop();
    this.drillSchedule = undefined;
    clearInterval(this.addressTimer);
    this.calls?.stop();
    this.calls = undefined;
    await Promise.all(this.monitors.map((m) => m.stop()));
    this.monitors = [];
    this.boundAddress.clear();
  }

  private async closeAdapters(): Promise<void> {
    await this.deps.close?.();
    await this.deps.alerts?.stop();
  }

  // --- the lifecycle and its effects -----------------------------------------------------------------

  private dispatch(event: LifecycleEvent): void {
    const before = this.lc;
    const { state, effects } = step(this.lc, event, { mono: this.now(), wall: this.wallNow() }, this.policy);
    this.lc = state;
    this.tellSwitches(before, state);
    for (const effect of effects) this.perform(effect);
    this.armDueTimer();
    this.paceMonitors();
  }

  /** Each link's probing pace follows the active link and how it is doing (see probeInterval). */
  private paceMonitors(): void {
    const active = this.lc.active;
    const activeHealth = active === null ? undefined : this.health.get(active);
    for (const monitor of this.monitors) monitor.setInterval(probeInterval(monitor.link, active, activeHealth, this.config.monitor));
  }

  /** Observers hear of a switch when its first run (or its failed route) ends, and of each repair run. */
  private tellSwitches(before: LifecycleState, after: LifecycleState): void {
    for (const record of after.journal) {
      const was = before.journal.find((r) => r.id === record.id);
      if (!was || was === record) continue;
      const ended = (was.status === "routing" || was.status === "following") && record.status !== "routing" && record.status !== "following";
      if (ended) this.observe.switched(reportOf(record), record.drill ? "drill" : "decision");
      else if (record.repairs > was.repairs) this.observe.switched(reportOf(record), "repair");
    }
  }

  private perform(effect: Effect): void {
    switch (effect.type) {
      case "activateRoute":
        return this.track(this.activateRoute(effect.switchId, effect.to));
      case "converge":
        return this.track(this.converge(effect.run));
      case "cancelRun":
        return this.runs.get(effect.runId)?.abort(effect.reason);
      case "alert": {
        const alert = lifecycleAlert(effect.alert, linkFigures(this.health.values()), this.wallNow());
        this.deps.alerts?.enqueue(alert);
        if (effect.alert.kind === "switch" || effect.alert.kind === "interrupted") {
          const r = effect.alert.report;
          this.deps.logger[r.ok ? "info" : "error"]({ report: r }, `${r.kind} to ${r.to} ${r.ok ? "done" : "FAILED"} in ${r.durationMs} ms${effect.alert.kind === "interrupted" ? " (interrupted by a restart)" : ""}`);
        } else if (effect.alert.kind !== "drill") {
          this.deps.logger[effect.alert.kind === "repaired" ? "info" : "warn"]({ alert: effect.alert }, alert.reason);
        }
        return;
      }
      case "persist":
        return this.persist();
      case "writeStatus":
        return this.writeStatus();
      case "drillDone": {
        const r = effect.report;
        if (!r.refused) this.deps.logger[r.ok ? "info" : "error"]({ report: r }, `drill ${r.ok ? "passed" : "FAILED"} in ${r.durationMs} ms`);
        else this.deps.logger.warn({ why: r.refused }, `drill refused: ${r.refused}`);
        this.observe.drilled(r);
        this.drillWaiters.get(effect.requestId)?.(r);
        this.drillWaiters.delete(effect.requestId);
        return;
      }
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      // Never expected (every step catches its own errors), but a daemon must not die of it.
      this.deps.logger.error({ err: (error as Error).stack }, `unexpected error: ${(error as Error).message}`);
    });
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private async activateRoute(switchId: string, to: string): Promise<void> {
    const record = this.lc.journal.find((r) => r.id === switchId);
    if (record) this.deps.logger.warn({ from: record.from, to, kind: record.kind }, `${record.kind}: ${record.from ?? "none"} → ${to}: ${record.reason}`);
    const result = await runStep("route", ROUTE_STEP_TIMEOUT_MS, async () => {
      await this.deps.route.activate(to);
      return this.deps.route.follows ? `the router carries the office on ${to}` : `default route via ${to}`;
    });
    // A failed or timed-out route change may still have moved the route: believe the kernel.
    const active = result.ok ? to : ((await this.deps.route.activeLink().catch(() => undefined)) ?? this.lc.active);
    if (result.ok) this.switches++;
    else if (active !== this.lc.active) this.deps.logger.warn({ active }, `the default route is on ${active} although the switch failed`);
    this.dispatch({ type: "routeDone", switchId, result: this.scrub(result), active });
  }

  private async converge(run: ConvergeRun): Promise<void> {
    const controller = new AbortController();
    this.runs.set(run.id, controller);
    let results: StepResult[] = [];
    try {
      const { steps, context } = convergeSteps({ route: this.deps.route, publicAddress: () => Promise.reject(new Error("no public address source")), ...this.deps.steps }, run);
      results = (await runPipeline(steps, context, controller.signal)).map((r) => this.scrub(r));
    } finally {
      this.runs.delete(run.id);
    }
    const failed = results.filter((r) => !r.ok);
    if (run.cause !== "switch" || failed.length) {
      const level = failed.length ? "warn" : "info";
      this.deps.logger[level]({ run, results }, `${run.cause} run on ${run.link}: ${failed.length ? `${failed.map((r) => r.step).join(", ")} failed` : results.some((r) => r.changed) ? "mended what differed" : "all as it should be"}`);
    }
    this.dispatch({ type: "runDone", runId: run.id, results });
  }

  /** Secrets are scrubbed once, here, where adapters' words enter the daemon. */
  private scrub(result: StepResult): StepResult {
    return { ...result, detail: scrubText(result.detail, this.deps.secrets ?? []) };
  }

  private armDueTimer(): void {
    clearTimeout(this.dueTimer);
    const due = this.lc.dueAt;
    if (due === null || this.lc.stopping) return;
    this.dueTimer = setTimeout(() => this.dispatch({ type: "tick" }), Math.max(0, due - this.now()));
  }

  private persist(): void {
    try {
      writeState(this.config.stateDir, { journal: [...this.lc.journal], trouble: this.lc.trouble });
      this.problems.delete("persist");
    } catch (error) {
      this.problem("persist", `state.json cannot be written (${(error as Error).message}): wanctl goes on with its state in memory; a restart now would not know the switch in progress`);
    }
  }

  /** A problem of wanctl's own: logged, shown in the status, alerted once while it lasts. */
  private problem(key: string, text: string): void {
    if (this.problems.get(key) === text) return;
    const first = !this.problems.has(key);
    this.problems.set(key, text);
    this.deps.logger.error({ problem: key }, text);
    if (first) this.deps.alerts?.enqueue(problemAlert(text, this.wallNow()));
  }

  // --- monitoring and deciding ---------------------------------------------------------------------

  /** A monitor's probes: `prepare` says the way they leave by (and may fail for a while: retried every 5 s). */
  private probeFactory(name: string, prepare: () => Promise<LinkBinding>, bound: (link: LinkBinding) => void): () => Promise<Probe[]> {
    let retryAt = 0;
    let lastWarning = "";
    return async () => {
      if (this.now() < retryAt) throw new Error(`link ${name} is not ready`);
      try {
        const link = await prepare();
        bound(link);
        this.deps.logger.info({ link: name, sourceAddress: link.sourceAddress, interface: link.interface }, `probing ${name} from ${link.sourceAddress}`);
        lastWarning = "";
        return this.deps.makeProbes(link);
      } catch (error) {
        retryAt = this.now() + PREPARE_RETRY_MS;
        const message = `cannot probe ${name} yet: ${(error as Error).message}`;
        // Said once, not every 5 s: it is in the status for as long as it lasts.
        if (message !== lastWarning) this.deps.logger.warn({ link: name, err: (error as Error).message }, message);
        lastWarning = message;
        throw error;
      }
    };
  }

  /**
   * A link whose address changed (DHCP, PPP) gets new probes and routing rules: probes bound to the
   * old address would report a healthy link down. One check at a time: the kernel's news come in
   * bursts (the old address deleted, the new one added), and a check asked for meanwhile runs once
   * more when this one has ended.
   */
  private followAddressChanges(): Promise<void> {
    if (this.addressCheck) {
      this.addressCheckAgain = true;
      return this.addressCheck;
    }
    this.addressCheck = (async () => {
      // Bounded: a kernel that keeps changing the address is checked again on the next news or tick.
      for (let pass = 0; pass < 3 && (pass === 0 || this.addressCheckAgain); pass++) {
        this.addressCheckAgain = false;
        await this.checkAddresses();
      }
    })().finally(() => (this.addressCheck = undefined));
    return this.addressCheck;
  }

  private async checkAddresses(): Promise<void> {
    const { route, logger } = this.deps;
    if (!route.linkAddress) return;
    for (const [index, link] of this.config.links.entries()) {
      const bound = this.boundAddress.get(link.name);
      if (bound === undefined) continue;
      const now = await route.linkAddress(link.name).catch(() => undefined);
      if (now === bound) continue;
      logger.warn({ link: link.name, was: bound, now: now ?? null }, `${link.name}'s address changed from ${bound} to ${now ?? "none"}: probing it anew`);
      this.boundAddress.delete(link.name);
      await this.monitors[index]?.rebuild();
    }
  }

  /** The way out through the router changed (the host's address, its default route): the gateway's probes are built anew. */
  private async followGatewayPath(): Promise<void> {
    const { gatewayBound: bound, gatewayMonitor: monitor } = this;
    const path = this.deps.gatewayPath;
    if (!bound || !path || !monitor) return;
    const now = await path().catch(() => undefined); // no way at all: the probes say so
    if (!now || (now.interface === bound.interface && now.sourceAddress === bound.sourceAddress)) return;
    this.deps.logger.warn({ was: bound, now }, `the way out through the router changed from ${bound.interface} ${bound.sourceAddress} to ${now.interface} ${now.sourceAddress}: probing it anew`);
    if (this.gatewayMonitor !== monitor) return; // stopped meanwhile (a reload)
    this.gatewayBound = undefined;
    await monitor.rebuild();
  }

  /**
   * A round of the gateway's probes. The path going down is alerted (the office has no Internet
   * through the router, and the router is about to switch, or cannot), and its coming back too; a
   * change either way makes the egress watch look at once, since that is when a switch shows.
   */
  private onGatewayRound(results: ProbeResult[], at: number): void {
    const current = this.gateway;
    if (!current) return;
    const { health, event } = recordRound(current.health, results, at, this.params);
    current.health = health;
    if (!event) return;
    current.reason = event.reason;
    const down = event.to === "down";
    this.deps.logger[down ? "warn" : "info"]({ gateway: { from: event.from, to: event.to, metrics: event.metrics } }, `the way out through the router is ${event.to}: ${event.reason}`);
    const figures = linkFigures([health, ...this.health.values()]); // the gateway's health is named GATEWAY_PATH
    if (down) {
      current.downAt = at;
      this.deps.alerts?.enqueue(gatewayAlert("down", this.lc.active, `no answer through the router: ${event.reason}`, figures, this.wallNow()));
    } else if (event.from === "down") {
      const wall = this.wallNow();
      const lasted = current.downAt === null ? "" : ` after ${Math.round((at - current.downAt) / 1000)} s down`;
      current.downAt = null;
      this.deps.alerts?.enqueue(gatewayAlert("up", this.lc.active, `the way out through the router answers again${lasted}: ${event.reason}`, figures, wall));
      this.deps.alerts?.retryNow(); // what waited for a way out can go now
    }
    if (down || event.from === "down") this.egress?.lookNow();
    this.writeStatus();
  }

  private onRound(link: string, results: ProbeResult[], at: number): void {
    const current = this.health.get(link);
    if (!current) return;
    const next = recordRound(current, results, at, this.params);
    this.observe.round(link, results, next.health, at);
    this.onHealth(link, next, at);
  }

  /**
   * What the office's traffic leaves by, as the egress watch sees it: that link is up, the one it
   * left is not known any more (the router knows why), and a move is followed at once.
   */
  private onEgress(sample: EgressSample): void {
    const at = this.now();
    this.observe.egress(sample, at);
    if (sample.link === null) {
      if (sample.address === null) {
        for (const l of this.config.links) {
          const h = this.health.get(l.name);
          if (h && l.name === this.lc.active) this.onHealth(l.name, observedState(h, "down", `no way out: ${sample.detail}`, at), at);
        }
      } else {
        this.problem("egress", `the office's traffic leaves with ${sample.address}, which is no configured link's address (${sample.detail})`);
      }
      return;
    }
    this.problems.delete("egress");
    for (const l of this.config.links) {
      const h = this.health.get(l.name);
      if (!h) continue;
      if (l.name === sample.link) this.onHealth(l.name, observedState(h, "up", `the office's traffic leaves by it (${sample.address})`, at), at);
      else if (h.state !== "unknown") this.onHealth(l.name, observedState(h, "unknown", `the router moved the office to ${sample.link}`, at), at);
    }
    if (sample.link === this.lc.active || this.reloading || !takesDecisions(this.lc)) return;
    const from = this.lc.active;
    const rank = (name: string | null) => this.config.links.find((l) => l.name === name)?.priority ?? Number.POSITIVE_INFINITY;
    const kind = rank(sample.link) < rank(from) ? "failback" : "failover";
    this.dispatch({ type: "decision", to: sample.link, from, kind, reason: `the router moved the office to ${sample.link}: its traffic now leaves with ${sample.address}` });
  }

  /** A link's carrier went away: it is down now, and the decider hears of it at once. */
  private onCarrier(change: CarrierChange): void {
    if (change.up) return; // its probe rounds bring it back up, with the usual hysteresis
    const link = this.config.links.find((l) => l.interface === change.iface);
    const current = link && this.health.get(link.name);
    if (!link || !current) return;
    const at = this.now();
    this.onHealth(link.name, carrierLost(current, change.iface, at), at);
  }

  private onHealth(link: string, { health, event }: HealthStepResult, at: number): void {
    this.health.set(link, health);
    if (event) {
      this.lastReason.set(link, event.reason);
      const level = event.to === "down" ? "warn" : "info";
      this.deps.logger[level]({ link, from: event.from, to: event.to, metrics: event.metrics }, `${link} ${event.to}: ${event.reason}`);
      if (event.from === "down") this.deps.alerts?.retryNow();
      this.dispatch({ type: "health", link, state: event.to });
      this.noticeAllDown();
    }
    if (!this.deps.watchEgress) this.evaluate(at);
    this.paceMonitors();
    // After the decision, so the status shows the state and the reason that go together.
    if (event) this.writeStatus();
  }

  /** One alert when the last link goes down (not one per round while they stay down). */
  private noticeAllDown(): void {
    const allDown = [...this.health.values()].every((h) => h.state === "down");
    if (allDown && !this.allDown) {
      const reason = `all links down: staying on ${this.lc.active ?? "no link"}`;
      this.deps.logger.error({ links: linkFigures(this.health.values()) }, reason);
      this.deps.alerts?.enqueue(allDownAlert(this.lc.active, reason, linkFigures(this.health.values()), this.wallNow()));
    }
    this.allDown = allDown;
  }

  private evaluate(now: number): void {
    if (this.reloading || !takesDecisions(this.lc)) return;
    const decision = decide({
      links: this.config.links,
      health: Object.fromEntries(this.health),
      active: this.lc.active,
      pin: this.pin(),
      policy: this.deciderPolicy,
      activeCalls: this.calls ? this.calls.current : 0,
      now,
    });
    if (decision.reason !== this.decision?.reason) this.deps.logger.debug({ decision }, decision.reason);
    this.decision = decision;
    if (decision.action === "switch") this.dispatch({ type: "decision", to: decision.to, from: decision.from, kind: decision.kind, reason: decision.reason });
  }

  /**
   * The failover drill: to the best backup link and back, every step carried out for real,
   * decisions held meanwhile. Refused when the office is not in a state to prove anything.
   */
  drill(): Promise<DrillReport> {
    const requestId = randomUUID();
    const done = new Promise<DrillReport>((resolve) => this.drillWaiters.set(requestId, resolve));
    this.dispatch({ type: "drill", requestId, pinned: this.pin().mode === "pinned", ...(this.deps.route.follows ? { inPlace: true } : {}) });
    return done;
  }

  /**
   * The operator's pin. `wanctl use` writes it to a file; it is read at most every half second,
   * not on every probe round of every link.
   */
  private pin(): Pin {
    const now = this.now();
    if (!this.pinCache || now - this.pinCache.at >= PIN_READ_EVERY_MS) {
      const { pin, warning } = readPin(this.config.stateDir);
      if (warning && warning !== this.pinCache?.warning) this.deps.logger.warn(warning);
      this.pinCache = { pin, at: now, ...(warning ? { warning } : {}) };
    }
    return this.pinCache.pin;
  }

  // --- status --------------------------------------------------------------------------------------

  status(): DaemonStatus {
    const running = inProgress(this.lc);
    const last = lastSwitch(this.lc);
    const mono = this.now();
    const wall = this.wallNow();
    return buildStatus({
      links: this.config.links,
      health: this.health,
      reasons: this.lastReason,
      active: this.lc.active,
      pin: this.pin(),
      decision: this.decision,
      switches: this.switches,
      switching: running ? { from: running.from, to: running.to, kind: running.kind, startedAt: running.startedAt } : null,
      lastSwitch: last ? reportOf(last) : null,
      pid: process.pid,
      startedAt: this.startedAt,
      stoppedAt: this.stoppedAt,
      now: wall,
      // The health clock is monotonic: its instants are shown at the wall time they correspond to.
      wallOf: (monoMs) => wall - (mono - monoMs),
      pending: running ? null : pendingSteps(this.lc),
      ...(this.deps.steps?.pbx ? { trunksShortened: this.lc.active !== null && this.lc.active !== this.policy.primary } : {}),
      mends: this.lc.mends.map((m) => ({ ...m, what: [...m.what] })),
      problems: [...this.problems.values()],
      ...(this.gateway ? { gateway: { health: this.gateway.health, reason: this.gateway.reason } } : {}),
      ...(this.deps.alerts?.status ? { alerts: this.deps.alerts.status().map(({ channel, queued, attempts, lastError }) => ({ channel, queued, attempts, ...(lastError ? { lastError } : {}) })) } : {}),
    });
  }

  private writeStatus(): void {
    const status = this.status();
    this.observe.status(status);
    this.statusWriter.write(status);
  }

  private statusWritten(error: Error | undefined): void {
    if (error) this.problem("status", `cannot write the status file, so \`wanctl status\` shows an old one: ${error.message}`);
    else this.problems.delete("status");
  }
}
