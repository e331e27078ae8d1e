// What the daemon tells people: alerts built from its reports and health, handed to the outbox
// (src/notify), which never blocks the failover.
import { createAlert, type Alert, type LinkFigures } from "../notify/index.js";
import type { LinkHealth } from "../wan/health.js";
import type { FailoverReport } from "./report.js";

/** The part of the notify dispatcher the daemon uses. */
export interface AlertSink {
  enqueue(alert: Alert): void;
  /** A link came back: try what is queued now instead of at the end of its backoff. */
  retryNow(): void;
  stop(): Promise<void>;
  /** Each channel's queue, for `wanctl status`. */
  status?(): { channel: string; queued: number; attempts: number; lastError?: string }[];
}

export function linkFigures(health: Iterable<LinkHealth>): LinkFigures[] {
  return [...health].map((h) => ({
    link: h.link,
    state: h.state,
    lossPct: h.metrics.lossPct,
    latencyMs: h.metrics.latencyMs,
    jitterMs: h.metrics.jitterMs,
  }));
}

export function alertFromReport(report: FailoverReport, links: LinkFigures[], startedAtMs: number): Alert {
  return createAlert(
    {
      kind: report.kind === "failback" ? "failback" : "failover",
      ...(report.from ? { from: report.from } : {}),
      to: report.to,
      reason: report.kind === "manual" ? `operator's choice: ${report.reason}` : report.reason,
      links,
      timeline: report.steps.map((step) => ({
        step: step.step,
        ok: step.ok,
        durationMs: step.durationMs,
        ...(step.startedAtMs !== undefined ? { startMs: step.startedAtMs - startedAtMs } : {}),
        ...(step.skipped ? { skipped: true } : {}),
        detail: step.detail,
      })),
      ok: report.ok,
    },
    new Date(report.startedAt),
  );
}

export function allDownAlert(active: string | null, reason: string, links: LinkFigures[], at: number): Alert {
  return createAlert({ kind: "all-down", ...(active ? { from: active } : {}), reason, links }, new Date(at));
}
