// One channel's outbox as a pure state machine: alerts in, "send this message now" or "wait until
// then" out. The outbox (outbox.ts) persists the state after every change and does the sending.
//
// - Leading edge: an alert goes out at once unless a message left less than `coalesceMs` ago;
//   alerts arriving within that window wait for its end and leave as one digest, which repeats
//   the episode's earlier alerts for context (the story stays whole in one message).
// - Rate limit: at most `maxPerHour` accepted messages per sliding hour; beyond it alerts keep
//   piling into the next message, never dropped.
// - Exactly once: a message is frozen (id, alerts) before its first attempt and retried as is;
//   its alert ids leave the outbox only when the channel has accepted it. A crash between the
//   channel's acceptance and the write is the one window for a duplicate, which then carries the
//   same message id.
import { z } from "zod";
import { alertSchema, alertSucceeded, type Alert } from "./alert.js";
import { createMessage, messageId, type Message } from "./notifier.js";

export const HOUR_MS = 3_600_000;
/** Alerts kept waiting per channel; beyond it the oldest are counted, not kept (bounded disk). */
export const MAX_PENDING = 500;
/** Earlier alerts of an episode repeated in a digest. */
export const MAX_EPISODE = 50;
/** Ids remembered after delivery, so that an alert enqueued again is not sent twice. */
export const MAX_DELIVERED_IDS = 1000;

export interface QueuePolicy {
  coalesceMs: number;
  maxPerHour: number;
}

export interface PendingEntry {
  alert: Alert;
  /** When it entered the outbox (the outbox's clock, ms). */
  queuedAt: number;
}

/** A message frozen for delivery: retried with the same id and content until accepted. */
export interface Batch {
  id: string;
  alerts: Alert[];
  earlier: Alert[];
  omitted: number;
  attempts: number;
  /** No attempt before this time (ms): backoff after a failure. */
  notBefore: number;
  lastError?: string;
  /** Sent on request (a test alert): bypasses coalescing and the rate limit, opens no window. */
  urgent?: boolean;
}

export interface OutboxState {
  version: 1;
  channel: string;
  pending: PendingEntry[];
  batches: Batch[];
  /** When accepted messages left, within the last hour (the rate limit survives a restart). */
  sentAt: number[];
  /** When the last ordinary message was accepted: the coalescing window runs from here. */
  lastSentAt: number | null;
  /** Alerts delivered in the current episode, slimmed, for the next digest's context. */
  episode: Alert[];
  delivered: string[];
  /** Pending alerts dropped by MAX_PENDING since the last message. */
  omitted: number;
}

export function emptyOutbox(channel: string): OutboxState {
  return { version: 1, channel, pending: [], batches: [], sentAt: [], lastSentAt: null, episode: [], delivered: [], omitted: 0 };
}

const knownIds = (state: OutboxState) =>
  new Set([...state.delivered, ...state.pending.map((p) => p.alert.id), ...state.batches.flatMap((b) => b.alerts.map((a) => a.id))]);

/** Adds an alert to be sent; an id already queued or delivered is ignored (exactly once). */
export function addAlert(state: OutboxState, alert: Alert, now: number): OutboxState {
  if (knownIds(state).has(alert.id)) return state;
  const pending = [...state.pending, { alert, queuedAt: now }];
  const overflow = Math.max(0, pending.length - MAX_PENDING);
  return { ...state, pending: pending.slice(overflow), omitted: state.omitted + overflow };
}

/** Adds an alert as its own message, first in line and due now (a test alert). */
export function addUrgent(state: OutboxState, alert: Alert, now: number): { state: OutboxState; batchId: string | null } {
  if (knownIds(state).has(alert.id)) return { state, batchId: null };
  const batch: Batch = { id: messageId([alert]), alerts: [alert], earlier: [], omitted: 0, attempts: 0, notBefore: now, urgent: true };
  return { state: { ...state, batches: [batch, ...state.batches] }, batchId: batch.id };
}

export type Plan =
  | { kind: "idle" }
  | { kind: "wait"; until: number; why: "backoff" | "coalescing" | "rate limit" }
  | { kind: "send"; state: OutboxState; batch: Batch };

export interface PlanOptions {
  /** Ignore backoff and the coalescing window (shutdown flush); the rate limit still holds. */
  force?: boolean;
}

/** What to do now. When it says send, `state` holds the frozen batch: persist it, then send. */
export function plan(state: OutboxState, now: number, policy: QueuePolicy, options: PlanOptions = {}): Plan {
  const head = state.batches[0];
  if (head) {
    if (options.force || now >= head.notBefore) return { kind: "send", state, batch: head };
    return { kind: "wait", until: head.notBefore, why: "backoff" };
  }
  const first = state.pending[0];
  if (!first) return { kind: "idle" };

  const rateUntil = rateLimitedUntil(state, now, policy);
  if (rateUntil !== null) return { kind: "wait", until: rateUntil, why: "rate limit" };
  const windowEnd = state.lastSentAt === null ? null : state.lastSentAt + policy.coalesceMs;
  if (!options.force && windowEnd !== null && now < windowEnd) return { kind: "wait", until: windowEnd, why: "coalescing" };

  // Alerts that arrived while the last message's window was open continue its episode.
  const continues = windowEnd !== null && first.queuedAt < windowEnd;
  const alerts = state.pending.map((p) => p.alert);
  const message = createMessage(alerts, continues ? state.episode : [], state.omitted);
  const batch: Batch = { id: message.id, alerts, earlier: [...message.earlier], omitted: message.omitted, attempts: 0, notBefore: now };
  return { kind: "send", state: { ...state, pending: [], omitted: 0, batches: [batch] }, batch };
}

/** When the rate limit lets the next ordinary message go, or null if it may go now. */
export function rateLimitedUntil(state: OutboxState, now: number, policy: QueuePolicy): number | null {
  const recent = state.sentAt.filter((t) => t > now - HOUR_MS);
  if (recent.length < policy.maxPerHour) return null;
  const oldestCounted = recent[recent.length - policy.maxPerHour] ?? now;
  return oldestCounted + HOUR_MS;
}

export function batchMessage(batch: Batch): Message {
  return { id: batch.id, alerts: batch.alerts, earlier: batch.earlier, omitted: batch.omitted };
}

/** The channel accepted the batch: its alerts leave the outbox for good. */
export function markSent(state: OutboxState, batchId: string, now: number): OutboxState {
  const batch = state.batches.find((b) => b.id === batchId);
  if (!batch) return state;
  // The channel works again: whatever else waits goes now rather than after its backoff.
  const batches = state.batches.filter((b) => b.id !== batchId).map((b) => ({ ...b, notBefore: Math.min(b.notBefore, now) }));
  const delivered = [...state.delivered, ...batch.alerts.map((a) => a.id)].slice(-MAX_DELIVERED_IDS);
  const sentAt = [...state.sentAt.filter((t) => t > now - HOUR_MS), now];
  if (batch.urgent) return { ...state, batches, delivered, sentAt };
  const episode = [...batch.earlier, ...batch.alerts.map(slim)].slice(-MAX_EPISODE);
  return { ...state, batches, delivered, sentAt, lastSentAt: now, episode };
}

/** The attempt failed: keep the batch as is, try again after `delayMs`. */
export function markFailed(state: OutboxState, batchId: string, now: number, error: string, delayMs: number): OutboxState {
  return {
    ...state,
    batches: state.batches.map((b) => (b.id === batchId ? { ...b, attempts: b.attempts + 1, notBefore: now + delayMs, lastError: error } : b)),
  };
}

export function queuedAlerts(state: OutboxState): number {
  return state.pending.length + state.batches.reduce((n, b) => n + b.alerts.length, 0);
}

/** An alert as context only: what a digest's event line needs, not the whole timeline. */
function slim(alert: Alert): Alert {
  const failed = alert.timeline.filter((s) => !s.ok).map(({ step, ok, durationMs }) => ({ step, ok, durationMs }));
  return { ...alert, links: [], timeline: failed, ok: alertSucceeded(alert) };
}

/**
 * After a restart: times from the future (the clock was set back) would hold messages for as long
 * as the clock was off, so they are brought back to now.
 */
export function clampToNow(state: OutboxState, now: number): OutboxState {
  const clamp = (t: number) => Math.min(t, now);
  return {
    ...state,
    sentAt: state.sentAt.map(clamp).filter((t) => t > now - HOUR_MS),
    lastSentAt: state.lastSentAt === null ? null : clamp(state.lastSentAt),
    pending: state.pending.map((p) => ({ ...p, queuedAt: clamp(p.queuedAt) })),
    batches: state.batches.map((b) => ({ ...b, notBefore: clamp(b.notBefore) })),
  };
}

const time = z.number().finite();

export const outboxSchema: z.ZodType<OutboxState> = z.object({
  version: z.literal(1),
  channel: z.string(),
  pending: z.array(z.object({ alert: alertSchema, queuedAt: time })),
  batches: z.array(
    z.object({
      id: z.string().min(1),
      alerts: z.array(alertSchema).min(1),
      earlier: z.array(alertSchema),
      omitted: z.int().min(0),
      attempts: z.int().min(0),
      notBefore: time,
      lastError: z.string().optional(),
      urgent: z.boolean().optional(),
    }),
  ),
  sentAt: z.array(time),
  lastSentAt: time.nullable(),
  episode: z.array(alertSchema),
  delivered: z.array(z.string()),
  omitted: z.int().min(0),
});
