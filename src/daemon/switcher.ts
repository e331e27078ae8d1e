// Carries out a switch: runs the pipeline, keeps what must survive a restart (trunk settings to put
// back, steps not yet done), and runs failed steps again with backoff while the office stays on
// that link. The daemon decides; the switcher does.
import type { Logger } from "../log.js";
import { scrubText } from "../notify/sanitize.js";
import type { SwitchKind } from "./decider.js";
import { switchSteps, stepsToRepeat, type SwitchAdapters, type SwitchContext } from "./failover-steps.js";
import { runPipeline } from "./pipeline.js";
import type { FailoverReport, StepResult } from "./report.js";
import { readState, writeState, type DaemonState } from "./state.js";

export type SwitchAdaptersWithoutState = Omit<SwitchAdapters, "pbx"> & {
  pbx?: Omit<NonNullable<SwitchAdapters["pbx"]>, "savedTrunks" | "setSavedTrunks" | "savedAddress" | "setSavedAddress">;
};

export interface SwitcherOptions {
  stateDir: string;
  primaryLink: string;
  adapters: SwitchAdaptersWithoutState;
  logger: Logger;
  /** Secret values to scrub from step details (an error may quote a URL with a token). */
  secrets?: readonly string[];
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
  /** The switch whose later steps are wanted; an older one's are skipped. */
  private current: AbortController | undefined;
  private postRoute: Promise<void> = Promise.resolve();
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
              savedAddress: () => this.state.savedAddress,
              setSavedAddress: (saved) => this.update({ savedAddress: saved }),
            },
          }
        : {}),
    };
  }

  /** What `wanctl status` shows of the state: steps still to do, and whether the trunks run short. */
  view(): { pending: { link: string; steps: string[]; since: string } | null; trunksShortened: boolean } {
    const u = this.state.unfinished;
    return { pending: u ? { link: u.link, steps: [...u.steps], since: u.since } : null, trunksShortened: this.state.savedTrunks !== undefined };
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
    // Its own controller, so that a switch decided meanwhile can cancel what it has not started.
    this.current = new AbortController();
    this.scheduleRepair(0);
  }

  /**
   * Moves the office to `to`. Resolves `routed` as soon as the route step is done, so the daemon
   * can decide again at once (the new link may die during the later steps); the returned promise
   * resolves with the whole report. The later steps of one switch run after those of the previous
   * one have ended, and a newer switch skips what an older one has not started yet.
   */
  switchTo(to: string, from: string | null, kind: SwitchKind, reason: string): { routed: Promise<StepResult>; report: Promise<FailoverReport> } {
    this.cancelRepair();
    // A new switch gets its own repair attempts, whatever the last one used up.
    this.repairAttempt = 0;
    this.current?.abort(`superseded by the switch to ${to}`);
    const controller = new AbortController();
    this.current = controller;
    const started = this.now();
    const context = this.context(to, from, kind);
    const [routeStep, ...later] = switchSteps(this.adapters);
    const previous = this.state.unfinished;
    // Written first: a kill -9 from here on leaves a record that the next start finishes.
    this.update({ unfinished: { link: to, kind, since: new Date(started).toISOString(), steps: later.map((s) => s.name) } });
    const routed = runPipeline([routeStep!], context).then(([result]) => result!);
    const report = routed.then(async (route) => {
      if (!route.ok) {
        // The office stays where it was: what was still undone there is still to do.
        if (this.current === controller) {
          this.update({ unfinished: previous });
          if (previous) this.scheduleRepair(this.repairPolicy.firstDelayMs);
        }
        const skipped = later.map((s) => ({ step: s.name, ok: false, durationMs: 0, detail: "skipped: route failed", skipped: true }));
        return this.report(kind, from, to, reason, started, [route, ...skipped]);
      }
      const steps = await this.afterRoute(() => runPipeline(switchSteps(this.adapters, { routeDone: true }), context, controller.signal));
      // The pipeline's first step only checked the route; the report shows the real one.
      const results = [route, ...steps.slice(1)];
      if (this.current === controller) this.afterRun(to, kind, results, true);
      return this.report(kind, from, to, reason, started, results);
    });
    return { routed, report };
  }

  /** Runs `work` after every earlier post-route run (and repair) has ended: one at a time. */
  private afterRoute<T>(work: () => Promise<T>): Promise<T> {
    const run = this.postRoute.then(work);
    this.postRoute = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelRepair();
    this.current?.abort("wanctl is stopping");
    await this.repairing;
    await this.postRoute;
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
      steps: steps.map((step) => ({ ...step, detail: scrubText(step.detail, this.options.secrets ?? []) })),
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
      this.repairing = this.repair()
        .catch((error: unknown) => this.options.logger.error({ err: (error as Error).message }, `repair failed unexpectedly: ${(error as Error).message}`))
        .finally(() => (this.repairing = undefined));
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
    const controller = this.current ?? new AbortController();
    const steps = await this.afterRoute(() => runPipeline(all.filter((s) => wanted.has(s.name)), this.context(unfinished.link, null, unfinished.kind), controller.signal));
    if (this.state.unfinished !== unfinished) return; // a switch took over meanwhile
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
