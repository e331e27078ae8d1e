// What the daemon tells the parts that watch it (metrics, history, the status page, systemd): one
// narrow interface, so that they follow the daemon without reaching into it. Observers only
// watch: they never change what the daemon does, and one that throws never disturbs it.
import type { Logger } from "../log.js";
import type { EgressSample } from "../wan/egress.js";
import type { LinkHealth } from "../wan/health.js";
import type { ProbeResult } from "../wan/probes/types.js";
import type { DrillReport } from "./lifecycle.js";
import type { FailoverReport } from "./report.js";
import type { DaemonStatus } from "./status-file.js";

/** Why a switch ran: the decider (failover, failback, a pin), a leg of a drill, or a repair run of unfinished steps. */
export type SwitchOrigin = "decision" | "drill" | "repair";

export interface DaemonObserver {
  /** Every probe round of a link, with the link's health after it (the probe loop: feed the watchdog from here). */
  round?(link: string, results: readonly ProbeResult[], health: LinkHealth, at: number): void;
  /** Every look at the office's egress where wanctl follows a router (route.backend "none"): its loop, as `round` is the probes'. */
  egress?(sample: EgressSample, at: number): void;
  /** Every finished switch: failover, failback, manual, each leg of a drill, and repair runs. */
  switched?(report: FailoverReport, origin: SwitchOrigin): void;
  /** A finished (or refused) drill. */
  drilled?(report: DrillReport): void;
  /** The daemon's status whenever it is written (every second and on every change). */
  status?(status: DaemonStatus): void;
  /** The daemon is stopping; awaited (bounded by the observer) before the daemon's last status. */
  stopping?(): void | Promise<void>;
}

/** All observers as one, each call guarded: an observer's bug is logged, never the daemon's problem. */
export function fanOut(observers: readonly DaemonObserver[], logger: Logger): Required<DaemonObserver> {
  const guarded = <K extends keyof DaemonObserver>(event: K) =>
    ((...args: unknown[]) => {
      const pending: Promise<void>[] = [];
      for (const observer of observers) {
        try {
          const result = (observer[event] as ((...a: unknown[]) => unknown) | undefined)?.apply(observer, args);
          if (result instanceof Promise) pending.push(result.catch((error: unknown) => complain(event, error)));
        } catch (error) {
          complain(event, error);
        }
      }
      return pending.length ? Promise.all(pending).then(() => undefined) : undefined;
    }) as Required<DaemonObserver>[K];
  const complained = new Set<string>();
  const complain = (event: string, error: unknown) => {
    // Once per event kind: a bug that throws on every round must not flood the journal.
    if (complained.has(event)) return;
    complained.add(event);
    logger.error({ err: (error as Error).stack }, `an observer failed on ${event}: ${(error as Error).message}`);
  };
  return { round: guarded("round"), egress: guarded("egress"), switched: guarded("switched"), drilled: guarded("drilled"), status: guarded("status"), stopping: guarded("stopping") };
}
