// Every alert the daemon raises is built here, from what happened and the links' figures at the
// time, and handed to the outbox (src/notify), which never blocks the failover. One fan-out: the
// lifecycle's alerts (switches, failed and repaired steps, drills), all links down, a DNS record
// stopped by its provider, and problems of wanctl's own (a damaged file, a full disk).
import type { DdnsAlert } from "../ddns/index.js";
import { createAlert, type Alert, type AlertStep, type LinkFigures } from "../notify/index.js";
import type { LinkHealth } from "../wan/health.js";
import type { LifecycleAlert } from "./lifecycle.js";
import type { FailoverReport } from "./report.js";

/** The part of the notify dispatcher the daemon uses. */
export interface AlertSink {
  /** Queues an alert; an id already queued or delivered is ignored (exactly once across restarts). */
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

function timeline(report: FailoverReport, prefix = "", startedAtMs = Date.parse(report.startedAt)): AlertStep[] {
  return report.steps.map((step) => ({
    step: `${prefix}${step.step}`,
    ok: step.ok,
    durationMs: step.durationMs,
    ...(step.startedAtMs !== undefined ? { startMs: Math.max(0, step.startedAtMs - startedAtMs) } : {}),
    ...(step.skipped ? { skipped: true } : {}),
    detail: step.detail,
  }));
}

/** The lifecycle's alert as people read it. `at` is the wall time now (ms). */
export function lifecycleAlert(alert: LifecycleAlert, links: LinkFigures[], at: number): Alert {
  switch (alert.kind) {
    case "switch":
    case "interrupted": {
      const r = alert.report;
      const why = r.kind === "manual" ? `operator's choice: ${r.reason}` : r.reason;
      const reason =
        alert.kind === "interrupted"
          ? `${why}; interrupted by a restart of wanctl: the office is on ${alert.active ?? "no link"}, which wanctl checked and mended`
          : alert.resumed
            ? `${why}; finished after a restart of wanctl`
            : why;
      const kind = r.kind === "failback" ? "failback" : "failover";
      return createAlert({ kind, ...(r.from ? { from: r.from } : {}), to: r.to, reason, links, timeline: timeline(r), ok: alert.kind === "switch" && r.ok }, new Date(r.startedAt), alert.id);
    }
    case "step-failed": {
      const names = alert.steps.filter((s) => !s.ok && !s.skipped).map((s) => s.step);
      const reason = `on ${alert.link}: ${names.join(", ")} failed; wanctl keeps trying and tells when it works again`;
      const steps = alert.steps.map((s) => ({ step: s.step, ok: s.ok, durationMs: s.durationMs, ...(s.skipped ? { skipped: true } : {}), detail: s.detail }));
      return createAlert({ kind: "step-failed", to: alert.link, reason, links, timeline: steps, ok: false }, new Date(at), alert.id);
    }
    case "repaired": {
      const since = alert.since ? `failing since ${alert.since}, ` : "";
      const what = alert.what.length ? alert.what.join("; ") : "every step works again";
      const reason = `on ${alert.link}: ${since}put right: ${what}`;
      const steps = alert.steps.map((s) => ({ step: s.step, ok: s.ok, durationMs: s.durationMs, detail: s.detail }));
      return createAlert({ kind: "repaired", to: alert.link, reason, links, timeline: steps, ok: true }, new Date(at), alert.id);
    }
    case "drill": {
      const report = alert.report;
      const started = Date.parse(report.startedAt);
      const steps = [report.out, report.back].flatMap((sw) => (sw ? timeline(sw, `${sw.to}: `, started) : []));
      const reason = report.refused
        ? `drill refused: ${report.refused}`
        : `drill ${report.ok ? "passed" : "FAILED"}: ${report.from} → ${report.to} → ${report.back ? report.from : report.to}${report.notes.length ? `; ${report.notes.join("; ")}` : ""}`;
      return createAlert({ kind: "drill", ...(report.from ? { from: report.from } : {}), ...(report.to ? { to: report.to } : {}), reason, links, timeline: steps, ok: report.ok }, new Date(started), alert.id);
    }
  }
}

/**
 * The office's path to the Internet through the router (route.backend "none" with monitor.targets)
 * went down, or came back. `active` is the link the office was last seen leaving by.
 */
export function gatewayAlert(change: "down" | "up", active: string | null, reason: string, links: LinkFigures[], at: number): Alert {
  return createAlert({ kind: change === "down" ? "gateway-down" : "gateway-up", ...(active ? { to: active } : {}), reason, links, ok: change === "up" }, new Date(at));
}

export function allDownAlert(active: string | null, reason: string, links: LinkFigures[], at: number): Alert {
  return createAlert({ kind: "all-down", ...(active ? { from: active } : {}), reason, links }, new Date(at));
}

/** A DNS record its provider refused for good (bad credentials, unknown host): people must act. */
export function dnsStoppedAlert(alert: DdnsAlert, at: number): Alert {
  return createAlert({ kind: "step-failed", reason: `DNS record ${alert.record} (${alert.provider}) stopped until the config changes: ${alert.detail}`, links: [] }, new Date(at));
}

/** Something wrong with wanctl itself (a damaged file, a full disk): said once, loudly. */
export function problemAlert(problem: string, at: number): Alert {
  return createAlert({ kind: "problem", reason: problem, links: [], ok: false }, new Date(at));
}
