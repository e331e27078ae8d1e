// The sentences about one alert that every channel shares: headline, subject, intro, outcome.
import { alertSucceeded, failedSteps, type Alert } from "../alert.js";
import { duration, plural, totalDuration, truncate } from "./format.js";
import type { TimeFormat } from "./time-format.js";

const SUBJECT_REASON_MAX = 90;

export const site = (a: Alert) => a.site ?? "office";
export const arrow = (a: Alert) => (a.from && a.to ? `${a.from} → ${a.to}` : a.to ? `to ${a.to}` : a.from ? `from ${a.from}` : "");

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
    case "gateway-down":
      return `${site(a)}: no Internet through the router`;
    case "gateway-up":
      return `${site(a)}: Internet through the router again`;
    case "step-failed": {
      const names = failed.map((s) => s.step);
      const what = names.length === 0 ? "a step failed" : names.length === 1 ? `step ${names[0]} failed` : `steps ${names.join(", ")} failed`;
      return `${site(a)}${a.to ? ` on ${a.to}` : ""}: ${what}`;
    }
    case "repaired":
      return `${site(a)}${a.to ? ` on ${a.to}` : ""}: put right`;
    case "problem":
      return `${site(a)}: wanctl needs attention`;
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
export function subjectLine(a: Alert): string {
  return a.reason ? `${headline(a)} (${truncate(a.reason, SUBJECT_REASON_MAX)})` : headline(a);
}

export function outcomeLine(a: Alert): string | undefined {
  if (a.timeline.length === 0) {
    if (a.kind === "all-down") return "nothing to switch to; alerts are queued until a link is back";
    if (a.kind === "gateway-down") return "the router switches by itself, or cannot; alerts are queued until it finds a way out";
    return undefined;
  }
  const total = totalDuration(a.timeline);
  const failed = failedSteps(a);
  if (failed.length === 0) return `all ${plural(a.timeline.length, "step")} succeeded in ${duration(total)}`;
  return `${failed.length} of ${plural(a.timeline.length, "step")} failed (${failed.map((s) => s.step).join(", ")}), ${duration(total)} in all`;
}

export function introLine(a: Alert, fmt: TimeFormat): string {
  const when = fmt.full(a.at);
  switch (a.kind) {
    case "failover":
      return `${site(a)} switched${a.from ? ` from ${a.from}` : ""}${a.to ? ` to ${a.to}` : ""} at ${when}.`;
    case "failback":
      return `${site(a)} switched back${a.from ? ` from ${a.from}` : ""}${a.to ? ` to ${a.to}` : ""} at ${when}.`;
    case "all-down":
      return `Every Internet link of ${site(a)} is down since ${when}.`;
    case "gateway-down":
      return `${site(a)}'s way out through its router stopped answering wanctl's probes at ${when}.`;
    case "gateway-up":
      return `${site(a)}'s way out through its router answers again since ${when}.`;
    case "step-failed":
      return `A step failed at ${when}${a.to ? ` while ${site(a)} is on ${a.to}` : ""}.`;
    case "repaired":
      return `wanctl put things right at ${when}${a.to ? ` while ${site(a)} is on ${a.to}` : ""}.`;
    case "problem":
      return `wanctl found a problem of its own at ${when}; failover keeps working.`;
    case "drill":
      return `Failover drill at ${when}: ${alertSucceeded(a) ? "passed" : "FAILED"}.`;
    case "test":
      return `This is a test alert from wanctl at ${site(a)}, sent at ${when}. If you can read it, alerts reach you on this channel.`;
  }
}
