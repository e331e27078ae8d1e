// Waiting for one trunk to be Registered after wanctl asked for it (or a reload did).

import { performance } from "node:perf_hooks";

import type { TrunkWatch } from "./registry.js";
import type { TrunkStatus } from "./types.js";

export interface WaitResult {
  readonly registered: boolean;
  /** performance.now() of the Registered event, or of giving up. */
  readonly at: number;
  /** Last status seen after `from`, or "Timeout" when none came. */
  readonly last: TrunkStatus;
}

/** A status word from a Registry event or a registration list, as wanctl reports it. */
export const asTrunkStatus = (s: string): TrunkStatus =>
  s === "Registered" || s === "Rejected" || s === "Unregistered" || s === "Timeout" ? s : /fail|reject/i.test(s) ? "Rejected" : "Unknown";

/**
 * The first `Registered` at or after position `from` of the watch, until `deadline`. A `Rejected`
 * does not end the wait: Asterisk retries, and the retry may succeed within the time limit.
 */
export async function waitRegistered(watch: TrunkWatch, from: number, deadline: number): Promise<WaitResult> {
  const hit = await watch.wait(from, (s) => s === "Registered", deadline);
  if (hit) return { registered: true, at: hit.seen.at, last: "Registered" };
  const after = watch.seen.slice(from);
  const last = after.length ? asTrunkStatus(after[after.length - 1]!.status) : "Timeout";
  return { registered: false, at: performance.now(), last };
}
