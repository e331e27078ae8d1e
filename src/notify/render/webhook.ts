// An alert as JSON for generic webhooks: the same words as the email plus the alerts themselves.
import type { Alert } from "../alert.js";
import type { Message } from "../notifier.js";
import { digestSummary } from "./digest.js";
import { plainBody } from "./plain-text.js";
import { prepare, type RenderOptions } from "./view.js";
import { subjectLine } from "./words.js";

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
