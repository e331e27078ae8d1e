// What the ops tests share: a parsed Prometheus exposition, a daemon status, a switch report.
import type { FailoverReport } from "../../src/daemon/report.js";
import type { DaemonStatus } from "../../src/daemon/status-file.js";

export type Samples = Map<string, number>;

/** `name{a="1",b="2"}` → value, labels in their exposed order. */
export function parseExposition(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

export function statusFixture(over: Partial<DaemonStatus> = {}): DaemonStatus {
  const since = "2025-01-06T09:00:00.000Z";
  return {
    version: 1,
    pid: 1,
    startedAt: since,
    updatedAt: since,
    active: "wan2",
    pin: { mode: "auto" },
    decision: { action: "stay", reason: "wan2 is the best link up" },
    links: [
      { name: "wan1", interface: "wan1", priority: 1, state: "down", since, lossPct: 100, latencyMs: null, jitterMs: null, lastRound: { answered: 0, targets: 2 }, reason: "3 rounds failed" },
      { name: "wan2", interface: "wan2", priority: 2, state: "degraded", since, lossPct: 2.5, latencyMs: 48, jitterMs: 4, lastRound: { answered: 2, targets: 2 }, reason: null },
    ],
    switches: 1,
    switching: null,
    lastSwitch: null,
    pending: { link: "wan2", steps: ["dns"], since },
    trunksShortened: true,
    alerts: [{ channel: "email", queued: 3, attempts: 2 }],
    ...over,
  };
}

export const failover = (ok: boolean): FailoverReport => ({
  kind: "failover",
  from: "wan1",
  to: "wan2",
  reason: "wan1 down",
  startedAt: "2025-01-06T09:00:00.000Z",
  durationMs: 1500,
  ok,
  steps: [
    { step: "route", ok: true, durationMs: 20, detail: "default route via wan2" },
    { step: "dns", ok, durationMs: 700, detail: ok ? "updated" : "badauth" },
    { step: "trunks", ok: false, durationMs: 0, detail: "skipped", skipped: true },
  ],
});
