// Block Kit building blocks kept within Slack's limits, and mrkdwn escaping.
import { truncate } from "./format.js";

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

// Slack's limits (Block Kit reference): header text 150, section text 3000, field 2000, 10 fields.
const SLACK_HEADER_MAX = 150;
export const SLACK_TEXT_MAX = 3000;
const SLACK_FIELD_MAX = 2000;

export const mrkdwn = (text: string): SlackText => ({ type: "mrkdwn", text });
export const section = (text: string): SlackBlock => ({ type: "section", text: mrkdwn(truncate(text, SLACK_TEXT_MAX)) });
export const header = (text: string): SlackBlock => ({ type: "header", text: { type: "plain_text", text: truncate(text.replace(/\s+/g, " "), SLACK_HEADER_MAX), emoji: true } });
export const field = (label: string, value: string): SlackText => mrkdwn(truncate(`*${label}*\n${escapeMrkdwn(value)}`, SLACK_FIELD_MAX));

/** A title and as many lines as fit in one section, newest kept, with a note for the rest. */
export function fitLines(title: string, lines: string[]): string {
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
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
