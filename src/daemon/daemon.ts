// The daemon: link monitors feed the pure health machines, the pure decider chooses the link, and
// the failover pipeline carries the decision out. Every effect goes through an injected adapter.
import type { Config } from "../config/schema/index.js";
import type { Logger } from "../log.js";
import { createLinkHealth, recordRound, type HealthParams, type LinkHealth } from "../wan/health.js";
import type { Probe, ProbeResult, LinkBinding } from "../wan/probes/types.js";
import type { RouteBackend } from "../wan/route/backend.js";
import { alertFromReport, allDownAlert, linkFigures, type AlertSink } from "./alerts.js";
import { decide, type Decision, type DeciderPolicy } from "./decider.js";
import { LinkMonitor } from "./link-monitor.js";
import { readPin, type Pin } from "./pin.js";
import type { FailoverReport } from "./report.js";
import { Switcher, type SwitchAdaptersWithoutState } from "./switcher.js";
import { Cron } from "croner";
import { CallCounter } from "./call-counter.js";
import { controlSocket, startControlServer, type ControlServer } from "./control.js";
import { drillAlert, runDrill, type DrillReport } from "./drill.js";
import { writeStatus, type DaemonStatus } from "./status-file.js";
import { buildStatus } from "./status-view.js";
import { fanOut, type DaemonObserver } from "./observer.js";

export interface DaemonDeps {
  route: RouteBackend;
  /** What a switch does after the route (public IP, DNS, Asterisk); the route alone without it. */
  steps?: Omit<SwitchAdaptersWithoutState, "route">;
  /** Calls up now (for call-aware failback); null when unknown. */
  activeCalls?: () => Promise<number | null>;
  /** Secret values of the config: scrubbed from step details before they reach status, logs or alerts. */
  secrets?: readonly string[];
  /** How often to look for a changed link address (default 10 s). */
  addressCheckMs?: number;
  /** Releases what the adapters hold (the AMI connection), at stop. */
  close?: () => Promise<void>;
  makeProbes: (link: LinkBinding) => Probe[];
  logger: Logger;
  /** Where alerts go; none when no channel is configured. */
  alerts?: AlertSink;
  now?: () => number;
  /** Who watches the daemon (metrics, history, status page, systemd); they never change what it does. */
  observers?: DaemonObserver[];
}

/** A link whose routing cannot be prepared (no address yet) is tried again after this long. */
const PREPARE_RETRY_MS = 5_000;
/** After a failed switch, the same switch is not tried again before this long. */
const SWITCH_RETRY_MS = 5_000;
const STATUS_EVERY_MS = 1_000;
const CALLS_EVERY_MS = 5_000;
const PIN_READ_EVERY_MS = 500;
/** How often each link's own address is compared with the one its probes are bound to. */
const ADDRESS_CHECK_EVERY_MS = 10_000;

export function healthParams(config: Config): HealthParams {
  const { quorum, downAfter, upAfter, windowRounds, quality } = config.monitor;
  return { quorum, downAfter, upAfter, windowRounds, latencyStat: "median", ...(quality ? { quality } : {}) };
}

export function deciderPolicy(config: Config): DeciderPolicy {
  return {
    failbackHoldDownMs: config.failover.holdDownSeconds * 1000,
    waitForIdleCalls: config.failover.waitForIdleCalls,
    maxCallWaitMs: config.failover.maxCallWaitSeconds * 1000,
  };
}

export class Daemon {
  private readonly now: () => number;
  private readonly health = new Map<string, LinkHealth>();
  private readonly lastReason = new Map<string, string>();
  private readonly monitors: LinkMonitor[] = [];
  private readonly params: HealthParams;
  private readonly policy: DeciderPolicy;
  private active: string | null = null;
  private decision: Decision | undefined;
  private switching = false;
  private failedSwitch: { to: string; at: number } | undefined;
  private lastReport: FailoverReport | null = null;
  private inProgress: DaemonStatus["switching"] = null;
  private switches = 0;
  private statusTimer: NodeJS.Timeout | undefined;
  private allDown = false;
  private readonly switcher: Switcher;
  private calls: CallCounter | undefined;
  private drilling = false;
  private pinCache: { pin: Pin; at: number; warning?: string } | undefined;
  private control: ControlServer | undefined;
  private drillSchedule: Cron | undefined;
  private addressTimer: NodeJS.Timeout | undefined;
  /** The address each link's probes are bound to. */
  private readonly boundAddress = new Map<string, string>();
  private readonly startedAt: string;
  private stoppedAt: string | undefined;
  private readonly observe: Required<DaemonObserver>;

  constructor(
    private readonly config: Config,
    private readonly deps: DaemonDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.params = healthParams(config);
    this.policy = deciderPolicy(config);
    this.startedAt = new Date(this.now()).toISOString();
    this.observe = fanOut(deps.observers ?? [], deps.logger);
    const primaryLink = [...config.links].sort((a, b) => a.priority - b.priority)[0]!.name;
    this.switcher = new Switcher({
      stateDir: config.stateDir,
      primaryLink,
      adapters: { route: deps.route, publicAddress: async () => Promise.reject(new Error("no public address source")), ...deps.steps },
      logger: deps.logger,
      secrets: deps.secrets ?? [],
      now: this.now,
      onRepair: (report) => {
        this.lastReport = report;
        // --- observers
        this.observe.switched(report, "repair");
        // ---
        if (!report.ok) this.deps.alerts?.enqueue(alertFromReport(report, linkFigures(this.health.values()), Date.parse(report.startedAt)));
        this.writeStatus();
      },
    });
  }

  get activeLink(): string | null {
    return this.active;
  }

  async start(): Promise<void> {
    const { logger, route } = this.deps;
    // The system says which link is active: a restart never flips anything by itself.
    this.active = (await route.activeLink()) ?? null;
    logger.info({ active: this.active }, this.active ? `default route is on ${this.active}` : "no configured link carries the default route");
    this.switcher.resume(this.active);
    if (this.config.failover.waitForIdleCalls && this.deps.activeCalls) {
      this.calls = new CallCounter(this.deps.activeCalls, CALLS_EVERY_MS);
      this.calls.start();
    }
    for (const link of this.config.links) {
      this.health.set(link.name, createLinkHealth(link.name, this.now()));
      const monitor = new LinkMonitor({
        link: link.name,
        intervalMs: this.config.monitor.intervalMs,
        now: this.now,
        probes: this.probeFactory(link.name, link.interface),
        onRound: (name, results, at) => this.onRound(name, results, at),
        onError: (error) => this.deps.logger.error({ link: link.name, err: (error as Error).stack }, `round of ${link.name} failed: ${(error as Error).message}`),
      });
      this.monitors.push(monitor);
      monitor.start();
    }
    this.writeStatus();
    this.statusTimer = setInterval(() => this.writeStatus(), STATUS_EVERY_MS);
    try {
      this.control = await startControlServer(controlSocket(this.config.stateDir), () => this.drill());
    } catch (error) {
      // Failover matters more than the drill: run without the control socket, and say so.
      this.deps.logger.error({ err: (error as Error).message }, `no control socket (wanctl test will not work): ${(error as Error).message}`);
    }
    if (this.config.drills.schedule) {
      // Scheduled drills run in the daemon's own time zone, paused while another is running.
      this.drillSchedule = new Cron(this.config.drills.schedule, { protect: true }, () => void this.drill().catch(() => undefined));
    }
    this.addressTimer = setInterval(() => void this.followAddressChanges(), this.deps.addressCheckMs ?? ADDRESS_CHECK_EVERY_MS);
  }

  async stop(): Promise<void> {
    // --- observers
    await this.observe.stopping();
    // ---
    this.drillSchedule?.stop();
    await this.control?.close();
    clearInterval(this.statusTimer);
    clearInterval(this.addressTimer);
    this.calls?.stop();
    await Promise.all(this.monitors.map((m) => m.stop()));
    await this.switcher.stop();
    await this.deps.close?.();
    await this.deps.alerts?.stop();
    this.writeStatus();
  }

  private probeFactory(name: string, iface: string): () => Promise<Probe[]> {
    let retryAt = 0;
    return async () => {
      if (this.now() < retryAt) throw new Error(`link ${name} is not ready`);
      try {
        const sourceAddress = await this.deps.route.prepareLink(name);
        this.boundAddress.set(name, sourceAddress);
        this.deps.logger.info({ link: name, sourceAddress }, `probing ${name} from ${sourceAddress}`);
        return this.deps.makeProbes({ name, interface: iface, sourceAddress });
      } catch (error) {
        retryAt = this.now() + PREPARE_RETRY_MS;
        this.deps.logger.warn({ link: name, err: (error as Error).message }, `cannot probe ${name} yet: ${(error as Error).message}`);
        throw error;
      }
    };
  }

  /**
   * A link whose address changed (DHCP, PPP) gets new probes and routing rules: probes bound to the
   * old address would report a healthy link down.
   */
  private async followAddressChanges(): Promise<void> {
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

  private onRound(link: string, results: ProbeResult[], at: number): void {
    const current = this.health.get(link);
    if (!current) return;
    const { health, event } = recordRound(current, results, at, this.params);
    this.health.set(link, health);
    // --- observers
    this.observe.round(link, results, health, at);
    // ---
    if (event) {
      this.lastReason.set(link, event.reason);
      const level = event.to === "down" ? "warn" : "info";
      this.deps.logger[level]({ link, from: event.from, to: event.to, metrics: event.metrics }, `${link} ${event.to}: ${event.reason}`);
      if (event.from === "down") this.deps.alerts?.retryNow();
      this.noticeAllDown(at);
    }
    this.evaluate(at);
    // After the decision, so the status shows the state and the reason that go together.
    if (event) this.writeStatus();
  }

  /** One alert when the last link goes down (not one per round while they stay down). */
  private noticeAllDown(at: number): void {
    const allDown = [...this.health.values()].every((h) => h.state === "down");
    if (allDown && !this.allDown) {
      const reason = `all links down: staying on ${this.active ?? "no link"}`;
      this.deps.logger.error({ links: linkFigures(this.health.values()) }, reason);
      this.deps.alerts?.enqueue(allDownAlert(this.active, reason, linkFigures(this.health.values()), at));
    }
    this.allDown = allDown;
  }

  private evaluate(now: number): void {
    if (this.switching || this.drilling) return;
    const decision = decide({
      links: this.config.links,
      health: Object.fromEntries(this.health),
      active: this.active,
      pin: this.pin(),
      policy: this.policy,
      activeCalls: this.calls ? this.calls.current : 0,
      now,
    });
    if (decision.reason !== this.decision?.reason) this.deps.logger.debug({ decision }, decision.reason);
    this.decision = decision;
    if (decision.action !== "switch") return;
    if (this.failedSwitch?.to === decision.to && now - this.failedSwitch.at < SWITCH_RETRY_MS) return;
    this.runSwitch(decision).catch((error: unknown) => {
      // Never expected (every step catches its own errors), but a daemon must not die of it.
      this.switching = false;
      this.deps.logger.error({ err: (error as Error).stack }, `switch to ${decision.to} failed unexpectedly: ${(error as Error).message}`);
    });
  }

  private async runSwitch(decision: Extract<Decision, { action: "switch" }>, options: { alert?: boolean } = {}): Promise<FailoverReport> {
    this.switching = true;
    const { logger } = this.deps;
    logger.warn({ from: decision.from, to: decision.to, kind: decision.kind }, `${decision.kind}: ${decision.from ?? "none"} → ${decision.to}: ${decision.reason}`);
    const { routed, report: finished } = this.switcher.switchTo(decision.to, decision.from, decision.kind, decision.reason);
    const inProgress = { from: decision.from, to: decision.to, kind: decision.kind, startedAt: new Date(this.now()).toISOString() };
    this.inProgress = inProgress;
    const route = await routed;
    if (route.ok) {
      this.active = decision.to;
      this.switches++;
      this.failedSwitch = undefined;
    } else {
      this.failedSwitch = { to: decision.to, at: this.now() };
      // A failed or timed-out route step may still have moved the route: believe the kernel.
      const actual = await this.deps.route.activeLink().catch(() => undefined);
      if (actual !== undefined && actual !== this.active) {
        logger.warn({ actual }, `the default route is on ${actual} although the switch failed`);
        this.active = actual;
      }
    }
    // Decisions go on while DNS, Asterisk and the trunks follow: the new link may fail meanwhile.
    this.switching = false;
    this.writeStatus();
    const report = await finished;
    if (this.inProgress === inProgress) this.inProgress = null;
    this.lastReport = report;
    // --- observers
    this.observe.switched(report, this.drilling ? "drill" : "decision");
    // ---
    if (options.alert !== false) this.deps.alerts?.enqueue(alertFromReport(report, linkFigures(this.health.values()), Date.parse(report.startedAt)));
    logger[report.ok ? "info" : "error"]({ report }, `${report.kind} to ${report.to} ${report.ok ? "done" : "FAILED"} in ${report.durationMs} ms`);
    this.writeStatus();
    return report;
  }

  /**
   * The failover drill: to the best backup link and back, every step carried out for real, decisions
   * held meanwhile (the decider would otherwise fail back at once). Refused when the office is not
   * in a state to prove anything (a link down, a switch running, steps pending, a pin).
   */
  async drill(): Promise<DrillReport> {
    const report = await runDrill({
      now: this.now,
      logger: this.deps.logger,
      links: this.config.links,
      health: this.health,
      active: () => this.active,
      busy: () => (this.switching || this.drilling || this.inProgress ? "a switch is running" : this.switcher.view().pending ? "steps of the last switch are still being retried" : undefined),
      pinned: () => this.pin().mode === "pinned",
      hold: (on) => {
        this.drilling = on;
      },
      move: (to, from, reason) => this.runSwitch({ action: "switch", to, from, kind: "manual", reason }, { alert: false }),
      alert: (report) => {
        if (this.config.drills.notify) this.deps.alerts?.enqueue(drillAlert(report, linkFigures(this.health.values())));
      },
    });
    // --- observers
    this.observe.drilled(report);
    // ---
    return report;
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

  status(): DaemonStatus {
    return buildStatus({
      links: this.config.links,
      health: this.health,
      reasons: this.lastReason,
      active: this.active,
      pin: this.pin(),
      decision: this.decision,
      switches: this.switches,
      switching: this.inProgress,
      lastSwitch: this.lastReport,
      pid: process.pid,
      startedAt: this.startedAt,
      stoppedAt: this.stoppedAt,
      now: this.now(),
      // While a switch runs its later steps, they are not "pending" yet.
      ...(this.inProgress ? {} : this.switcher.view()),
      ...(this.deps.alerts?.status ? { alerts: this.deps.alerts.status().map(({ channel, queued, attempts, lastError }) => ({ channel, queued, attempts, ...(lastError ? { lastError } : {}) })) } : {}),
    });
  }

  private writeStatus(): void {
    try {
      const status = this.status();
      // --- observers
      this.observe.status(status);
      // ---
      writeStatus(this.config.stateDir, status);
    } catch (error) {
      this.deps.logger.error({ err: (error as Error).message }, `cannot write the status file: ${(error as Error).message}`);
    }
  }
}
