// Retry delays for a channel that cannot be reached: exponential, capped, with jitter so that the
// channels (and several offices behind one mail server) do not retry in lockstep. Pure.

export interface BackoffPolicy {
  /** Delay after the first failure, ms. */
  initialMs: number;
  /** No delay is longer: once the channel is back, the queue is delivered within this time. */
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 5_000, maxMs: 300_000, factor: 2 };

/** Delay before the retry after `failures` failed attempts (1 = the first failure): in [d/2, d]. */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number): number {
  let delay = policy.initialMs;
  // Bounded loop: at most 64 doublings, and it stops at the cap.
  for (let i = 1; i < failures && i < 64 && delay < policy.maxMs; i++) delay *= policy.factor;
  delay = Math.min(delay, policy.maxMs);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(delay * (0.5 + 0.5 * r));
}
