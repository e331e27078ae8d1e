// Alerts as the failover pipeline would raise them, and small helpers shared by the notify tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { createAlert, type Alert } from "../../src/notify/alert.js";
import { NotifyError } from "../../src/notify/notifier.js";

const T0 = Date.parse("2026-03-02T10:00:03Z");

let counter = 0;
/** Deterministic ids, unique within a test run. */
export function nextId(prefix = "alert"): string {
  counter += 1;
  return `${prefix}-${String(counter).padStart(4, "0")}`;
}

/** A switch from one link to the other, `offsetMs` after 10:00:03 UTC, with a full timeline. */
export function switchAlert(options: { from?: string; to?: string; offsetMs?: number; id?: string; dnsFails?: boolean } = {}): Alert {
  const from = options.from ?? "wan1";
  const to = options.to ?? "wan2";
  return createAlert(
    {
      kind: from === "wan2" ? "failback" : "failover",
      from,
      to,
      reason: `${from} down: 100% loss over 3 rounds`,
      publicAddress: to === "wan2" ? "198.51.100.7" : "203.0.113.2",
      links: [
        { link: from, state: "down", lossPct: 100, latencyMs: null, jitterMs: null },
        { link: to, state: "up", lossPct: 0, latencyMs: 23.4, jitterMs: 2.1 },
      ],
      timeline: [
        { step: "route", ok: true, startMs: 0, durationMs: 120, detail: `default via ${to} gateway; 4 SIP/RTP conntrack entries deleted` },
        { step: "public-ip", ok: true, startMs: 120, durationMs: 310, detail: "198.51.100.7 (2 of 2 echo services agree)" },
        options.dnsFails
          ? { step: "dns", ok: false, startMs: 430, durationMs: 5000, detail: "cloudflare: timed out after 5 s" }
          : { step: "dns", ok: true, startMs: 430, durationMs: 840, detail: "office.example.com A 198.51.100.7, TTL 60, checked at the authoritative server" },
        { step: "asterisk", ok: true, startMs: 430, durationMs: 650, detail: "external_media_address and external_signaling_address set, read back" },
        { step: "trunks", ok: true, startMs: 1080, durationMs: 2100, detail: "2 of 2 trunks Registered (expiry 120 s)" },
      ],
    },
    new Date(T0 + (options.offsetMs ?? 0)),
    options.id ?? nextId(),
  );
}

/** `count` switches 6 s apart (ten within a minute): wan1→wan2, wan2→wan1, ...; an even count ends on wan1. */
export function flapping(count = 10): Alert[] {
  return Array.from({ length: count }, (_, i) =>
    switchAlert({ from: i % 2 === 0 ? "wan1" : "wan2", to: i % 2 === 0 ? "wan2" : "wan1", offsetMs: i * 6_000 }),
  );
}

export function tempStateDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "wanctl-notify-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Polls a condition on the event loop, a bounded number of times (no wall-clock assertion). */
export async function waitFor(condition: () => boolean, what: string, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A clock the test moves by hand; timers fire in time order as it passes them. */
export class FakeClock {
  private time: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.parse("2026-03-02T10:00:00Z")) {
    this.time = start;
  }

  now = (): number => this.time;

  setTimer = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  };

  clearTimer = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  /** Moves time forward by `ms`, firing the timers that fall due on the way (bounded). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let i = 0; i < 10_000; i++) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].fn();
    }
    this.time = end;
  }

  pendingTimers(): number {
    return this.timers.size;
  }
}

/** A send context that is never aborted. */
export const context = () => ({ signal: new AbortController().signal });

/** The NotifyError a send rejected with (fails the test if it resolved or threw something else). */
export async function failure(promise: Promise<unknown>): Promise<NotifyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NotifyError);
  return error as NotifyError;
}
