/**
 * The switch lifecycle: a pure state machine, like the decider. `step(state, event, now)` returns
 * the next state and the effects the driver (daemon.ts) carries out, in order. No timers, sockets
 * or clocks in here; `now` comes in (monotonic ms for durations, wall ms for what people read).
 *
 * The decider says *where* the office should be; this says *how it gets there and stays there*.
 *
 * Rules (tested in test/daemon/lifecycle.test.ts):
 *
 * 1. **The route first, alone.** A switch is written to the journal (persist) before the route
 *    moves, so a kill -9 at any later point leaves a record. One route change at a time: a
 *    decision while one is out, during a drill, or while stopping is ignored (the daemon asks the
 *    decider again after every probe round). After a failed route change the same target is not
 *    tried again before `routeRetryMs`.
 * 2. **Decisions go on once the route has moved**: the later steps (conntrack, public address,
 *    DNS, Asterisk, trunks) run as one *converge run* on the active link while the decider keeps
 *    deciding: the new link may die meanwhile.
 * 3. **One converge run at a time.** They change the PBX and DNS and must not interleave. A run
 *    for a link the office is leaving is cancelled (steps not started are skipped); the run for
 *    the new link starts when it has ended.
 * 4. **Converge, don't replay.** A run observes what is (Asterisk's live address, each trunk's
 *    expiry, the DNS answer) and mends what differs from what should be for the active link. A
 *    run after a switch also flushes the stale flows and makes the trunks register again (their
 *    NAT binding moved); so does the first run after a start that finds the journal's unfinished
 *    switch to the active link (killed mid-switch). The journal is a hint; the kernel, the PBX
 *    and DNS are the truth: an unfinished switch to a link the office is not on is *interrupted*.
 * 5. **Until it holds.** A run that left steps failed is repeated with backoff (`repair`) while
 *    the office stays on the link; when all is well, a run every `checkEveryMs` checks that
 *    nothing drifted (a PBX restarted with its file's old values, a record changed by hand).
 * 6. **Each switch is alerted exactly once**: when its first run ends (or its route fails, or it
 *    is superseded or interrupted), in the same transition that marks it alerted in the journal;
 *    the driver queues the alert (the outbox ignores an id it already has) before it persists
 *    the mark, so a crash in between sends it once after the restart, never twice. Steps that
 *    keep failing alert once (with the switch, or as "step failed"), then once when repaired. A
 *    run that mended drift alerts what it mended.
 * 7. **The drill is events**: to the best other link that is up and back, each leg a switch with
 *    its converge run, decisions held meanwhile. Refused, with the reason, while anything runs or
 *    a repair is pending, when pinned, when the active link is not up, or no other link is. Where
 *    wanctl follows a router that moves the links itself (`inPlace`), the drill is one leg on the
 *    active link: every step carried out, nothing moved.
 * 8. **Stop** cancels the run in flight and persists; nothing new starts.
 */
import { backoffDelay } from "../lib/backoff.js";
import type { LinkState } from "../wan/health.js";
import type { SwitchKind } from "./decider.js";
import type { FailoverReport, StepResult } from "./report.js";

export interface Instant {
  /** Monotonic milliseconds: every duration and due time. */
  readonly mono: number;
  /** Wall-clock milliseconds: only what people read (ISO times). */
  readonly wall: number;
}

export type SwitchStatus =
  /** The route change is out. */
  | "routing"
  /** The route moved; the converge run follows. */
  | "following"
  /** Some later steps failed; runs repeat them with backoff. */
  | "repairing"
  | "done"
  /** The route change failed: the office did not move. */
  | "failed"
  /** A newer switch left this link before this one's run had ended. */
  | "superseded"
  /** A restart found the office on another link than this unfinished switch's. */
  | "interrupted";

/** One switch as the journal (state.json) keeps it. */
export interface SwitchRecord {
  readonly id: string;
  readonly kind: SwitchKind;
  /** A leg of a drill: reported in the drill's report, never alerted on its own. */
  readonly drill?: boolean;
  readonly from: string | null;
  readonly to: string;
  readonly reason: string;
  /** ISO wall time it began. */
  readonly startedAt: string;
  /** Monotonic ms it began (this process's clock; approximate after a restart). */
  readonly startedMs: number;
  readonly status: SwitchStatus;
  /** The latest result of each step: the route first, then the converge run's. */
  readonly steps: readonly StepResult[];
  /** From the start to the end of its first run. */
  readonly durationMs?: number;
  /** Its alert went to the outbox (or it needs none). */
  readonly alerted: boolean;
  /** Runs after the first that it took to finish. */
  readonly repairs: number;
  /** Finished by the first run after a restart. */
  readonly resumed?: boolean;
}

/** Why a converge run runs. */
export type RunCause = "switch" | "start" | "repair" | "check";

export interface ConvergeRun {
  readonly id: number;
  readonly link: string;
  readonly primary: boolean;
  /** After a switch (or a restart mid-switch): flush stale flows and register the trunks again. */
  readonly afterSwitch: boolean;
  readonly cause: RunCause;
  /** The switch this run finishes, if any. */
  readonly switchId: string | null;
  /** Set when a newer switch (or stop) cancelled it: its results are no longer this link's. */
  readonly cancelled?: string;
}

/** What went wrong and has not been put right yet (for one alert when it starts, one when fixed). */
export interface Trouble {
  readonly link: string;
  readonly steps: readonly string[];
  /** ISO wall time. */
  readonly since: string;
}

export interface DrillReport {
  ok: boolean;
  startedAt: string;
  durationMs: number;
  /** Why the drill did not run, when it was refused. */
  refused?: string;
  from?: string;
  to?: string;
  out?: FailoverReport;
  back?: FailoverReport;
  /** What the drill found beyond the steps (e.g. it could not return). */
  notes: string[];
}

interface Drill {
  readonly requestId: string;
  readonly from: string;
  readonly to: string;
  /** One leg on the active link (wanctl does not move the links). */
  readonly inPlace?: boolean;
  readonly startedAt: string;
  readonly startedMs: number;
  readonly out: string;
  readonly back?: string;
  readonly notes: readonly string[];
}

/** Something a run put right that was not as it should be (for status and one alert). */
export interface Mend {
  /** ISO wall time. */
  readonly at: string;
  readonly link: string;
  readonly cause: RunCause;
  /** One line per mended step: its detail. */
  readonly what: readonly string[];
}

export interface LifecycleState {
  /** The link that carries the default route, as last known (the kernel's answer at start). */
  readonly active: string | null;
  /** Each link's health state (for the drill). */
  readonly links: Readonly<Record<string, LinkState>>;
  /** Unfinished switches, finished ones not alerted yet, and the latest finished one. */
  readonly journal: readonly SwitchRecord[];
  /** The switch whose route change is out. */
  readonly routing: string | null;
  readonly run: ConvergeRun | null;
  /** The run to start when the one in flight has ended. */
  readonly next: Omit<ConvergeRun, "id"> | null;
  /** When the next run is due (repair or check), monotonic ms; null while a run or route is out. */
  readonly dueAt: number | null;
  /** Failed runs in a row on the active link (the repair backoff). */
  readonly failures: number;
  readonly trouble: Trouble | null;
  readonly drill: Drill | null;
  /** A drill asked for while a check or repair run was in flight: it starts when that run ends. */
  readonly drillWaiting: { readonly requestId: string; readonly pinned: boolean; readonly inPlace?: boolean } | null;
  readonly lastRouteFailure: { readonly to: string; readonly at: number } | null;
  /** The last few mends, newest last. */
  readonly mends: readonly Mend[];
  readonly seq: number;
  readonly started: boolean;
  readonly stopping: boolean;
}

export interface LifecyclePolicy {
  /** The office's preferred link: on it the trunks get their own expiry back. */
  readonly primary: string;
  /** Repeating a run that left steps failed: the first delay, doubling up to the maximum (no jitter: one daemon, one PBX). */
  readonly repair: { readonly firstMs: number; readonly maxMs: number };
  /** How often, when all is well, a run checks that nothing drifted. */
  readonly checkEveryMs: number;
  /** After a failed route change, the same target waits this long. */
  readonly routeRetryMs: number;
  /** Alert the drill's result. */
  readonly drillNotify: boolean;
}

export const DEFAULT_LIFECYCLE_POLICY: Omit<LifecyclePolicy, "primary" | "drillNotify"> = {
  repair: { firstMs: 5_000, maxMs: 300_000 },
  checkEveryMs: 300_000,
  routeRetryMs: 5_000,
};

export type LifecycleEvent =
  /** At start: the kernel's active link and the journal as state.json had it. */
  | { readonly type: "start"; readonly active: string | null; readonly journal: readonly SwitchRecord[]; readonly trouble?: Trouble | null }
  | { readonly type: "health"; readonly link: string; readonly state: LinkState }
  /** The configured links changed (a reload): their states now. */
  | { readonly type: "links"; readonly links: Readonly<Record<string, LinkState>> }
  | { readonly type: "decision"; readonly to: string; readonly from: string | null; readonly kind: SwitchKind; readonly reason: string }
  /** The route step ended; `active` is the kernel's answer afterwards (a failed change may still have moved it). */
  | { readonly type: "routeDone"; readonly switchId: string; readonly result: StepResult; readonly active: string | null }
  | { readonly type: "runDone"; readonly runId: number; readonly results: readonly StepResult[] }
  /** Time passed (the driver's timer for `dueAt`). */
  | { readonly type: "tick" }
  | { readonly type: "drill"; readonly requestId: string; readonly pinned: boolean; readonly inPlace?: boolean }
  | { readonly type: "stop" };

/** What a person is told (alerts.ts turns each into an alert with the links' figures). */
export type LifecycleAlert =
  | { readonly kind: "switch"; readonly report: FailoverReport; readonly id: string; readonly resumed: boolean }
  | { readonly kind: "interrupted"; readonly report: FailoverReport; readonly id: string; readonly active: string | null }
  | { readonly kind: "step-failed"; readonly link: string; readonly steps: readonly StepResult[]; readonly id: string }
  | { readonly kind: "repaired"; readonly link: string; readonly what: readonly string[]; readonly since: string | null; readonly steps: readonly StepResult[]; readonly id: string }
  | { readonly kind: "drill"; readonly report: DrillReport; readonly id: string };

export type Effect =
  | { readonly type: "activateRoute"; readonly switchId: string; readonly to: string }
  | { readonly type: "converge"; readonly run: ConvergeRun }
  | { readonly type: "cancelRun"; readonly runId: number; readonly reason: string }
  | { readonly type: "alert"; readonly alert: LifecycleAlert }
  /** Write the journal to state.json. */
  | { readonly type: "persist" }
  | { readonly type: "writeStatus" }
  | { readonly type: "drillDone"; readonly requestId: string; readonly report: DrillReport };

export interface StepOutcome {
  readonly state: LifecycleState;
  readonly effects: readonly Effect[];
}

/** Finished records kept beyond the unfinished ones (the latest is the status's last switch). */
const KEEP_FINISHED = 3;
const KEEP_MENDS = 5;

export function initialState(links: readonly string[]): LifecycleState {
  return {
    active: null,
    links: Object.fromEntries(links.map((l) => [l, "unknown" as LinkState])),
    journal: [],
    routing: null,
    run: null,
    next: null,
    dueAt: null,
    failures: 0,
    trouble: null,
    drill: null,
    drillWaiting: null,
    lastRouteFailure: null,
    mends: [],
    seq: 0,
    started: false,
    stopping: false,
  };
}

const UNFINISHED: ReadonlySet<SwitchStatus> = new Set(["routing", "following", "repairing"]);
export const isUnfinished = (r: SwitchRecord): boolean => UNFINISHED.has(r.status);

/** A record as the report that logs, status and alerts show. */
export function reportOf(record: SwitchRecord, now?: Instant): FailoverReport {
  return {
    kind: record.kind,
    from: record.from,
    to: record.to,
    reason: record.reason,
    startedAt: record.startedAt,
    durationMs: record.durationMs ?? (now ? Math.max(0, now.mono - record.startedMs) : 0),
    ok: record.steps.length > 0 && record.steps.every((s) => s.ok),
    steps: [...record.steps],
  };
}

/** Whether the machine takes a switch decision now (the driver skips the decider otherwise). */
export function takesDecisions(state: LifecycleState): boolean {
  return state.started && !state.stopping && state.routing === null && state.drill === null;
}

/** The switch whose route is out or whose steps are running, for the status. */
export function inProgress(state: LifecycleState): SwitchRecord | undefined {
  return state.journal.find((r) => r.status === "routing" || r.status === "following");
}

/** Steps still to be done on the active link (retried with backoff), for the status. */
export function pendingSteps(state: LifecycleState): { link: string; steps: string[]; since: string } | null {
  return state.trouble ? { link: state.trouble.link, steps: [...state.trouble.steps], since: state.trouble.since } : null;
}

/** The latest switch whose first run has ended (drill legs included), for the status. */
export function lastSwitch(state: LifecycleState): SwitchRecord | undefined {
  return [...state.journal].reverse().find((r) => r.status !== "routing" && r.status !== "following");
}

// --- the machine ------------------------------------------------------------------------------------

class Transition {
  state: LifecycleState;
  readonly effects: Effect[] = [];
  constructor(
    state: LifecycleState,
    readonly now: Instant,
    readonly policy: LifecyclePolicy,
  ) {
    this.state = state;
  }
  set(change: Partial<LifecycleState>): void {
    this.state = { ...this.state, ...change };
  }
  emit(effect: Effect): void {
    this.effects.push(effect);
  }
  record(id: string): SwitchRecord | undefined {
    return this.state.journal.find((r) => r.id === id);
  }
  updateRecord(id: string, change: Partial<SwitchRecord>): SwitchRecord {
    let updated: SwitchRecord | undefined;
    this.set({ journal: this.state.journal.map((r) => (r.id === id ? (updated = { ...r, ...change }) : r)) });
    return updated!;
  }
  nextId(prefix: string): string {
    this.set({ seq: this.state.seq + 1 });
    return `${prefix}-${this.now.wall}-${this.state.seq}`;
  }
  done(): StepOutcome {
    return { state: { ...this.state, journal: trimJournal(this.state.journal) }, effects: this.effects };
  }
}

export function step(state: LifecycleState, event: LifecycleEvent, now: Instant, policy: LifecyclePolicy): StepOutcome {
  const t = new Transition(state, now, policy);
  switch (event.type) {
    case "start":
      onStart(t, event);
      break;
    case "health":
      t.set({ links: { ...t.state.links, [event.link]: event.state } });
      break;
    case "links":
      t.set({ links: { ...event.links } });
      break;
    case "decision":
      onDecision(t, event);
      break;
    case "routeDone":
      onRouteDone(t, event);
      break;
    case "runDone":
      onRunDone(t, event);
      break;
    case "tick":
      onTick(t);
      break;
    case "drill":
      onDrill(t, event);
      break;
    case "stop":
      onStop(t);
      break;
  }
  return t.done();
}

function onStart(t: Transition, event: Extract<LifecycleEvent, { type: "start" }>): void {
  if (t.state.started) return;
  t.set({ started: true, active: event.active, journal: [...event.journal], trouble: event.trouble?.link === event.active ? event.trouble : null });
  // Killed mid-switch and still on its link: the first run finishes the newest such switch.
  const resumeId = [...event.journal].reverse().find((r) => isUnfinished(r) && r.to === event.active && !r.drill)?.id;
  for (const record of event.journal) {
    if (record.id === resumeId) {
      t.updateRecord(record.id, { status: record.status === "repairing" ? "repairing" : "following", resumed: true });
    } else if (isUnfinished(record)) {
      const interrupted = t.updateRecord(record.id, { status: "interrupted" });
      if (!interrupted.alerted) alertRecord(t, interrupted);
    } else if (!record.alerted) {
      alertRecord(t, record); // finished, but the crash came before its alert was queued
    }
  }
  if (event.active !== null) startRun(t, { link: event.active, afterSwitch: resumeId !== undefined, cause: "start", switchId: resumeId ?? null });
  t.emit({ type: "persist" });
  t.emit({ type: "writeStatus" });
}

function onDecision(t: Transition, event: Extract<LifecycleEvent, { type: "decision" }>): void {
  if (!takesDecisions(t.state)) return;
  const failure = t.state.lastRouteFailure;
  if (failure && failure.to === event.to && t.now.mono - failure.at < t.policy.routeRetryMs) return;
  beginSwitch(t, { kind: event.kind, from: event.from, to: event.to, reason: event.reason, drill: false });
}

function beginSwitch(t: Transition, what: { kind: SwitchKind; from: string | null; to: string; reason: string; drill: boolean }): string {
  const id = t.nextId("switch");
  const record: SwitchRecord = {
    id,
    kind: what.kind,
    ...(what.drill ? { drill: true } : {}),
    from: what.from,
    to: what.to,
    reason: what.reason,
    startedAt: new Date(t.now.wall).toISOString(),
    startedMs: t.now.mono,
    status: "routing",
    steps: [],
    alerted: what.drill, // drill legs are told in the drill's report
    repairs: 0,
  };
  t.set({ journal: [...t.state.journal, record], routing: id, dueAt: null, next: null });
  const run = t.state.run;
  if (run && !run.cancelled && run.link !== what.to) {
    const reason = `superseded by the switch to ${what.to}`;
    t.set({ run: { ...run, cancelled: reason } });
    t.emit({ type: "cancelRun", runId: run.id, reason });
  }
  // Written before the route moves: a kill -9 from here on leaves the record.
  t.emit({ type: "persist" });
  t.emit({ type: "activateRoute", switchId: id, to: what.to });
  t.emit({ type: "writeStatus" });
  return id;
}

function onRouteDone(t: Transition, event: Extract<LifecycleEvent, { type: "routeDone" }>): void {
  if (t.state.routing !== event.switchId) return;
  const record = t.record(event.switchId);
  t.set({ routing: null });
  if (!record) return;
  if (event.result.ok) {
    const updated = t.updateRecord(record.id, { status: "following", steps: [event.result] });
    // Repairs pending on the link the office left end here.
    const journal = t.state.journal.map((r) => (r.status === "repairing" && r.to !== updated.to ? { ...r, status: "superseded" as const } : r));
    t.set({ journal, active: updated.to, failures: 0, trouble: t.state.trouble?.link === updated.to ? t.state.trouble : null });
    startRun(t, { link: updated.to, afterSwitch: true, cause: "switch", switchId: updated.id });
  } else {
    // The office stays where the kernel says it is.
    const failed = t.updateRecord(record.id, { status: "failed", steps: [event.result], durationMs: t.now.mono - record.startedMs });
    t.set({ active: event.active, lastRouteFailure: { to: record.to, at: t.now.mono } });
    if (!failed.alerted) alertRecord(t, failed);
    if (t.state.drill) finishDrill(t, `the route to ${record.to} failed: ${event.result.detail}`);
    // What was cancelled or left to repair on the link the office stays on is checked again.
    if (event.active !== null) {
      const cancelled = t.state.run?.cancelled !== undefined;
      if (cancelled || t.state.trouble) startRun(t, { link: event.active, afterSwitch: false, cause: "repair", switchId: null });
      else t.set({ dueAt: t.now.mono + t.policy.checkEveryMs });
    }
  }
  t.emit({ type: "persist" });
  t.emit({ type: "writeStatus" });
}

function onRunDone(t: Transition, event: Extract<LifecycleEvent, { type: "runDone" }>): void {
  const run = t.state.run;
  if (!run || run.id !== event.runId) return;
  t.set({ run: null });
  const record = run.switchId ? t.record(run.switchId) : undefined;
  const results = event.results;

  if (run.cancelled) {
    if (record && isUnfinished(record)) {
      const superseded = t.updateRecord(record.id, { status: "superseded", steps: mergeSteps(record.steps, results), durationMs: t.now.mono - record.startedMs });
      if (!superseded.alerted) alertRecord(t, superseded);
    }
  } else {
    const failed = failedNames(results).length > 0;
    const alertedWithSwitch = record ? finishRecord(t, record, results, !failed) : false;
    noteOutcome(t, run, results, alertedWithSwitch);
    if (failed) {
      const failures = t.state.failures + 1;
      const { firstMs, maxMs } = t.policy.repair;
      t.set({ failures, dueAt: t.now.mono + backoffDelay(failures, { initialMs: firstMs, maxMs, factor: 2, jitter: 0 }, () => 0) });
    } else {
      t.set({ failures: 0, dueAt: t.now.mono + t.policy.checkEveryMs });
    }
    if (t.state.drill && record?.drill) advanceDrill(t, record.id);
  }

  const next = t.state.next;
  if (next && !t.state.stopping && t.state.routing === null) {
    t.set({ next: null });
    startRun(t, next);
  }
  const waiting = t.state.drillWaiting;
  if (waiting && !t.state.run) {
    t.set({ drillWaiting: null });
    onDrill(t, { type: "drill", ...waiting });
  }
  t.emit({ type: "persist" });
  t.emit({ type: "writeStatus" });
}

/** The switch's run ended: its steps and status; its one alert if not sent yet (returns whether it went now). */
function finishRecord(t: Transition, record: SwitchRecord, results: readonly StepResult[], allOk: boolean): boolean {
  const first = record.status === "following";
  const updated = t.updateRecord(record.id, {
    steps: mergeSteps(record.steps, results),
    status: allOk ? "done" : "repairing",
    ...(first ? { durationMs: t.now.mono - record.startedMs } : { repairs: record.repairs + 1 }),
  });
  if (updated.alerted) return false;
  alertRecord(t, updated);
  return true;
}

/**
 * Failures open a trouble (one alert, unless the switch's own alert just told them), success closes
 * it (one alert). What a start, check or repair run changed is a mend: kept for the status, and
 * told (a switch's own run changes things by design; a resumed switch tells it in its alert).
 */
function noteOutcome(t: Transition, run: ConvergeRun, results: readonly StepResult[], alertedWithSwitch: boolean): void {
  const nowIso = new Date(t.now.wall).toISOString();
  const failed = failedNames(results);
  const trouble = t.state.trouble?.link === run.link ? t.state.trouble : null;
  const mended = run.cause === "switch" ? [] : results.filter((r) => r.ok && r.changed).map((r) => `${r.step}: ${r.detail}`);
  if (mended.length) t.set({ mends: [...t.state.mends, { at: nowIso, link: run.link, cause: run.cause, what: mended }].slice(-KEEP_MENDS) });
  if (failed.length) {
    t.set({ trouble: { link: run.link, steps: [...new Set([...(trouble?.steps ?? []), ...failed])], since: trouble?.since ?? nowIso } });
    if (!trouble && !alertedWithSwitch) t.emit({ type: "alert", alert: { kind: "step-failed", link: run.link, steps: [...results], id: t.nextId("failed") } });
    return;
  }
  if (trouble) t.set({ trouble: null });
  if (trouble || (mended.length && !alertedWithSwitch)) {
    t.emit({ type: "alert", alert: { kind: "repaired", link: run.link, what: mended, since: trouble?.since ?? null, steps: [...results], id: t.nextId("repaired") } });
  }
}

function onTick(t: Transition): void {
  const s = t.state;
  if (!s.started || s.stopping || s.run || s.routing || s.dueAt === null || t.now.mono < s.dueAt || s.active === null) return;
  const open = s.journal.find((r) => r.status === "repairing" && r.to === s.active);
  startRun(t, { link: s.active, afterSwitch: false, cause: s.failures > 0 ? "repair" : "check", switchId: open?.id ?? null });
  t.emit({ type: "writeStatus" });
}

function onDrill(t: Transition, event: Extract<LifecycleEvent, { type: "drill" }>): void {
  const s = t.state;
  const from = s.active;
  const refuse = (why: string): void => {
    const report: DrillReport = { ok: false, startedAt: new Date(t.now.wall).toISOString(), durationMs: 0, refused: why, notes: [] };
    t.emit({ type: "drillDone", requestId: event.requestId, report });
  };
  if (!s.started || s.stopping) return refuse("wanctl is not running");
  if (s.drill || s.drillWaiting) return refuse("a drill is running");
  if (s.routing || (s.run && s.run.switchId !== null)) return refuse("a switch is running");
  if (s.run) {
    // A check or a repair: brief; the drill goes when it has ended.
    t.set({ drillWaiting: { requestId: event.requestId, pinned: event.pinned, ...(event.inPlace ? { inPlace: true } : {}) } });
    return;
  }
  if (s.trouble) return refuse(`${s.trouble.steps.join(", ")} failing on ${s.trouble.link} since ${s.trouble.since}, retried with backoff: a drill would prove nothing until that works`);
  if (event.pinned) return refuse("the office is pinned to a link (`wanctl auto` first)");
  if (!from || s.links[from] !== "up") return refuse(`the active link ${from ?? "(none)"} is not up`);
  if (event.inPlace) {
    const out = beginSwitch(t, { kind: "manual", from, to: from, reason: `drill on ${from}: every step carried out, the links left to the router`, drill: true });
    t.set({ drill: { requestId: event.requestId, from, to: from, inPlace: true, startedAt: new Date(t.now.wall).toISOString(), startedMs: t.now.mono, out, notes: [] } });
    return;
  }
  const to = Object.keys(s.links).find((l) => l !== from && s.links[l] === "up");
  if (!to) return refuse("no other link is up to drill on");
  const out = beginSwitch(t, { kind: "manual", from, to, reason: `drill: to ${to} and back to ${from}`, drill: true });
  t.set({ drill: { requestId: event.requestId, from, to, startedAt: new Date(t.now.wall).toISOString(), startedMs: t.now.mono, out, notes: [] } });
}

/** A drill leg's run ended: go back, or finish. */
function advanceDrill(t: Transition, recordId: string): void {
  const drill = t.state.drill!;
  if (recordId === drill.out && drill.inPlace) {
    finishDrill(t);
  } else if (recordId === drill.out) {
    if (t.state.links[drill.from] === "up") {
      const back = beginSwitch(t, { kind: "manual", from: drill.to, to: drill.from, reason: `drill: back to ${drill.from}`, drill: true });
      t.set({ drill: { ...drill, back } });
    } else {
      finishDrill(t, `${drill.from} went down during the drill: the office stays on ${drill.to}`);
    }
  } else if (recordId === drill.back) {
    finishDrill(t);
  }
}

function finishDrill(t: Transition, note?: string): void {
  const drill = t.state.drill;
  if (!drill) return;
  const out = t.record(drill.out);
  const back = drill.back ? t.record(drill.back) : undefined;
  const notes = note ? [...drill.notes, note] : [...drill.notes];
  const report: DrillReport = {
    ok: out !== undefined && reportOf(out).ok && (drill.inPlace === true || (back !== undefined && reportOf(back).ok)),
    startedAt: drill.startedAt,
    durationMs: t.now.mono - drill.startedMs,
    from: drill.from,
    to: drill.to,
    ...(out ? { out: reportOf(out) } : {}),
    ...(back ? { back: reportOf(back) } : {}),
    notes,
  };
  t.set({ drill: null });
  t.emit({ type: "drillDone", requestId: drill.requestId, report });
  if (t.policy.drillNotify) t.emit({ type: "alert", alert: { kind: "drill", report, id: t.nextId("drill") } });
}

function onStop(t: Transition): void {
  if (t.state.stopping) return;
  t.set({ stopping: true, dueAt: null, next: null });
  const run = t.state.run;
  if (run && !run.cancelled) {
    t.set({ run: { ...run, cancelled: "wanctl is stopping" } });
    t.emit({ type: "cancelRun", runId: run.id, reason: "wanctl is stopping" });
  }
  finishDrill(t, "wanctl stopped during the drill");
  if (t.state.drillWaiting) {
    t.emit({ type: "drillDone", requestId: t.state.drillWaiting.requestId, report: { ok: false, startedAt: new Date(t.now.wall).toISOString(), durationMs: 0, refused: "wanctl is stopping", notes: [] } });
    t.set({ drillWaiting: null });
  }
  t.emit({ type: "persist" });
  t.emit({ type: "writeStatus" });
}

// --- helpers ----------------------------------------------------------------------------------------

/** Starts a run now, or after the one in flight (which is then being cancelled). */
function startRun(t: Transition, request: Omit<ConvergeRun, "id" | "primary">): void {
  const full = { ...request, primary: request.link === t.policy.primary };
  if (t.state.run) {
    t.set({ next: full, dueAt: null });
    return;
  }
  const run: ConvergeRun = { ...full, id: t.state.seq + 1 };
  t.set({ seq: run.id, run, dueAt: null });
  t.emit({ type: "converge", run });
}

function alertRecord(t: Transition, record: SwitchRecord): void {
  const report = reportOf(record, t.now);
  const alert: LifecycleAlert =
    record.status === "interrupted"
      ? { kind: "interrupted", report, id: record.id, active: t.state.active }
      : { kind: "switch", report, id: record.id, resumed: record.resumed === true };
  t.updateRecord(record.id, { alerted: true });
  t.emit({ type: "alert", alert });
}

/** The steps not done: failed, or skipped because a step they need failed. */
function failedNames(results: readonly StepResult[]): string[] {
  return results.filter((r) => !r.ok).map((r) => r.step);
}

/** The latest result of each step, in pipeline order (route first). */
export function mergeSteps(previous: readonly StepResult[], latest: readonly StepResult[]): StepResult[] {
  const byName = new Map(previous.map((s) => [s.step, s]));
  for (const s of latest) byName.set(s.step, s);
  return [...byName.values()];
}

function trimJournal(journal: readonly SwitchRecord[]): SwitchRecord[] {
  const keepFinished = new Set(
    journal
      .filter((r) => !isUnfinished(r) && r.alerted)
      .slice(-KEEP_FINISHED)
      .map((r) => r.id),
  );
  return journal.filter((r) => isUnfinished(r) || !r.alerted || keepFinished.has(r.id));
}
