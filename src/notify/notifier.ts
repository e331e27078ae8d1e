// The one interface every alert channel implements, and the message it sends.
import { createHash } from "node:crypto";
import type { Alert } from "./alert.js";

/**
 * One message on one channel: a single alert, or a digest of several (flapping, rate limit, an
 * outage of the channel). The id is derived from the alert ids, so a retry of the same message
 * carries the same id (Message-ID, Idempotency-Key, Slack metadata) and a duplicate can be told.
 */
export interface Message {
  id: string;
  /** The alerts this message delivers, oldest first; the channel accepting it acknowledges them. */
  alerts: readonly Alert[];
  /** Alerts of the same episode that earlier messages delivered, repeated for context only. */
  earlier: readonly Alert[];
  /** Events that could not be kept (outbox cap); the text says how many. */
  omitted: number;
}

export function messageId(alerts: readonly Alert[]): string {
  if (alerts.length === 1 && alerts[0]) return alerts[0].id;
  const digest = createHash("sha256").update(alerts.map((a) => a.id).join(",")).digest("hex");
  return `digest-${digest.slice(0, 32)}`;
}

export function createMessage(alerts: readonly Alert[], earlier: readonly Alert[] = [], omitted = 0): Message {
  if (alerts.length === 0) throw new RangeError("a message needs at least one alert");
  return { id: messageId(alerts), alerts, earlier, omitted };
}

export interface SendContext {
  /** Aborted when the attempt has taken too long or the daemon stops; the adapter must give up. */
  signal: AbortSignal;
  /** Source address to bind to, so that the alert leaves through the link that works. */
  localAddress?: string;
}

export interface Notifier {
  /** "email", "slack", "webhook": names the outbox file and appears in logs and outcomes. */
  readonly channel: string;
  /** Resolves once the far end has accepted the message; rejects with a NotifyError otherwise. */
  send(message: Message, context: SendContext): Promise<void>;
}

/**
 * One send that ends when the signal fires, even if the adapter ignores it: a channel that hangs
 * must not hold its caller (the outbox, or `wanctl test --notify`) for longer than its deadline.
 */
export async function sendWithin(notifier: Notifier, message: Message, context: SendContext): Promise<void> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    // The adapter's own words ("the Slack webhook did not answer in time") are better: let it
    // reject first; this is the fallback for an adapter that ignores the signal.
    onAbort = () => setImmediate(() => reject(new NotifyError(notifier.channel, "the send did not finish in time", "ETIMEDOUT")));
    if (context.signal.aborted) onAbort();
    else context.signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    await Promise.race([notifier.send(message, context), aborted]);
  } finally {
    if (onAbort) context.signal.removeEventListener("abort", onAbort);
  }
}

/** A failed delivery, worded for the operator; never carries a secret (URL, password, token). */
export class NotifyError extends Error {
  constructor(
    readonly channel: string,
    message: string,
    /** A short code for logs and tests: "ECONNREFUSED", "EAUTH", "HTTP_500", "ETIMEDOUT", ... */
    readonly code: string,
  ) {
    super(`${channel}: ${message}`);
    this.name = "NotifyError";
  }
}
