// Retry delays: exponential, capped, with jitter so that clients that failed together (AMI
// clients and a restarting Asterisk, several offices behind one mail server or DNS provider) do
// not retry in lockstep. Pure: the policy and the random source are parameters.

export interface BackoffPolicy {
  /** Delay before the first retry, ms. */
  readonly initialMs: number;
  /** No delay is longer, ms. */
  readonly maxMs: number;
  /** Growth per attempt; 2 doubles. */
  readonly factor: number;
  /** Share of the delay that is random, 0..1: a delay d becomes a value in [d·(1−jitter), d]. */
  readonly jitter: number;
}

/** `base` with `overrides` applied; throws a RangeError naming the rule a nonsense policy breaks. */
export function backoffPolicy(base: BackoffPolicy, overrides: Partial<BackoffPolicy> = {}): BackoffPolicy {
  const p = { ...base, ...overrides };
  if (!(p.initialMs >= 0) || !(p.maxMs >= p.initialMs) || !(p.factor >= 1) || !(p.jitter >= 0 && p.jitter <= 1)) {
    throw new RangeError("backoff: need 0 ≤ initialMs ≤ maxMs, factor ≥ 1, 0 ≤ jitter ≤ 1");
  }
  return p;
}

/**
 * Delay before retry number `attempt` (1 = the first retry, after one failure), in
 * [d·(1−jitter), d] where d = initialMs·factor^(attempt−1), capped at maxMs. Never NaN or
 * Infinity, whatever `attempt` and `random()` return.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const n = Math.max(1, Math.floor(attempt) || 1);
  // Grow step by step up to the cap: a bounded loop instead of a power that can overflow.
  let delay = policy.initialMs;
  for (let i = 1; i < n && i < 64 && delay < policy.maxMs; i++) delay *= policy.factor;
  delay = Math.min(delay, policy.maxMs);
  const drawn = random();
  const r = drawn > 0 ? Math.min(drawn, 1) : 0; // NaN counts as 0
  return Math.round(delay * (1 - policy.jitter + policy.jitter * r));
}
