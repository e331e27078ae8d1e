// An alert as a Slack Block Kit payload that reads well on a phone.
import { alertSucceeded, type Alert } from "../alert.js";
import type { Message } from "../notifier.js";
import { currentLink, digestSummary, listedEvents, tally } from "./digest.js";
import { duration, ms, percent, plural, shortId, truncate } from "./format.js";
import { escapeMrkdwn, field, fitLines, header, mrkdwn, section, SLACK_TEXT_MAX, type SlackBlock, type SlackText } from "./slack-blocks.js";
import { prepare, type RenderOptions, type View } from "./view.js";
import { headline, introLine, outcomeLine, site, subjectLine } from "./words.js";

export interface SlackPayload {
  /** Shown in notifications and by clients that cannot show blocks. */
  text: string;
  blocks: SlackBlock[];
  /** Invisible to people; lets a consumer recognise a duplicate by id. */
  metadata: { event_type: "wanctl_alert"; event_payload: { message_id: string; alert_ids: string } };
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

const KIND_ICON: Record<Alert["kind"], string> = {
  failover: "🔀",
  failback: "↩️",
  "all-down": "🚨",
  "gateway-down": "🚨",
  "gateway-up": "🟢",
  "step-failed": "⚠️",
  repaired: "✅",
  problem: "🛠️",
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
