// Reconnect delays: exponential, capped, with jitter so that several clients (or a client and a
// restarting Asterisk) do not retry in lockstep. Pure: the random source is injected.

export interface BackoffOptions {
  /** Delay before the first retry, ms. Default 250. */
  initialDelayMs?: number;
  /** Upper bound of any delay, ms. Default 30 000. */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /**
   * Share of the delay that is random, 0..1. Default 0.5: a delay d becomes a value in
   * [d·(1−jitter), d]. Never above maxDelayMs, never below d·(1−jitter).
   */
  jitter?: number;
  /** Source of randomness in [0, 1); default Math.random. */
  random?: () => number;
}

export interface Backoff {
  /** Delay before retry number `attempt` (0 for the first retry). */
  delay(attempt: number): number;
}

export function exponentialBackoff(options: BackoffOptions = {}): Backoff {
  const initial = options.initialDelayMs ?? 250;
  const max = options.maxDelayMs ?? 30_000;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.5;
  const random = options.random ?? Math.random;
  if (!(initial >= 0) || !(max >= initial) || !(factor >= 1) || !(jitter >= 0 && jitter <= 1)) {
    throw new RangeError("backoff: need 0 ≤ initialDelayMs ≤ maxDelayMs, factor ≥ 1, 0 ≤ jitter ≤ 1");
  }
  return {
    delay(attempt: number): number {
      const n = Math.max(0, Math.floor(attempt));
      // Grow step by step up to the cap (bounded loop; never Infinity or NaN).
      let base = initial;
      for (let i = 0; i < n && i < 64 && base < max; i++) base *= factor;
      base = Math.min(base, max);
      const r = Math.min(Math.max(random(), 0), 1);
      return Math.round(base * (1 - jitter + jitter * r));
    },
  };
}
