// The plain-text body shared by the email and the webhook: one alert's story, or a digest's
// summary and event list followed by the latest alert's story.
import type { Alert, AlertStep, LinkFigures } from "../alert.js";
import { digestSummary, listedEvents } from "./digest.js";
import { duration, ms, percent, table } from "./format.js";
import type { TimeFormat } from "./time-format.js";
import type { View } from "./view.js";
import { introLine, outcomeLine } from "./words.js";

function linkLine(l: LinkFigures): string[] {
  return [
    l.link,
    l.state ?? "",
    `loss ${percent(l.lossPct)}`,
    `latency ${ms(l.latencyMs)}`,
    `jitter ${ms(l.jitterMs)}`,
  ];
}

function stepRow(s: AlertStep, withOffset: boolean): string[] {
  const row = [s.skipped ? "skipped" : s.ok ? "ok" : "FAILED", s.step, duration(s.durationMs), s.detail ?? ""];
  return withOffset ? [`+${duration(s.startMs ?? 0)}`, ...row] : row;
}

/** The story of one alert, in plain text (also the "latest" part of a digest). */
function alertDetails(a: Alert, fmt: TimeFormat): string[] {
  const lines = [introLine(a, fmt), ""];
  const facts: [string, string | undefined][] = [
    ["Why", a.reason || undefined],
    ["Public address", a.publicAddress],
    ["Outcome", outcomeLine(a)],
  ];
  const present = facts.filter((f): f is [string, string] => f[1] !== undefined);
  const width = Math.max(0, ...present.map(([k]) => k.length)) + 1;
  for (const [key, value] of present) lines.push(`${`${key}:`.padEnd(width)} ${value}`);
  if (a.links.length > 0) lines.push("", "Links:", ...table(a.links.map(linkLine)));
  if (a.timeline.length > 0) {
    const withOffset = a.timeline.every((s) => s.startMs !== undefined);
    lines.push("", "Timeline:", ...table(a.timeline.map((s) => stepRow(s, withOffset))));
  }
  return lines;
}

export function plainBody(view: View): string {
  const lines: string[] = [];
  if (view.digest) {
    const { lines: events, hidden } = listedEvents(view);
    lines.push(`${digestSummary(view)}.`, "", `Events (${view.fmt.zone(view.latest.at)}):`);
    if (hidden > 0) lines.push(`  … ${hidden} earlier not listed`);
    lines.push(...events.map((l) => `  ${l}`), "", "Latest:", "");
  }
  lines.push(...alertDetails(view.latest, view.fmt));
  lines.push("", "-- ", `wanctl · ${view.alerts.length === 1 ? `alert ${view.latest.id}` : `${view.alerts.length} alerts`}`);
  return `${lines.join("\n")}\n`;
}
