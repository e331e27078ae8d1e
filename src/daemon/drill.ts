// The failover drill (`wanctl test`, or on the drills.schedule): the office moves to its best
// backup link and back, every step for real, and the report says which step passed or failed.
import type { LinkConfig } from "../config/schema/links.js";
import type { Logger } from "../log.js";
import { createAlert, type Alert, type LinkFigures } from "../notify/index.js";
import type { LinkHealth } from "../wan/health.js";
import type { FailoverReport } from "./report.js";

export interface DrillReport {
  ok: boolean;
  startedAt: string;
  durationMs: number;
  /** Why the drill did not run, when it was refused. */
  refused?: string;
  from?: string;
  to?: string;
  out?: FailoverReport;
  back?: FailoverReport;
  /** What the drill found beyond the steps (e.g. it could not return). */
  notes: string[];
}

export interface DrillHost {
  now(): number;
  logger: Logger;
  links: readonly LinkConfig[];
  health: ReadonlyMap<string, LinkHealth>;
  active(): string | null;
  /** Why no drill can start now, if so. */
  busy(): string | undefined;
  pinned(): boolean;
  /** Holds the automatic decisions during the drill (and lets them go after). */
  hold(on: boolean): void;
  move(to: string, from: string | null, reason: string): Promise<FailoverReport>;
  alert(report: DrillReport): void;
}

function refuse(host: DrillHost, started: number, why: string): DrillReport {
  host.logger.warn({ why }, `drill refused: ${why}`);
  return { ok: false, startedAt: new Date(started).toISOString(), durationMs: 0, refused: why, notes: [] };
}

export async function runDrill(host: DrillHost): Promise<DrillReport> {
  const started = host.now();
  const from = host.active();
  const busy = host.busy();
  if (busy) return refuse(host, started, busy);
  if (host.pinned()) return refuse(host, started, "the office is pinned to a link (`wanctl auto` first)");
  if (!from || host.health.get(from)?.state !== "up") return refuse(host, started, `the active link ${from ?? "(none)"} is not up`);
  const backups = host.links
    .filter((l) => l.name !== from && host.health.get(l.name)?.state === "up")
    .sort((a, b) => a.priority - b.priority);
  const to = backups[0]?.name;
  if (!to) return refuse(host, started, "no other link is up to drill on");

  host.hold(true);
  const notes: string[] = [];
  try {
    host.logger.warn({ from, to }, `drill: moving the office to ${to} and back`);
    const out = await host.move(to, from, `drill: to ${to} and back to ${from}`);
    let back: FailoverReport | undefined;
    if (host.health.get(from)?.state === "up") {
      back = await host.move(from, to, `drill: back to ${from}`);
    } else {
      notes.push(`${from} went down during the drill: the office stays on ${to}`);
    }
    const report: DrillReport = {
      ok: out.ok && back?.ok === true,
      startedAt: new Date(started).toISOString(),
      durationMs: host.now() - started,
      from,
      to,
      out,
      ...(back ? { back } : {}),
      notes,
    };
    host.logger[report.ok ? "info" : "error"]({ report }, `drill ${report.ok ? "passed" : "FAILED"} in ${report.durationMs} ms`);
    host.alert(report);
    return report;
  } finally {
    host.hold(false);
  }
}

/** The drill as one alert: both switches' steps in one timeline. */
export function drillAlert(report: DrillReport, links: LinkFigures[]): Alert {
  const started = Date.parse(report.startedAt);
  const timeline = [report.out, report.back].flatMap((sw) =>
    (sw?.steps ?? []).map((step) => ({
      step: `${sw!.to}: ${step.step}`,
      ok: step.ok,
      durationMs: step.durationMs,
      ...(step.startedAtMs !== undefined ? { startMs: step.startedAtMs - started } : {}),
      ...(step.skipped ? { skipped: true } : {}),
      detail: step.detail,
    })),
  );
  const reason = report.refused
    ? `drill refused: ${report.refused}`
    : `drill ${report.ok ? "passed" : "FAILED"}: ${report.from} → ${report.to} → ${report.back ? report.from : report.to}${report.notes.length ? `; ${report.notes.join("; ")}` : ""}`;
  return createAlert(
    { kind: "drill", ...(report.from ? { from: report.from } : {}), ...(report.to ? { to: report.to } : {}), reason, links, timeline, ok: report.ok },
    new Date(started),
  );
}
