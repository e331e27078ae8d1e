// The text of an alert for each channel: an email (subject + plain text), a Slack Block Kit payload
// that reads well on a phone, and JSON for generic webhooks. Pure: a message and options in, data
// out. Several alerts in one message (flapping, an outage of the channel, the rate limit) become a
// digest that still tells the whole story: counts, the list of events, and where the office is now.
import { alertSucceeded, failedSteps, type Alert, type AlertStep, type LinkFigures } from "./alert.js";
import type { Message } from "./notifier.js";
import { sanitizeAlert } from "./sanitize.js";

export interface RenderOptions {
  /** IANA time zone for the times in the text (the office's); default: the process's zone. */
  timeZone?: string;
  /** Secret values (passwords, tokens, webhook URLs) to scrub from every string. */
  secrets?: readonly string[];
  /** Events a digest lists one by one before "… and N more". Default 20. */
  maxListed?: number;
}

export interface EmailContent {
  subject: string;
  text: string;
}

export interface SlackText {
  type: "plain_text" | "mrkdwn";
  text: string;
  emoji?: boolean;
}
export type SlackBlock =
  | { type: "header"; text: SlackText & { type: "plain_text" } }
  | { type: "section"; text?: SlackText; fields?: SlackText[] }
  | { type: "context"; elements: SlackText[] }
  | { type: "divider" };

export interface SlackPayload {
  /** Shown in notifications and by clients that cannot show blocks. */
  text: string;
  blocks: SlackBlock[];
  /** Invisible to people; lets a consumer recognise a duplicate by id. */
  metadata: { event_type: "wanctl_alert"; event_payload: { message_id: string; alert_ids: string } };
}

export interface WebhookPayload {
  source: "wanctl";
  version: 1;
  messageId: string;
  /** One line, as in the email subject. */
  summary: string;
  /** The same plain text as the email body. */
  text: string;
  /** The alerts this message delivers (an idempotent consumer keys on their ids). */
  alerts: Alert[];
  /** Alerts already delivered earlier in the same episode, for context. */
  earlier: { id: string; kind: Alert["kind"]; at: string; from?: string; to?: string; reason: string }[];
  omitted: number;
}

// Slack's limits (Block Kit reference): header text 150, section text 3000, field 2000, 10 fields.
const SLACK_HEADER_MAX = 150;
const SLACK_TEXT_MAX = 3000;
const SLACK_FIELD_MAX = 2000;
const SUBJECT_REASON_MAX = 90;

// ---------------------------------------------------------------------------------------------
// Entry points

export function renderEmail(message: Message, options: RenderOptions = {}): EmailContent {
  const view = prepare(message, options);
  // A reason with a line break must not end the header (or start a forged one).
  const subject = `[wanctl] ${view.digest ? digestTitle(view) : subjectLine(view.latest)}`.replace(/\s+/g, " ");
  return { subject, text: plainBody(view) };
}

export function renderSlack(message: Message, options: RenderOptions = {}): SlackPayload {
  const view = prepare(message, options);
  const blocks = view.digest ? slackDigest(view) : slackSingle(view.latest, view);
  blocks.push({ type: "context", elements: [mrkdwn(`wanctl · ${escapeMrkdwn(view.fmt.full(view.latest.at))} · ref ${shortId(message.id)}`)] });
  return {
    text: truncate(view.digest ? digestSummary(view) : subjectLine(view.latest), 3000),
    blocks,
    metadata: { event_type: "wanctl_alert", event_payload: { message_id: message.id, alert_ids: view.alerts.map((a) => a.id).join(",") } },
  };
}

export function renderWebhook(message: Message, options: RenderOptions = {}): WebhookPayload {
  const view = prepare(message, options);
  return {
    source: "wanctl",
    version: 1,
    messageId: message.id,
    summary: view.digest ? digestSummary(view) : subjectLine(view.latest),
    text: plainBody(view),
    alerts: [...view.alerts],
    earlier: view.earlier.map((a) => ({ id: a.id, kind: a.kind, at: a.at, reason: a.reason, ...(a.from ? { from: a.from } : {}), ...(a.to ? { to: a.to } : {}) })),
    omitted: view.omitted,
  };
}

// ---------------------------------------------------------------------------------------------
// The view every rendering works from: sanitized alerts in time order and a time formatter.

interface View {
  alerts: Alert[];
  earlier: Alert[];
  /** earlier + alerts, oldest first. */
  all: Alert[];
  latest: Alert;
  omitted: number;
  digest: boolean;
  maxListed: number;
  fmt: TimeFormat;
}

function prepare(message: Message, options: RenderOptions): View {
  const secrets = options.secrets ?? [];
  const byTime = (a: Alert, b: Alert) => Date.parse(a.at) - Date.parse(b.at);
  const alerts = message.alerts.map((a) => sanitizeAlert(a, secrets)).sort(byTime);
  const earlier = message.earlier.map((a) => sanitizeAlert(a, secrets)).sort(byTime);
  const latest = alerts[alerts.length - 1];
  if (!latest) throw new RangeError("a message needs at least one alert");
  const all = [...earlier, ...alerts].sort(byTime);
  return {
    alerts,
    earlier,
    all,
    latest,
    omitted: message.omitted,
    digest: all.length > 1 || message.omitted > 0,
    maxListed: Math.max(1, options.maxListed ?? 20),
    fmt: timeFormat(options.timeZone),
  };
}

// ---------------------------------------------------------------------------------------------
// Words

const site = (a: Alert) => a.site ?? "office";
const arrow = (a: Alert) => (a.from && a.to ? `${a.from} → ${a.to}` : a.to ? `to ${a.to}` : a.from ? `from ${a.from}` : "");

/** What happened, in a few words, without the reason: "office switched wan1 → wan2". */
export function headline(a: Alert): string {
  const failed = failedSteps(a);
  const failedNote = failed.length > 0 ? `, ${plural(failed.length, "step")} failed` : "";
  switch (a.kind) {
    case "failover":
      return `${[`${site(a)} switched`, arrow(a)].filter(Boolean).join(" ")}${failedNote}`;
    case "failback":
      return `${[`${site(a)} switched back`, arrow(a)].filter(Boolean).join(" ")}${failedNote}`;
    case "all-down": {
      const count = a.links.length;
      return `${site(a)}: ${count === 2 ? "both" : "all"} links down`;
    }
    case "step-failed": {
      const names = failed.map((s) => s.step);
      const what = names.length === 0 ? "a step failed" : names.length === 1 ? `step ${names[0]} failed` : `steps ${names.join(", ")} failed`;
      return `${site(a)}${a.to ? ` on ${a.to}` : ""}: ${what}`;
    }
    case "drill": {
      const route = arrow(a) ? ` (${arrow(a)})` : "";
      if (alertSucceeded(a)) return `${site(a)}: failover drill passed${route}`;
      const names = failed.map((s) => s.step).join(", ");
      return `${site(a)}: failover drill FAILED${route}${failed.length ? `: ${plural(failed.length, "step")} (${names})` : ""}`;
    }
    case "test":
      return `${site(a)}: test alert`;
  }
}

/** The headline with the reason, as in an email subject. */
function subjectLine(a: Alert): string {
  return a.reason ? `${headline(a)} (${truncate(a.reason, SUBJECT_REASON_MAX)})` : headline(a);
}

function outcomeLine(a: Alert): string | undefined {
  if (a.timeline.length === 0) return a.kind === "all-down" ? "nothing to switch to; alerts are queued until a link is back" : undefined;
  const total = totalDuration(a.timeline);
  const failed = failedSteps(a);
  if (failed.length === 0) return `all ${plural(a.timeline.length, "step")} succeeded in ${duration(total)}`;
  return `${failed.length} of ${plural(a.timeline.length, "step")} failed (${failed.map((s) => s.step).join(", ")}), ${duration(total)} in all`;
}

function introLine(a: Alert, fmt: TimeFormat): string {
  const when = fmt.full(a.at);
  switch (a.kind) {
    case "failover":
      return `${site(a)} switched${a.from ? ` from ${a.from}` : ""}${a.to ? ` to ${a.to}` : ""} at ${when}.`;
    case "failback":
      return `${site(a)} switched back${a.from ? ` from ${a.from}` : ""}${a.to ? ` to ${a.to}` : ""} at ${when}.`;
    case "all-down":
      return `Every Internet link of ${site(a)} is down since ${when}.`;
    case "step-failed":
      return `A step failed at ${when}${a.to ? ` while ${site(a)} is on ${a.to}` : ""}.`;
    case "drill":
      return `Failover drill at ${when}: ${alertSucceeded(a) ? "passed" : "FAILED"}.`;
    case "test":
      return `This is a test alert from wanctl at ${site(a)}, sent at ${when}. If you can read it, alerts reach you on this channel.`;
  }
}

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

// ---------------------------------------------------------------------------------------------
// Digests

interface Tally {
  switches: number;
  transitions: Map<string, number>;
  allDown: number;
  stepFailed: number;
  drills: number;
  tests: number;
}

function tally(alerts: readonly Alert[]): Tally {
  const t: Tally = { switches: 0, transitions: new Map(), allDown: 0, stepFailed: 0, drills: 0, tests: 0 };
  for (const a of alerts) {
    if (a.kind === "failover" || a.kind === "failback") {
      t.switches++;
      const key = `${a.from ?? "?"}→${a.to ?? "?"}`;
      t.transitions.set(key, (t.transitions.get(key) ?? 0) + 1);
    } else if (a.kind === "all-down") t.allDown++;
    else if (a.kind === "step-failed") t.stepFailed++;
    else if (a.kind === "drill") t.drills++;
    else t.tests++;
  }
  return t;
}

/** Where the office is after these events: the last link switched to, or "all links down". */
function currentLink(alerts: readonly Alert[]): string | undefined {
  let now: string | undefined;
  for (const a of alerts) {
    if (a.kind === "failover" || a.kind === "failback") now = a.to ? `on ${a.to}` : now;
    else if (a.kind === "all-down") now = "all links down";
    else if (a.kind === "step-failed" && a.to) now = `on ${a.to}`;
  }
  return now;
}

function span(view: View): string {
  const first = view.all[0] ?? view.latest;
  const sameDay = view.fmt.date(first.at) === view.fmt.date(view.latest.at);
  const show = (iso: string) => (sameDay ? view.fmt.time(iso) : `${view.fmt.date(iso)} ${view.fmt.time(iso)}`);
  return view.all.length === 1 ? `at ${show(first.at)}` : `between ${show(first.at)} and ${show(view.latest.at)}`;
}

/** "10 switches between 10:00:03 and 10:00:58: wan1→wan2 ×5, wan2→wan1 ×5; now on wan2". */
function digestSummary(view: View): string {
  const t = tally(view.all);
  const transitions = [...t.transitions].map(([k, n]) => `${k} ×${n}`).join(", ");
  const others = [
    t.allDown ? (t.allDown === 1 ? "all links down once" : `all links down ${t.allDown} times`) : "",
    t.stepFailed ? plural(t.stepFailed, "failed step") : "",
    t.drills ? plural(t.drills, "drill") : "",
    t.tests ? plural(t.tests, "test alert") : "",
  ].filter(Boolean);
  const total = view.all.length;
  let line: string;
  if (others.length === 0 && t.switches === total) {
    line = `${plural(total, "switch", "switches")} ${span(view)}: ${transitions}`;
  } else {
    const parts = [t.switches ? `${plural(t.switches, "switch", "switches")} (${transitions})` : "", ...others].filter(Boolean);
    line = `${plural(total, "event")} ${span(view)}: ${parts.join(", ")}`;
  }
  const now = currentLink(view.all);
  const older = view.omitted > 0 ? ` (${view.omitted} older not kept)` : "";
  return `${line}${older}${now ? `; now ${now}` : ""}`;
}

function digestTitle(view: View): string {
  const t = tally(view.all);
  const now = currentLink(view.all);
  const what = t.switches === view.all.length ? plural(t.switches, "switch", "switches") : plural(view.all.length, "event");
  return `${site(view.latest)}: ${what} ${span(view)}${now ? `, now ${now}` : ""}`;
}

function eventLine(a: Alert, view: View): string {
  const reported = view.earlier.includes(a) ? " (reported earlier)" : "";
  const failed = failedSteps(a).length;
  const what =
    a.kind === "failover" || a.kind === "failback"
      ? `${a.kind} ${arrow(a)}${failed ? ` (${plural(failed, "step")} failed)` : ""}`
      : headline(a).replace(`${site(a)}: `, "");
  return `${view.fmt.time(a.at)}  ${what}${a.reason ? ` — ${a.reason}` : ""}${reported}`;
}

/** The events one per line, the newest kept when there are too many (they matter most). */
function listedEvents(view: View): { lines: string[]; hidden: number } {
  const shown = view.all.slice(-view.maxListed);
  const hidden = view.all.length - shown.length;
  return { lines: shown.map((a) => eventLine(a, view)), hidden };
}

function plainBody(view: View): string {
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

// ---------------------------------------------------------------------------------------------
// Slack

const KIND_ICON: Record<Alert["kind"], string> = {
  failover: "🔀",
  failback: "↩️",
  "all-down": "🚨",
  "step-failed": "⚠️",
  drill: "🧪",
  test: "🔔",
};

function slackSingle(a: Alert, view: View): SlackBlock[] {
  const blocks: SlackBlock[] = [header(`${KIND_ICON[a.kind]} ${headline(a)}`)];
  blocks.push(...slackDetails(a, view));
  return blocks;
}

function slackDetails(a: Alert, view: View): SlackBlock[] {
  const blocks: SlackBlock[] = [];
  const fields: SlackText[] = [];
  if (a.from) fields.push(field("From", a.from));
  if (a.to) fields.push(field("To", a.to));
  if (a.publicAddress) fields.push(field("Public address", a.publicAddress));
  const outcome = outcomeLine(a);
  if (outcome) fields.push(field("Outcome", `${a.kind === "test" ? "" : alertSucceeded(a) ? "✅ " : "❌ "}${outcome}`));
  const why = a.kind === "test" ? introLine(a, view.fmt) : a.reason ? `*Why:* ${escapeMrkdwn(a.reason)}` : "";
  if (why || fields.length > 0) {
    blocks.push({ type: "section", ...(why ? { text: mrkdwn(truncate(why, SLACK_TEXT_MAX)) } : {}), ...(fields.length ? { fields: fields.slice(0, 10) } : {}) });
  }
  if (a.links.length > 0) {
    const lines = a.links.map((l) => {
      // Figures not measured are left out: a phone screen has no room for dashes.
      const known = (n: number | null | undefined) => n !== null && n !== undefined;
      const figures = [
        l.state,
        known(l.lossPct) ? `loss ${percent(l.lossPct)}` : "",
        known(l.latencyMs) ? ms(l.latencyMs) : "",
        known(l.jitterMs) ? `jitter ${ms(l.jitterMs)}` : "",
      ].filter(Boolean).join(" · ");
      return `• *${escapeMrkdwn(l.link)}* ${escapeMrkdwn(figures)}`;
    });
    blocks.push(section(`*Links*\n${lines.join("\n")}`));
  }
  if (a.timeline.length > 0) {
    const lines = a.timeline.map((s) => {
      const icon = s.skipped ? "⏭️" : s.ok ? "✅" : "❌";
      return `${icon} *${escapeMrkdwn(s.step)}* · ${duration(s.durationMs)}${s.detail ? ` — ${escapeMrkdwn(truncate(s.detail, 200))}` : ""}`;
    });
    blocks.push(section(fitLines("*Timeline*", lines)));
  }
  return blocks;
}

function slackDigest(view: View): SlackBlock[] {
  const t = tally(view.all);
  const now = currentLink(view.all);
  const what = t.switches === view.all.length ? plural(t.switches, "switch", "switches") : plural(view.all.length, "event");
  const blocks: SlackBlock[] = [header(`🔁 ${site(view.latest)}: ${what}${now ? `, now ${now}` : ""}`), section(escapeMrkdwn(digestSummary(view)))];
  const { lines, hidden } = listedEvents(view);
  const listed = lines.map((l) => escapeMrkdwn(l).replace(/^(\d\d:\d\d:\d\d)/, "`$1`"));
  blocks.push(section(fitLines(`*Events* (${escapeMrkdwn(view.fmt.zone(view.latest.at))})${hidden ? `, ${hidden} earlier not listed` : ""}`, listed)));
  blocks.push({ type: "divider" });
  blocks.push(section(`*Latest:* ${escapeMrkdwn(subjectLine(view.latest))}`));
  blocks.push(...slackDetails(view.latest, view));
  return blocks;
}

const mrkdwn = (text: string): SlackText => ({ type: "mrkdwn", text });
const section = (text: string): SlackBlock => ({ type: "section", text: mrkdwn(truncate(text, SLACK_TEXT_MAX)) });
const header = (text: string): SlackBlock => ({ type: "header", text: { type: "plain_text", text: truncate(text.replace(/\s+/g, " "), SLACK_HEADER_MAX), emoji: true } });
const field = (label: string, value: string): SlackText => mrkdwn(truncate(`*${label}*\n${escapeMrkdwn(value)}`, SLACK_FIELD_MAX));

/** A title and as many lines as fit in one section, newest kept, with a note for the rest. */
function fitLines(title: string, lines: string[]): string {
  const budget = SLACK_TEXT_MAX - title.length - 40;
  const kept: string[] = [];
  let used = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? "";
    if (used + line.length + 1 > budget) break;
    kept.unshift(line);
    used += line.length + 1;
  }
  const dropped = lines.length - kept.length;
  return [title, ...(dropped ? [`… ${dropped} more`] : []), ...kept].join("\n");
}

/** Slack's mrkdwn needs only these three escaped (Slack "Formatting text" reference). */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// ---------------------------------------------------------------------------------------------
// Numbers, times, tables

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function shortId(id: string): string {
  return id.length > 16 ? id.slice(0, 16) : id;
}

function round(n: number, digits: number): string {
  return String(Number(n.toFixed(digits)));
}

function percent(n: number | null | undefined): string {
  return n === null || n === undefined ? "–" : `${round(n, 1)}%`;
}

function ms(n: number | null | undefined): string {
  return n === null || n === undefined ? "–" : `${round(n, n < 10 ? 1 : 0)} ms`;
}

function duration(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  if (msValue < 60_000) return `${round(msValue / 1000, msValue < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(msValue / 60_000);
  return `${minutes} min ${Math.round((msValue % 60_000) / 1000)} s`;
}

/** Wall time covered by the steps: from the first start to the last end (steps may overlap). */
function totalDuration(steps: readonly AlertStep[]): number {
  if (steps.every((s) => s.startMs !== undefined)) {
    return Math.max(0, ...steps.map((s) => (s.startMs ?? 0) + s.durationMs)) - Math.min(...steps.map((s) => s.startMs ?? 0));
  }
  return steps.reduce((sum, s) => sum + s.durationMs, 0);
}

/** Rows as aligned columns, two spaces apart, indented; trailing blanks trimmed. */
function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => `  ${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ")}`.trimEnd());
}

interface TimeFormat {
  full(iso: string): string;
  date(iso: string): string;
  time(iso: string): string;
  zone(iso: string): string;
}

function timeFormat(timeZone: string | undefined): TimeFormat {
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    });
  } catch {
    // An unknown zone name must not stop an alert: fall back to UTC, which is never wrong.
    return timeFormat("UTC");
  }
  const parts = (iso: string) => {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return undefined;
    const p = Object.fromEntries(formatter.formatToParts(date).map((x) => [x.type, x.value]));
    return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}:${p.second}`, zone: p.timeZoneName ?? "" };
  };
  return {
    full: (iso) => {
      const p = parts(iso);
      return p ? `${p.date} ${p.time} ${p.zone}`.trim() : iso;
    },
    date: (iso) => parts(iso)?.date ?? iso,
    time: (iso) => parts(iso)?.time ?? iso,
    zone: (iso) => parts(iso)?.zone ?? "",
  };
}
