/**
 * The arithmetic behind the link-health defaults: how fast a hard cut is detected, and how often
 * random loss brings a healthy link down by mistake. Pure; the README quotes these figures.
 *
 * Timing model. A round is sent every `intervalMs` (one probe to each target, all at once); a probe
 * not answered within `timeoutMs` is lost; a failing round is known when its timeout expires (with
 * quorum q of k targets a round can only fail once k − q + 1 probes timed out, and we assume they
 * all time out together). A hard cut at time c makes every round sent later than c − rtt fail
 * (its reply would have crossed the cut after c). With the cut uniformly distributed over the
 * probing phase, the first failing round is sent s ∈ [0, interval) after c − rtt, and the link is
 * declared down when the `downAfter`-th failing round times out:
 *
 *   delay = s + (downAfter − 1) × interval + timeout − rtt,  s ~ U[0, interval)
 *   best  = (downAfter − 1) × interval + timeout − rtt
 *   worst = downAfter × interval + timeout − rtt          (supremum)
 *   mean  = best + interval / 2,   p95 = best + 0.95 × interval
 *
 * `rttMs` defaults to 0, which gives the largest (safe) figures.
 *
 * Random loss model. Each probe is lost independently with probability p. A round fails when fewer
 * than q of the k probes are answered: P(fail) = Σ_{j<q} C(k, j) (1 − p)^j p^(k−j). A false down
 * is a run of `downAfter` failing rounds; runs start at rate (1 − P(fail)) × P(fail)^downAfter per
 * round (a pass followed by downAfter failures), so per hour ≈ roundsPerHour × that. (Exact in the
 * stationary regime up to the short time a falsely-down link spends down before `upAfter` passes
 * bring it back, during which no new false down can start.) Caveat: loss that hits all probes of a
 * round together (a burst on the access link) is not independent across targets, and then more
 * targets help less than this model says: only `downAfter` and the interval do.
 */

export interface ProbeTiming {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly targets: number;
  readonly quorum: number;
  readonly downAfter: number;
  readonly upAfter: number;
}

/** The recommended probing defaults (see the report in the commit history and the README). */
export const DEFAULT_PROBE_TIMING: ProbeTiming = {
  intervalMs: 250,
  timeoutMs: 250,
  targets: 4,
  quorum: 1,
  downAfter: 3,
  upAfter: 5,
};

export interface DetectionTimes {
  readonly bestMs: number;
  readonly meanMs: number;
  readonly p95Ms: number;
  readonly worstMs: number;
}

const MS_PER_HOUR = 3_600_000;

function assertTiming(t: Pick<ProbeTiming, "intervalMs" | "timeoutMs" | "downAfter">, rttMs: number): void {
  if (!(t.intervalMs > 0) || !(t.timeoutMs > 0)) throw new RangeError("intervalMs and timeoutMs must be > 0");
  if (!Number.isInteger(t.downAfter) || t.downAfter < 1) throw new RangeError("downAfter must be an integer ≥ 1");
  if (!(rttMs >= 0 && rttMs < t.timeoutMs)) throw new RangeError("rttMs must be in [0, timeoutMs)");
}

/** Time from a hard cut to the `down` verdict (see the model above). */
export function hardCutDetection(
  t: Pick<ProbeTiming, "intervalMs" | "timeoutMs" | "downAfter">,
  rttMs = 0,
): DetectionTimes {
  assertTiming(t, rttMs);
  const best = (t.downAfter - 1) * t.intervalMs + t.timeoutMs - rttMs;
  return {
    bestMs: best,
    meanMs: best + t.intervalMs / 2,
    p95Ms: best + 0.95 * t.intervalMs,
    worstMs: best + t.intervalMs,
  };
}

function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/** P(fewer than `quorum` of `targets` probes answered) with each probe lost independently with `lossP`. */
export function roundFailProbability(lossP: number, targets: number, quorum: number): number {
  if (!(lossP >= 0 && lossP <= 1)) throw new RangeError("lossP must be in [0, 1]");
  if (!Number.isInteger(targets) || targets < 1) throw new RangeError("targets must be an integer ≥ 1");
  if (!Number.isInteger(quorum) || quorum < 1) throw new RangeError("quorum must be an integer ≥ 1");
  if (quorum > targets) return 1;
  let sum = 0;
  for (let j = 0; j < quorum; j++) sum += binomial(targets, j) * (1 - lossP) ** j * lossP ** (targets - j);
  return sum;
}

export interface FalseDownFigures {
  readonly lossP: number;
  readonly roundFailProbability: number;
  /** Expected false downs per round: (1 − P(fail)) × P(fail)^downAfter. */
  readonly perRound: number;
  readonly roundsPerHour: number;
  readonly perHour: number;
  readonly perDay: number;
  /** 1 / perHour (Infinity when perHour is 0). */
  readonly meanHoursBetween: number;
}

/** Rate of false downs under independent random loss `lossP` per probe. */
export function falseDownRate(
  t: Pick<ProbeTiming, "intervalMs" | "targets" | "quorum" | "downAfter">,
  lossP: number,
): FalseDownFigures {
  if (!(t.intervalMs > 0)) throw new RangeError("intervalMs must be > 0");
  if (!Number.isInteger(t.downAfter) || t.downAfter < 1) throw new RangeError("downAfter must be an integer ≥ 1");
  const f = roundFailProbability(lossP, t.targets, t.quorum);
  const perRound = f ** t.downAfter * (1 - f);
  const roundsPerHour = MS_PER_HOUR / t.intervalMs;
  const perHour = roundsPerHour * perRound;
  return {
    lossP,
    roundFailProbability: f,
    perRound,
    roundsPerHour,
    perHour,
    perDay: perHour * 24,
    meanHoursBetween: perHour > 0 ? 1 / perHour : Infinity,
  };
}

export interface LinkMonitoringFigures {
  readonly timing: ProbeTiming;
  readonly hardCut: DetectionTimes;
  /** A link that comes back is `up` when the `upAfter`-th passing round is answered: worst case. */
  readonly upWorstMs: number;
  readonly falseDown: FalseDownFigures;
  /** Probe packets sent per second on one link. */
  readonly probesPerSecond: number;
}

/** All the figures for one set of parameters, as the README quotes them. */
export function linkMonitoringFigures(timing: ProbeTiming, lossP: number, rttMs = 0): LinkMonitoringFigures {
  if (!Number.isInteger(timing.upAfter) || timing.upAfter < 1) throw new RangeError("upAfter must be an integer ≥ 1");
  return {
    timing,
    hardCut: hardCutDetection(timing, rttMs),
    // The link returns just after a round went out: the next upAfter rounds must be answered.
    upWorstMs: timing.upAfter * timing.intervalMs + rttMs,
    falseDown: falseDownRate(timing, lossP),
    probesPerSecond: (timing.targets * 1000) / timing.intervalMs,
  };
}
