// What the lab benchmarks share: printing, waiting (always bounded) and percentiles.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const say = (text: string): void => void process.stdout.write(`${text}\n`);

/** The nearest-rank percentile `p` (0–100) of `xs`; NaN when there are none. */
export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** Polls `find` every 20 ms until it returns a value; bounded by `timeoutMs`. */
export async function until<T>(what: string, find: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = find();
    if (found !== undefined) return found;
    await sleep(20);
  }
  throw new Error(`bench: gave up waiting for ${what}`);
}
