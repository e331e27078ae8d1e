// Carries out a switch: runs the pipeline, keeps what must survive a restart (trunk settings to put
// back, steps not yet done), and runs failed steps again with backoff while the office stays on
// that link. The daemon decides; the switcher does.
import type { Logger } from "../log.js";
import type { SwitchKind } from "./decider.js";
import { switchSteps, stepsToRepeat, type SwitchAdapters, type SwitchContext } from "./failover-steps.js";
import { runPipeline } from "./pipeline.js";
import type { FailoverReport, StepResult } from "./report.js";
import { readState, writeState, type DaemonState } from "./state.js";

export type SwitchAdaptersWithoutState = Omit<SwitchAdapters, "pbx"> & {
  pbx?: Omit<NonNullable<SwitchAdapters["pbx"]>, "savedTrunks" | "setSavedTrunks">;
};

export interface SwitcherOptions {
  stateDir: string;
  primaryLink: string;
  adapters: SwitchAdaptersWithoutState;
  logger: Logger;
  /** A repair run finished (its report), for alerts and status. */
  onRepair?: (report: FailoverReport) => void;
  now?: () => number;
  /** Backoff of repair runs: first delay, doubling up to the maximum; bounded in count. */
  repair?: { firstDelayMs: number; maxDelayMs: number; maxAttempts: number };
}

const DEFAULT_REPAIR = { firstDelayMs: 5_000, maxDelayMs: 60_000, maxAttempts: 30 };

export class Switcher {
  private state: DaemonState;
  private readonly adapters: SwitchAdapters;
  private repairTimer: NodeJS.Timeout | undefined;
  private repairAttempt = 0;
  private repairing: Promise<void> | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly repairPolicy: typeof DEFAULT_REPAIR;

  constructor(private readonly options: SwitcherOptions) {
    this.now = options.now ?? Date.now;
    this.repairPolicy = options.repair ?? DEFAULT_REPAIR;
    const { state, warning } = readState(options.stateDir);
    if (warning) options.logger.warn(warning);
    this.state = state;
    const { pbx, ...rest } = options.adapters;
    this.adapters = {
      ...rest,
      ...(pbx
        ? {
            pbx: {
              ...pbx,
              savedTrunks: () => this.state.savedTrunks,
              setSavedTrunks: (saved) => this.update({ savedTrunks: saved }),
            },
          }
        : {}),
    };
  }

  /** Steps a previous run left undone on `active` (e.g. killed mid-failover): run them again now. */
  resume(active: string | null): void {
    const unfinished = this.state.unfinished;
    if (!unfinished) return;
    if (unfinished.link !== active) {
      this.options.logger.info({ unfinished }, `dropping unfinished steps for ${unfinished.link}: the office is on ${active ?? "no link"}`);
      this.update({ unfinished: undefined });
      return;
    }
    this.options.logger.warn({ unfinished }, `finishing what the last run left undone on ${active}: ${unfinished.steps.join(", ")}`);
    this.scheduleRepair(0);
  }

  async switchTo(to: string, from: string | null, kind: SwitchKind, reason: string): Promise<FailoverReport> {
    this.cancelRepair();
    // Written first: a kill -9 from here on leaves a record that the next start finishes.
    const all = switchSteps(this.adapters).map((s) => s.name).filter((name) => name !== "route");
    this.update({ unfinished: { link: to, kind, since: new Date(this.now()).toISOString(), steps: all } });
    const started = this.now();
    const steps = await runPipeline(switchSteps(this.adapters), this.context(to, from, kind));
    const routeOk = steps.find((s) => s.step === "route")?.ok === true;
    this.afterRun(to, kind, routeOk ? steps : [], routeOk);
    return this.report(kind, from, to, reason, started, steps);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelRepair();
    await this.repairing;
  }

  private context(to: string, from: string | null, kind: SwitchKind): SwitchContext {
    return { from, to, kind, toIsPrimary: to === this.options.primaryLink };
  }

  private report(kind: SwitchKind, from: string | null, to: string, reason: string, started: number, steps: StepResult[]): FailoverReport {
    return {
      kind,
      from,
      to,
      reason,
      startedAt: new Date(started).toISOString(),
      durationMs: this.now() - started,
      ok: steps.every((s) => s.ok),
      steps,
    };
  }

  /** Records what is still undone after a run on `link`, and schedules the next repair if needed. */
  private afterRun(link: string, kind: SwitchKind, steps: StepResult[], routeOk: boolean): void {
    if (!routeOk) {
      this.update({ unfinished: undefined });
      return;
    }
    const failed = steps.filter((s) => !s.ok && s.step !== "route").map((s) => s.step);
    if (failed.length === 0) {
      this.repairAttempt = 0;
      this.update({ unfinished: undefined });
      return;
    }
    const since = this.state.unfinished?.since ?? new Date(this.now()).toISOString();
    this.update({ unfinished: { link, kind, since, steps: failed } });
    const { firstDelayMs, maxDelayMs, maxAttempts } = this.repairPolicy;
    if (this.repairAttempt >= maxAttempts) {
      this.options.logger.error({ failed }, `giving up on ${failed.join(", ")} after ${maxAttempts} attempts; the next switch or restart tries again`);
      return;
    }
    this.scheduleRepair(Math.min(maxDelayMs, firstDelayMs * 2 ** this.repairAttempt));
  }

  private scheduleRepair(delayMs: number): void {
    if (this.stopped) return;
    this.cancelRepair();
    this.repairTimer = setTimeout(() => {
      this.repairTimer = undefined;
      this.repairing = this.repair().finally(() => (this.repairing = undefined));
    }, delayMs);
  }

  private cancelRepair(): void {
    clearTimeout(this.repairTimer);
    this.repairTimer = undefined;
  }

  private async repair(): Promise<void> {
    const unfinished = this.state.unfinished;
    if (!unfinished || this.stopped) return;
    this.repairAttempt++;
    const all = switchSteps(this.adapters, { routeDone: true });
    const wanted = new Set(stepsToRepeat(all, unfinished.steps));
    const started = this.now();
    const steps = await runPipeline(all.filter((s) => wanted.has(s.name)), this.context(unfinished.link, null, unfinished.kind));
    const routeOk = steps.find((s) => s.step === "route")?.ok === true;
    const report = this.report(unfinished.kind, null, unfinished.link, `repeating ${unfinished.steps.join(", ")} (attempt ${this.repairAttempt})`, started, steps);
    this.options.logger[report.ok ? "info" : "warn"]({ report }, `repair on ${unfinished.link} ${report.ok ? "done" : "failed again"}`);
    if (!routeOk) {
      this.update({ unfinished: undefined });
    } else {
      this.afterRun(unfinished.link, unfinished.kind, steps, true);
    }
    this.options.onRepair?.(report);
  }

  private update(change: Partial<DaemonState>): void {
    this.state = { ...this.state, ...change };
    for (const key of Object.keys(change) as (keyof DaemonState)[]) if (this.state[key] === undefined) delete this.state[key];
    try {
      writeState(this.options.stateDir, this.state);
    } catch (error) {
      this.options.logger.error({ err: (error as Error).message }, `cannot write the state file: ${(error as Error).message}`);
    }
  }
}
