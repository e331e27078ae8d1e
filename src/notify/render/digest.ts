// Several alerts in one message (flapping, an outage of the channel, the rate limit) become a
// digest that still tells the whole story: counts, the list of events, and where the office is now.
import { failedSteps, type Alert } from "../alert.js";
import { plural } from "./format.js";
import type { View } from "./view.js";
import { arrow, headline, site } from "./words.js";

interface Tally {
  switches: number;
  transitions: Map<string, number>;
  allDown: number;
  gatewayDown: number;
  gatewayUp: number;
  stepFailed: number;
  repaired: number;
  problems: number;
  drills: number;
  tests: number;
}

export function tally(alerts: readonly Alert[]): Tally {
  const t: Tally = { switches: 0, transitions: new Map(), allDown: 0, gatewayDown: 0, gatewayUp: 0, stepFailed: 0, repaired: 0, problems: 0, drills: 0, tests: 0 };
  for (const a of alerts) {
    if (a.kind === "failover" || a.kind === "failback") {
      t.switches++;
      const key = `${a.from ?? "?"}→${a.to ?? "?"}`;
      t.transitions.set(key, (t.transitions.get(key) ?? 0) + 1);
    } else if (a.kind === "all-down") t.allDown++;
    else if (a.kind === "gateway-down") t.gatewayDown++;
    else if (a.kind === "gateway-up") t.gatewayUp++;
    else if (a.kind === "step-failed") t.stepFailed++;
    else if (a.kind === "repaired") t.repaired++;
    else if (a.kind === "problem") t.problems++;
    else if (a.kind === "drill") t.drills++;
    else t.tests++;
  }
  return t;
}

/** Where the office is after these events: the last link switched to, or "all links down". */
export function currentLink(alerts: readonly Alert[]): string | undefined {
  let now: string | undefined;
  for (const a of alerts) {
    if (a.kind === "failover" || a.kind === "failback") now = a.to ? `on ${a.to}` : now;
    else if (a.kind === "all-down") now = "all links down";
    else if (a.kind === "gateway-down") now = "no Internet through the router";
    else if (a.kind === "gateway-up" && a.to) now = `on ${a.to}`;
    else if ((a.kind === "step-failed" || a.kind === "repaired") && a.to) now = `on ${a.to}`;
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
export function digestSummary(view: View): string {
  const t = tally(view.all);
  const transitions = [...t.transitions].map(([k, n]) => `${k} ×${n}`).join(", ");
  const others = [
    t.allDown ? (t.allDown === 1 ? "all links down once" : `all links down ${t.allDown} times`) : "",
    t.gatewayDown ? (t.gatewayDown === 1 ? "no Internet through the router once" : `no Internet through the router ${t.gatewayDown} times`) : "",
    t.gatewayUp ? (t.gatewayUp === 1 ? "back once" : `back ${t.gatewayUp} times`) : "",
    t.stepFailed ? plural(t.stepFailed, "failed step") : "",
    t.repaired ? plural(t.repaired, "repair") : "",
    t.problems ? plural(t.problems, "problem") : "",
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

export function digestTitle(view: View): string {
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
export function listedEvents(view: View): { lines: string[]; hidden: number } {
  const shown = view.all.slice(-view.maxListed);
  const hidden = view.all.length - shown.length;
  return { lines: shown.map((a) => eventLine(a, view)), hidden };
}
