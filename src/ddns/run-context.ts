// What every step of one update run shares: its options, its clocks, and the deadlines and source
// address each network call gets.
import type { CallOptions } from "./provider.js";
import type { UpdateOptions } from "./update-types.js";

export const round = (ms: number): number => Math.round(ms * 1000) / 1000;
export const iso = (ms: number): string => new Date(ms).toISOString();

export function abortAfter(ms: number, outer?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(ms);
  return outer ? AbortSignal.any([outer, t]) : t;
}

export interface Ctx {
  readonly opts: UpdateOptions;
  readonly now: () => number;
  readonly random: () => number;
}

/** This run's source address reaches the providers' sockets, also for providers built earlier. */
export const callOptions = (ctx: Ctx): CallOptions => (ctx.opts.sourceAddress ? { sourceAddress: ctx.opts.sourceAddress } : {});
