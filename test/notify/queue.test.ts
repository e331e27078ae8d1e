import { describe, expect, test } from "vitest";
import { backoffDelay } from "../../src/lib/backoff.js";
import { NOTIFY_BACKOFF } from "../../src/notify/outbox.js";
import {
  addAlert,
  addUrgent,
  clampToNow,
  emptyOutbox,
  HOUR_MS,
  markFailed,
  markSent,
  MAX_PENDING,
  plan,
  queuedAlerts,
  type OutboxState,
  type Plan,
} from "../../src/notify/queue.js";
import { flapping, switchAlert } from "./fixtures.js";

const policy = { coalesceMs: 60_000, maxPerHour: 20 };
const T = 1_000_000;

function expectSend(p: Plan): Extract<Plan, { kind: "send" }> {
  if (p.kind !== "send") throw new Error(`expected send, got ${JSON.stringify(p)}`);
  return p;
}

/** Runs the queue like the outbox does, with a channel that always accepts; returns the messages. */
function simulate(arrivals: { at: number; alert: ReturnType<typeof switchAlert> }[], until: number, p = policy) {
  let state: OutboxState = emptyOutbox("email");
  const sent: { at: number; ids: string[]; earlier: string[] }[] = [];
  const events = [...arrivals].sort((a, b) => a.at - b.at);
  let now = events[0]?.at ?? 0;
  for (let guard = 0; guard < 10_000 && now <= until; guard++) {
    while (events[0] && events[0].at <= now) state = addAlert(state, events.shift()!.alert, now);
    const next = plan(state, now, p);
    if (next.kind === "send") {
      sent.push({ at: now, ids: next.batch.alerts.map((a) => a.id), earlier: next.batch.earlier.map((a) => a.id) });
      state = markSent(next.state, next.batch.id, now);
      continue;
    }
    const wake = Math.min(next.kind === "wait" ? next.until : Infinity, events[0]?.at ?? Infinity);
    if (wake === Infinity) break;
    now = wake;
  }
  return { sent, state };
}

describe("coalescing", () => {
  test("the first alert leaves at once; the rest of a burst of ten waits for the window and leaves as one digest", () => {
    const alerts = flapping(10);
    const { sent, state } = simulate(alerts.map((alert, i) => ({ at: T + i * 6_000, alert })), T + HOUR_MS);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toEqual({ at: T, ids: [alerts[0]!.id], earlier: [] });
    expect(sent[1]!.at).toBe(T + 60_000);
    expect(sent[1]!.ids).toEqual(alerts.slice(1).map((a) => a.id));
    // The digest repeats the first switch for context: it tells all ten.
    expect(sent[1]!.earlier).toEqual([alerts[0]!.id]);
    expect(queuedAlerts(state)).toBe(0);
  });

  test("flapping for ten minutes gives one message per window, not one per switch", () => {
    const alerts = flapping(100); // one every 6 s
    const { sent } = simulate(alerts.map((alert, i) => ({ at: T + i * 6_000, alert })), T + HOUR_MS);
    expect(sent.length).toBeLessThanOrEqual(11);
    expect(sent.flatMap((s) => s.ids)).toEqual(alerts.map((a) => a.id));
  });

  test("an alert after a quiet window leaves at once, with no earlier context", () => {
    const [a, b] = flapping(2);
    const { sent } = simulate([{ at: T, alert: a! }, { at: T + 120_000, alert: b! }], T + HOUR_MS);
    expect(sent).toEqual([
      { at: T, ids: [a!.id], earlier: [] },
      { at: T + 120_000, ids: [b!.id], earlier: [] },
    ]);
  });

  test("coalesceSeconds 0 sends each alert on its own", () => {
    const alerts = flapping(3);
    const { sent } = simulate(alerts.map((alert, i) => ({ at: T + i * 1000, alert })), T + HOUR_MS, { coalesceMs: 0, maxPerHour: 20 });
    expect(sent.map((s) => s.ids.length)).toEqual([1, 1, 1]);
  });
});

describe("rate limit", () => {
  test("beyond maxPerHour alerts are merged into the next allowed message, none lost", () => {
    const alerts = flapping(8);
    // Far enough apart that coalescing alone would send each one separately.
    const { sent } = simulate(alerts.map((alert, i) => ({ at: T + i * 120_000, alert })), T + 3 * HOUR_MS, { coalesceMs: 60_000, maxPerHour: 3 });
    expect(sent.slice(0, 3).map((s) => s.ids.length)).toEqual([1, 1, 1]);
    expect(sent[3]!.at).toBe(T + HOUR_MS); // when the first message leaves the sliding hour
    expect(sent[3]!.ids).toEqual(alerts.slice(3).map((a) => a.id));
    expect(sent.flatMap((s) => s.ids)).toEqual(alerts.map((a) => a.id));
    // Never more than 3 in any hour.
    for (const s of sent) expect(sent.filter((o) => o.at > s.at - HOUR_MS && o.at <= s.at).length).toBeLessThanOrEqual(3);
  });

  test("the rate limit holds even for a flush, but not for an urgent (test) alert", () => {
    let state = emptyOutbox("slack");
    state = { ...state, sentAt: [T - 10, T - 5], lastSentAt: T - 5 };
    state = addAlert(state, switchAlert(), T);
    expect(plan(state, T, { coalesceMs: 0, maxPerHour: 2 }, { force: true })).toMatchObject({ kind: "wait", why: "rate limit", until: T - 10 + HOUR_MS });
    const urgent = addUrgent(state, switchAlert(), T);
    expect(expectSend(plan(urgent.state, T, { coalesceMs: 0, maxPerHour: 2 })).batch.urgent).toBe(true);
  });
});

describe("delivery", () => {
  test("a failed message is retried as the same message (same id, same alerts), after its backoff", () => {
    let state = addAlert(emptyOutbox("email"), switchAlert(), T);
    const first = expectSend(plan(state, T, policy));
    state = markFailed(first.state, first.batch.id, T, "email: connection refused", 5_000);
    state = addAlert(state, switchAlert(), T + 1_000); // arrives meanwhile: waits for the next message
    expect(plan(state, T + 4_999, policy)).toEqual({ kind: "wait", until: T + 5_000, why: "backoff" });
    const retry = expectSend(plan(state, T + 5_000, policy));
    expect(retry.batch).toMatchObject({ id: first.batch.id, alerts: first.batch.alerts, attempts: 1, lastError: "email: connection refused" });
    expect(queuedAlerts(state)).toBe(2);
  });

  test("an alert id already queued or delivered is not queued again", () => {
    const alert = switchAlert();
    let state = addAlert(emptyOutbox("email"), alert, T);
    expect(addAlert(state, alert, T)).toBe(state);
    const sending = expectSend(plan(state, T, policy));
    state = markSent(sending.state, sending.batch.id, T);
    expect(addAlert(state, alert, T + 1)).toBe(state);
    expect(addUrgent(state, alert, T + 1).batchId).toBeNull();
  });

  test("an urgent alert goes first and opens no coalescing window", () => {
    let state = addAlert(emptyOutbox("email"), switchAlert(), T);
    const urgent = addUrgent(state, switchAlert({ id: "test-1" }), T);
    const p = expectSend(plan(urgent.state, T, policy));
    expect(p.batch.alerts[0]!.id).toBe("test-1");
    state = markSent(p.state, p.batch.id, T);
    expect(state.lastSentAt).toBeNull();
    expect(expectSend(plan(state, T, policy)).batch.urgent).toBeUndefined();
  });

  test("success elsewhere brings the other waiting messages forward", () => {
    let state = addAlert(emptyOutbox("email"), switchAlert(), T);
    const first = expectSend(plan(state, T, policy));
    state = markFailed(first.state, first.batch.id, T, "down", 300_000);
    const urgent = addUrgent(state, switchAlert(), T + 10);
    state = markSent(urgent.state, urgent.batchId!, T + 10);
    expect(expectSend(plan(state, T + 10, policy)).batch.id).toBe(first.batch.id);
  });

  test("the outbox is bounded: the oldest pending alerts are counted, not kept", () => {
    let state = emptyOutbox("email");
    state = { ...state, lastSentAt: T }; // inside a window: everything waits
    for (let i = 0; i < MAX_PENDING + 3; i++) state = addAlert(state, switchAlert(), T + i);
    expect(state.pending).toHaveLength(MAX_PENDING);
    expect(state.omitted).toBe(3);
    expect(expectSend(plan(state, T + policy.coalesceMs, policy)).batch.omitted).toBe(3);
  });

  test("after the clock was set back, nothing waits for the future", () => {
    let state = addAlert(emptyOutbox("email"), switchAlert(), T + HOUR_MS);
    state = { ...state, lastSentAt: T + HOUR_MS, sentAt: [T + HOUR_MS] };
    const clamped = clampToNow(state, T);
    expect(clamped.lastSentAt).toBe(T);
    expect(plan(clamped, T + policy.coalesceMs, policy).kind).toBe("send");
  });
});

describe("backoff", () => {
  test("grows exponentially with jitter, never beyond the cap", () => {
    const low = () => 0;
    const high = () => 0.999999;
    expect(backoffDelay(1, NOTIFY_BACKOFF, low)).toBe(2_500);
    expect(backoffDelay(1, NOTIFY_BACKOFF, high)).toBe(5_000);
    expect(backoffDelay(3, NOTIFY_BACKOFF, high)).toBe(20_000);
    expect(backoffDelay(1_000_000, NOTIFY_BACKOFF, high)).toBe(NOTIFY_BACKOFF.maxMs);
    expect(backoffDelay(1_000_000, NOTIFY_BACKOFF, low)).toBe(NOTIFY_BACKOFF.maxMs / 2);
  });
});
