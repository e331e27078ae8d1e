// How long a record waits after a transient failure before the next automatic try.

/** Back-off bounds: 30 s doubling per failure up to 30 min, jittered to 50–100 %; a provider's own wait is honoured up to 2 h. */
export const BACKOFF = { baseMs: 30_000, maxMs: 30 * 60_000, maxRetryAfterMs: 2 * 3_600_000 } as const;

export function backoffMs(failures: number, random: () => number, retryAfterMs?: number): number {
  const exp = Math.min(BACKOFF.maxMs, BACKOFF.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 16)));
  const jittered = Math.round(exp * (0.5 + 0.5 * Math.min(Math.max(random(), 0), 1)));
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, BACKOFF.maxRetryAfterMs));
}
