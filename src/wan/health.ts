/**
 * Link health: a pure state machine per link.
 *
 * The prober (an adapter, elsewhere) sends one *round* every `intervalMs`: one probe to each of
 * the link's targets, leaving through that link. When the round is over (every probe answered or
 * timed out) it hands the results to {@link recordRound} together with the current time. Nothing
 * here reads a clock, starts a timer or opens a socket: time comes in as numbers of milliseconds.
 *
 * States and rules (see also the tests in test/wan/health.test.ts):
 *
 * - A round **passes** when at least `quorum` targets answered, and **fails** otherwise.
 * - `unknown` (at start) → `up` after `upAfter` passing rounds in a row, → `down` after `downAfter`
 *   failing rounds in a row. From `unknown` we use the very same counts as between `up` and
 *   `down`: a verdict at start is as trustworthy as any later one, and a link that is dead when
 *   the daemon starts is reported down exactly as fast as a hard cut (the decider keeps the
 *   current link while health is unknown, so waiting costs nothing). A link whose rounds keep
 *   alternating between pass and fail may stay `unknown`: that is the honest answer.
 * - `up`/`degraded` → `down` after `downAfter` failing rounds in a row; `down` → `up` after
 *   `upAfter` passing rounds in a row. One failed (or passed) round in between restarts the count:
 *   that is the hysteresis, and why a single lost round never moves anything.
 * - When a link becomes `up` its metric window restarts with the passing streak that brought it up:
 *   the rounds lost during the outage (or before the first verdict) describe the outage, not the
 *   quality of the link now, and would otherwise mark a link that just came back as degraded.
 * - Quality (optional `params.quality`): metrics are computed over the window of the last
 *   `windowRounds` rounds. An `up` link becomes `degraded` when at least one metric is over its
 *   threshold for `degradeAfter` rounds in a row; a `degraded` link is `up` again only when every
 *   configured metric is at or under `recoverRatio` × its threshold for `recoverAfter` rounds in a
 *   row. Two thresholds (a dead band) and two counts: that is the hysteresis that keeps a link whose
 *   figures hover around a threshold from flapping. A metric that cannot be computed (no RTT
 *   sample, fewer than two consecutive answers from one target) is not judged.
 *
 * Metrics over the window:
 * - `lossPct`: unanswered probes / probes sent × 100 (per probe, all targets).
 * - `rttMeanMs`, `rttMedianMs`: over every RTT sample of the window (answered probes with a RTT);
 *   `latencyMs` is one of them, per `params.latencyStat` (default median: one slow reply should not
 *   make a link look slow; spikes show up in the jitter instead).
 * - `jitterMs`: mean absolute difference of consecutive RTTs *of the same target* (different
 *   targets have different base RTTs, so their difference is not jitter), skipping lost probes
 *   (as RFC 3550 compares consecutive packets received). This is RFC 3550's |D(i-1,i)| averaged
 *   plainly over the window instead of smoothed with gain 1/16: the window already does the
 *   smoothing, and a plain mean can be checked by hand.
 */

import type { ProbeResult } from "./probes/types.js";

export const LINK_STATES = ["unknown", "up", "degraded", "down"] as const;
export type LinkState = (typeof LINK_STATES)[number];

/** One probe to each target of a link (only `target`, `ok` and `rttMs` are read). */
export type ProbeRound = readonly ProbeResult[];

export interface QualityThresholds {
  /** Loss over the window, in percent (0–100). */
  readonly maxLossPct?: number;
  /** Latency (`latencyStat` of the RTTs over the window), ms. */
  readonly maxLatencyMs?: number;
  /** Mean absolute difference of consecutive RTTs per target, ms. */
  readonly maxJitterMs?: number;
  /** Rounds in a row over a threshold before `up` → `degraded`. Default 3. */
  readonly degradeAfter?: number;
  /** Rounds in a row with every metric ≤ recoverRatio × threshold before `degraded` → `up`. Default 10. */
  readonly recoverAfter?: number;
  /** Fraction of each threshold a metric must be back under to count toward recovery. Default 0.8. */
  readonly recoverRatio?: number;
}

export interface HealthParams {
  /** A round passes when at least this many targets answered. */
  readonly quorum: number;
  /** Failing rounds in a row before a link is `down`. */
  readonly downAfter: number;
  /** Passing rounds in a row before a link is `up`. */
  readonly upAfter: number;
  /** Rounds kept for loss/latency/jitter. */
  readonly windowRounds: number;
  /** Which RTT statistic is `latencyMs`. Default "median". */
  readonly latencyStat?: "mean" | "median";
  /** Quality thresholds; without them a working link is never `degraded`. */
  readonly quality?: QualityThresholds;
}

export const DEFAULT_QUALITY_HYSTERESIS = {
  degradeAfter: 3,
  recoverAfter: 10,
  recoverRatio: 0.8,
} as const;

/**
 * Recommended defaults (with 4 targets, intervalMs 250, timeoutMs 250: see
 * {@link linkMonitoringFigures} and the README for the arithmetic). `windowRounds` 80 is 20 s of
 * history at 250 ms, 320 probes with 4 targets.
 */
export const DEFAULT_HEALTH_PARAMS: HealthParams = {
  quorum: 1,
  downAfter: 3,
  upAfter: 5,
  windowRounds: 80,
  latencyStat: "median",
};

/** One round as kept in the window. */
export interface RoundRecord {
  readonly at: number;
  readonly targets: number;
  readonly answered: number;
  readonly passed: boolean;
  readonly results: readonly { readonly target: string; readonly ok: boolean; readonly rttMs: number | null }[];
}

export interface HealthMetrics {
  /** Rounds in the window now. */
  readonly rounds: number;
  readonly probesSent: number;
  readonly probesAnswered: number;
  /** null while the window is empty. */
  readonly lossPct: number | null;
  /** `rttMedianMs` or `rttMeanMs` per `latencyStat`; null without RTT samples. */
  readonly latencyMs: number | null;
  readonly rttMeanMs: number | null;
  readonly rttMedianMs: number | null;
  /** null without two consecutive answers from one target. */
  readonly jitterMs: number | null;
  readonly lastRound: { readonly answered: number; readonly targets: number; readonly passed: boolean } | null;
  readonly passStreak: number;
  readonly failStreak: number;
}

export interface LinkHealth {
  readonly link: string;
  readonly state: LinkState;
  /** When the link entered `state` (ms, the injected clock); for `unknown`, when monitoring began. */
  readonly since: number;
  readonly lastRoundAt: number | null;
  /** Passing / failing rounds in a row (one of the two is always 0 after the first round). */
  readonly passStreak: number;
  readonly failStreak: number;
  /** Rounds in a row over a quality threshold (counted while `up`). */
  readonly qualityBadStreak: number;
  /** Rounds in a row with every metric within recovery limits (counted while `degraded`). */
  readonly qualityGoodStreak: number;
  readonly window: readonly RoundRecord[];
  readonly metrics: HealthMetrics;
}

export interface HealthEvent {
  readonly link: string;
  readonly from: LinkState;
  readonly to: LinkState;
  /** When the transition happened, also the new `since`. */
  readonly at: number;
  /** When the link had entered `from`. */
  readonly previousSince: number;
  /** Plain words, e.g. "3 rounds in a row failed: 0/3 targets answered (quorum 1)". */
  readonly reason: string;
  /** The figures at that moment (after the round). */
  readonly metrics: HealthMetrics;
}

export interface HealthStepResult {
  readonly health: LinkHealth;
  /** The transition this round caused, if any (at most one per round). */
  readonly event: HealthEvent | null;
}

const EMPTY_METRICS: HealthMetrics = {
  rounds: 0,
  probesSent: 0,
  probesAnswered: 0,
  lossPct: null,
  latencyMs: null,
  rttMeanMs: null,
  rttMedianMs: null,
  jitterMs: null,
  lastRound: null,
  passStreak: 0,
  failStreak: 0,
};

/** A link nobody knows anything about yet. */
export function createLinkHealth(link: string, nowMs: number): LinkHealth {
  return {
    link,
    state: "unknown",
    since: nowMs,
    lastRoundAt: null,
    passStreak: 0,
    failStreak: 0,
    qualityBadStreak: 0,
    qualityGoodStreak: 0,
    window: [],
    metrics: EMPTY_METRICS,
  };
}

/** Problems with `params` (empty when valid). `targetCount`, when given, is checked against the quorum. */
export function checkHealthParams(params: HealthParams, targetCount?: number): string[] {
  const problems: string[] = [];
  const positiveInt = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 1) problems.push(`${name} must be an integer ≥ 1 (got ${v})`);
  };
  positiveInt("quorum", params.quorum);
  positiveInt("downAfter", params.downAfter);
  positiveInt("upAfter", params.upAfter);
  positiveInt("windowRounds", params.windowRounds);
  if (targetCount !== undefined && params.quorum > targetCount) {
    problems.push(`quorum ${params.quorum} is more than the ${targetCount} targets: every round would fail`);
  }
  const q = params.quality;
  if (q) {
    const nonNegative = (name: string, v: number | undefined): void => {
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) problems.push(`quality.${name} must be a number ≥ 0 (got ${v})`);
    };
    nonNegative("maxLossPct", q.maxLossPct);
    nonNegative("maxLatencyMs", q.maxLatencyMs);
    nonNegative("maxJitterMs", q.maxJitterMs);
    if (q.maxLossPct !== undefined && q.maxLossPct > 100) problems.push(`quality.maxLossPct must be ≤ 100 (got ${q.maxLossPct})`);
    if (q.degradeAfter !== undefined) positiveInt("quality.degradeAfter", q.degradeAfter);
    if (q.recoverAfter !== undefined) positiveInt("quality.recoverAfter", q.recoverAfter);
    if (q.recoverRatio !== undefined && !(q.recoverRatio > 0 && q.recoverRatio <= 1)) {
      problems.push(`quality.recoverRatio must be in (0, 1] (got ${q.recoverRatio})`);
    }
  }
  return problems;
}

function validRtt(r: ProbeResult): number | null {
  return r.ok && typeof r.rttMs === "number" && Number.isFinite(r.rttMs) && r.rttMs >= 0 ? r.rttMs : null;
}

/** Metrics over a window of rounds (oldest first). Exported for tests and status output. */
export function computeMetrics(
  window: readonly RoundRecord[],
  latencyStat: "mean" | "median" = "median",
  streaks: { passStreak: number; failStreak: number } = { passStreak: 0, failStreak: 0 },
): HealthMetrics {
  let sent = 0;
  let answered = 0;
  const rtts: number[] = [];
  const lastRttByTarget = new Map<string, number>();
  let jitterSum = 0;
  let jitterPairs = 0;
  for (const round of window) {
    for (const r of round.results) {
      sent += 1;
      if (!r.ok) continue;
      answered += 1;
      if (r.rttMs === null) continue;
      rtts.push(r.rttMs);
      const prev = lastRttByTarget.get(r.target);
      if (prev !== undefined) {
        jitterSum += Math.abs(r.rttMs - prev);
        jitterPairs += 1;
      }
      lastRttByTarget.set(r.target, r.rttMs);
    }
  }
  const mean = rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length : null;
  let median: number | null = null;
  if (rtts.length) {
    const s = [...rtts].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  }
  const last = window.length ? window[window.length - 1]! : null;
  return {
    rounds: window.length,
    probesSent: sent,
    probesAnswered: answered,
    lossPct: sent ? ((sent - answered) / sent) * 100 : null,
    latencyMs: latencyStat === "mean" ? mean : median,
    rttMeanMs: mean,
    rttMedianMs: median,
    jitterMs: jitterPairs ? jitterSum / jitterPairs : null,
    lastRound: last ? { answered: last.answered, targets: last.targets, passed: last.passed } : null,
    passStreak: streaks.passStreak,
    failStreak: streaks.failStreak,
  };
}

/** Figures in reasons: at most one decimal, no trailing ".0". */
function num(n: number): string {
  return String(Math.round(n * 10) / 10);
}

function rounds(n: number): string {
  return n === 1 ? "1 round" : `${n} rounds`;
}

interface QualityCheck {
  readonly name: string;
  readonly value: number | null;
  readonly max: number;
  readonly unit: string;
}

function qualityChecks(m: HealthMetrics, q: QualityThresholds): QualityCheck[] {
  const checks: QualityCheck[] = [];
  if (q.maxLossPct !== undefined) checks.push({ name: "loss", value: m.lossPct, max: q.maxLossPct, unit: "%" });
  if (q.maxLatencyMs !== undefined) checks.push({ name: "latency", value: m.latencyMs, max: q.maxLatencyMs, unit: " ms" });
  if (q.maxJitterMs !== undefined) checks.push({ name: "jitter", value: m.jitterMs, max: q.maxJitterMs, unit: " ms" });
  return checks;
}

/**
 * A state learned from outside the probes (a router that switches by itself says which link it
 * uses): the link is `to` from now, with `reason`. Pure; no event when it already was.
 */
export function observedState(health: LinkHealth, to: LinkState, reason: string, nowMs: number): HealthStepResult {
  if (health.state === to) return { health, event: null };
  const next: LinkHealth = { ...health, state: to, since: nowMs, qualityBadStreak: 0, qualityGoodStreak: 0 };
  return { health: next, event: { link: health.link, from: health.state, to, at: nowMs, previousSince: health.since, reason, metrics: health.metrics } };
}

/**
 * The link's interface lost its carrier (cable pulled, modem off, the ISP's port down): the link is
 * down now, without waiting for `downAfter` rounds. Its rounds bring it back up as usual. Pure; no
 * event when it was down already.
 */
export function carrierLost(health: LinkHealth, iface: string, nowMs: number): HealthStepResult {
  if (health.state === "down") return { health, event: null };
  const metrics = { ...health.metrics, passStreak: 0 };
  const next: LinkHealth = { ...health, state: "down", since: nowMs, passStreak: 0, qualityBadStreak: 0, qualityGoodStreak: 0, metrics };
  return {
    health: next,
    event: { link: health.link, from: health.state, to: "down", at: nowMs, previousSince: health.since, reason: `carrier lost on ${iface} (cable, modem or the ISP's port)`, metrics },
  };
}

/**
 * Feed one finished round. Pure: returns the new health and the transition it caused, if any.
 * `params` must be valid ({@link checkHealthParams}).
 */
export function recordRound(health: LinkHealth, round: ProbeRound, nowMs: number, params: HealthParams): HealthStepResult {
  const targets = round.length;
  const answered = round.filter((r) => r.ok).length;
  const passed = answered >= params.quorum;
  const record: RoundRecord = {
    at: nowMs,
    targets,
    answered,
    passed,
    results: round.map((r) => ({ target: r.target, ok: r.ok, rttMs: validRtt(r) })),
  };
  let window = [...health.window, record];
  if (window.length > params.windowRounds) window = window.slice(window.length - params.windowRounds);
  const passStreak = passed ? health.passStreak + 1 : 0;
  const failStreak = passed ? 0 : health.failStreak + 1;
  const stat = params.latencyStat ?? "median";
  const roundWords = `${answered}/${targets} targets answered (quorum ${params.quorum})`;

  const base = { link: health.link, lastRoundAt: nowMs, passStreak, failStreak };
  const transition = (to: LinkState, reason: string, w: readonly RoundRecord[]): HealthStepResult => {
    const metrics = computeMetrics(w, stat, { passStreak, failStreak });
    const next: LinkHealth = {
      ...base,
      state: to,
      since: nowMs,
      qualityBadStreak: 0,
      qualityGoodStreak: 0,
      window: w,
      metrics,
    };
    return {
      health: next,
      event: { link: health.link, from: health.state, to, at: nowMs, previousSince: health.since, reason, metrics },
    };
  };

  // 1. Reachability, with hysteresis in both directions.
  if (health.state !== "down" && failStreak >= params.downAfter) {
    return transition("down", `${rounds(failStreak)} in a row failed: ${roundWords}`, window);
  }
  if ((health.state === "down" || health.state === "unknown") && passStreak >= params.upAfter) {
    // The window restarts with the passing streak: the outage is not the link's quality now.
    const fresh = window.slice(Math.max(0, window.length - passStreak));
    return transition("up", `${rounds(passStreak)} in a row passed: ${roundWords}`, fresh);
  }

  const metrics = computeMetrics(window, stat, { passStreak, failStreak });
  const stay = (qualityBadStreak: number, qualityGoodStreak: number): HealthStepResult => ({
    health: { ...base, state: health.state, since: health.since, qualityBadStreak, qualityGoodStreak, window, metrics },
    event: null,
  });

  // 2. Quality, only for a link that works.
  const q = params.quality;
  if (!q || (health.state !== "up" && health.state !== "degraded")) return stay(0, 0);
  const checks = qualityChecks(metrics, q);
  if (health.state === "up") {
    const over = checks.filter((c) => c.value !== null && c.value > c.max);
    const bad = over.length ? health.qualityBadStreak + 1 : 0;
    const degradeAfter = q.degradeAfter ?? DEFAULT_QUALITY_HYSTERESIS.degradeAfter;
    if (bad >= degradeAfter) {
      const what = over.map((c) => `${c.name} ${num(c.value!)}${c.unit} > ${num(c.max)}${c.unit}`).join(", ");
      return transition("degraded", `quality over thresholds for ${rounds(bad)} in a row: ${what}`, window);
    }
    return stay(bad, 0);
  }
  // degraded
  const ratio = q.recoverRatio ?? DEFAULT_QUALITY_HYSTERESIS.recoverRatio;
  const within = checks.every((c) => c.value === null || c.value <= c.max * ratio);
  const good = within ? health.qualityGoodStreak + 1 : 0;
  const recoverAfter = q.recoverAfter ?? DEFAULT_QUALITY_HYSTERESIS.recoverAfter;
  if (good >= recoverAfter) {
    const what = checks
      .filter((c) => c.value !== null)
      .map((c) => `${c.name} ${num(c.value!)}${c.unit} ≤ ${num(c.max * ratio)}${c.unit}`)
      .join(", ");
    return transition("up", `quality back within thresholds for ${rounds(good)} in a row${what ? `: ${what}` : ""}`, window);
  }
  return stay(0, good);
}

export {
  DEFAULT_PROBE_TIMING,
  hardCutDetection,
  roundFailProbability,
  falseDownRate,
  linkMonitoringFigures,
} from "./health/figures.js";
export type { ProbeTiming, DetectionTimes, FalseDownFigures, LinkMonitoringFigures } from "./health/figures.js";
