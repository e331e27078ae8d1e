// The status page's history: minute aggregates of each link's rounds, the switches and drills,
// kept in the state directory across a restart, bounded to 7 days, and a damaged file survived.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { FailoverReport } from "../../src/daemon/report.js";
import { History, HISTORY_FILE } from "../../src/ops/history.js";
import type { LinkHealth, LinkState } from "../../src/wan/health.js";
import { tempDir } from "../temp-dirs.js";
import { recordingLogger } from "./fixtures.js";

const MINUTE = 60_000;
/** A whole minute, so that rounds land in known minutes. */
const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);

const health = (state: LinkState) => ({ state }) as LinkHealth;

function history(stateDir: string, clock: { now: number }, logger = recordingLogger().logger) {
  return new History({ stateDir, links: ["wan1", "wan2"], logger, now: () => clock.now });
}

const report = (at: number, ok = true): FailoverReport => ({
  kind: "failover",
  from: "wan1",
  to: "wan2",
  reason: "wan1 down: 3 rounds in a row failed",
  startedAt: new Date(at).toISOString(),
  durationMs: 1234.5,
  ok,
  steps: [
    { step: "route", ok: true, durationMs: 10.2, detail: "default route via wan2", startedAtMs: at },
    { step: "dns", ok, durationMs: 800, detail: ok ? "office.example.com → 203.0.113.10" : "badauth", startedAtMs: at + 10 },
  ],
});

describe("history", () => {
  test("sums each minute up per link: loss over every probe, median and highest RTT, jitter per target, the worst state", async () => {
    const clock = { now: T0 };
    const h = history(tempDir(), clock);
    await h.start();
    // Minute 0: two targets, four rounds; one probe lost.
    const rtts = [
      [10, 20],
      [12, 22],
      [11, null],
      [15, 21],
    ];
    rtts.forEach(([a, b], i) => {
      h.round("wan1", [{ target: "a", ok: true, rttMs: a! }, b === null ? { target: "b", ok: false } : { target: "b", ok: true, rttMs: b! }], health(i === 2 ? "degraded" : "up"), T0 + i * 1000);
    });
    h.round("wan2", [{ target: "a", ok: false }], health("down"), T0 + 500);
    // Minute 1: in progress, shown too.
    clock.now = T0 + MINUTE + 30_000;
    h.round("wan1", [{ target: "a", ok: true, rttMs: 30 }], health("up"), T0 + MINUTE + 1000);

    const series = h.series(3);
    expect(series.wan1).toEqual({
      t: [(T0 - MINUTE) / 1000, T0 / 1000, (T0 + MINUTE) / 1000],
      lossPct: [null, 12.5, 0],
      // Median of 10, 20, 12, 22, 11, 15, 21; jitter: target a |12-10|,|11-12|,|15-11|, target b |22-20|,|21-22| (the lost one skipped).
      latencyMs: [null, 15, 30],
      jitterMs: [null, 2, null],
    });
    expect(series.wan2!.lossPct).toEqual([null, 100, null]);
    await h.stopping();
    const rows = readFileSync(join((h as unknown as { options: { stateDir: string } }).options.stateDir, HISTORY_FILE), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    // ["m", minute, link, sent, lost, median RTT, highest RTT, jitter, worst state]
    expect(rows).toContainEqual(["m", T0 / MINUTE, "wan1", 8, 1, 15, 22, 2, "degraded"]);
    expect(rows).toContainEqual(["m", T0 / MINUTE, "wan2", 1, 1, null, null, null, "down"]);
  });

  test("keeps minutes, switches and drills across a restart", async () => {
    const stateDir = tempDir();
    const clock = { now: T0 };
    const first = history(stateDir, clock);
    await first.start();
    for (let s = 0; s < 180; s += 10) first.round("wan1", [{ target: "a", ok: true, rttMs: 40 }], health("up"), T0 + s * 1000);
    first.switched(report(T0 + 30_000, false), "decision");
    first.switched(report(T0 + 90_000), "drill");
    first.drilled({ ok: true, startedAt: new Date(T0 + 90_000).toISOString(), durationMs: 5000, from: "wan1", to: "wan2", notes: [], out: report(T0 + 90_000) });
    await first.stopping();

    clock.now = T0 + 10 * MINUTE;
    const second = history(stateDir, clock);
    await second.start();
    expect(second.series(12).wan1!.latencyMs.filter((v) => v !== null)).toEqual([40, 40, 40]);
    expect(second.lastSwitches().map((s) => [s.kind, s.ok, s.steps.length])).toEqual([
      ["drill", true, 2],
      ["failover", false, 2],
    ]);
    expect(second.lastSwitches()[1]!.steps[1]).toEqual({ step: "dns", ok: false, durationMs: 800, startMs: 10, detail: "badauth" });
    expect(second.switchesSince(T0 + 60_000).map((s) => s.kind)).toEqual(["drill"]);
    expect(second.lastDrill()).toEqual({ at: T0 + 90_000, ok: true, from: "wan1", to: "wan2", durationMs: 5000, notes: [] });
    await second.stopping();
  });

  test("7 days in 5-minute buckets: loss over all their probes, the mean of their medians", async () => {
    const clock = { now: T0 + 4 * MINUTE + 59_000 };
    const h = history(tempDir(), clock);
    await h.start();
    h.round("wan1", [{ target: "a", ok: true, rttMs: 10 }, { target: "b", ok: false }], health("up"), T0);
    h.round("wan1", [{ target: "a", ok: true, rttMs: 30 }, { target: "b", ok: true, rttMs: 30 }], health("up"), T0 + 3 * MINUTE);
    const series = h.series(7 * 24 * 60, 5);
    expect(series.wan1!.t).toHaveLength(7 * 24 * 12);
    expect(series.wan1!.t.at(-1)).toBe(T0 / 1000);
    expect(series.wan1!.lossPct.at(-1)).toBe(25);
    expect(series.wan1!.latencyMs.at(-1)).toBe(20);
    expect(series.wan1!.lossPct.slice(0, -1).every((v) => v === null)).toBe(true);
    await h.stopping();
  });

  test("stays bounded: minutes older than 7 days are not loaded, and a file holding more than 8 days is rewritten", async () => {
    const stateDir = tempDir();
    const file = join(stateDir, HISTORY_FILE);
    const row = (minutesAgo: number) => JSON.stringify(["m", T0 / MINUTE - minutesAgo, "wan1", 684, 3, 5, 6, 1, "up"]);
    writeFileSync(file, [row(9 * 24 * 60), row(7 * 24 * 60 + 5), row(3), row(2)].join("\n") + "\n");
    const clock = { now: T0 };
    const h = history(stateDir, clock);
    await h.start();
    expect(h.series(8 * 24 * 60).wan1!.latencyMs.filter((v) => v !== null)).toEqual([5, 5]);
    await h.stopping();
    const kept = readFileSync(file, "utf8").trim().split("\n");
    expect(kept).toEqual([row(3), row(2)]);
    // A minute row is one short line: 7 days of two links stay around a megabyte.
    expect(Math.max(...kept.map((l) => l.length))).toBeLessThan(60);
  });

  test("a line cut short (power loss) is skipped, said once, and the file is rewritten whole", async () => {
    const stateDir = tempDir();
    const file = join(stateDir, HISTORY_FILE);
    const good = JSON.stringify(["s", { at: T0, kind: "failover", from: "wan1", to: "wan2", ok: true, durationMs: 1, reason: "r", steps: [] }]);
    writeFileSync(file, `${good}\n["m",1,"wan1",684,3,5,6,1,"up"]\n["m",2,"wan1",684,3,5,"six",1,"up"]\n["m",3,"wan1",6`);
    const { lines, logger } = recordingLogger();
    const h = history(stateDir, { now: T0 + MINUTE }, logger);
    await h.start();
    h.drilled({ ok: false, refused: "a link is down", startedAt: new Date(T0).toISOString(), durationMs: 0, notes: [] });
    await h.stopping();
    expect(lines).toEqual([`the history (${file}) had 2 damaged line(s): skipped`]);
    const after = readFileSync(file, "utf8").trim().split("\n");
    // (Minute 1 is older than 7 days at T0: dropped by the rewrite.)
    expect(after).toEqual([good, JSON.stringify(["d", { at: T0, ok: false, refused: "a link is down", durationMs: 0, notes: [] }])]);
  });

  test("a history that cannot be written is said once, and the daemon's observers go on", async () => {
    const stateDir = tempDir();
    // A directory where the file should be: every append fails.
    appendFileSync(join(stateDir, "x"), "");
    const { lines, logger } = recordingLogger();
    const h = new History({ stateDir: join(stateDir, "x"), links: ["wan1"], logger, now: () => T0 });
    await h.start();
    h.switched(report(T0), "decision");
    h.switched(report(T0 + 1), "decision");
    await h.stopping();
    expect(lines.filter((l) => l.startsWith("cannot write the history"))).toHaveLength(1);
    expect(h.lastSwitches()).toHaveLength(2);
  });
});
