import { describe, expect, it } from "vitest";
import {
  carrierLost,
  checkHealthParams,
  computeMetrics,
  createLinkHealth,
  DEFAULT_HEALTH_PARAMS,
  recordRound,
  type HealthEvent,
  type HealthParams,
  type LinkHealth,
} from "../../src/wan/health.js";
import type { ProbeResult } from "../../src/wan/probes/types.js";

const TARGETS = ["a", "b", "c"] as const;
const INTERVAL = 350;

/** A round over TARGETS: true/number = answered (number = RTT), false = lost. */
function round(...probes: (boolean | number)[]): ProbeResult[] {
  return probes.map((p, i) => {
    const target = TARGETS[i] ?? `t${i}`;
    if (p === false) return { target, ok: false };
    if (p === true) return { target, ok: true };
    return { target, ok: true, rttMs: p };
  });
}
const PASS = round(10, 11, 12);
const FAIL = round(false, false, false);

const P: HealthParams = { quorum: 1, downAfter: 3, upAfter: 5, windowRounds: 20 };

/** Feeds rounds one interval apart; returns every intermediate health and the events. */
function feed(start: LinkHealth, rounds: ProbeResult[][], params: HealthParams = P, t0 = 0) {
  let h = start;
  const states: LinkHealth[] = [];
  const events: HealthEvent[] = [];
  rounds.forEach((r, i) => {
    const res = recordRound(h, r, t0 + (i + 1) * INTERVAL, params);
    h = res.health;
    states.push(h);
    if (res.event) events.push(res.event);
  });
  return { health: h, states, events };
}
const times = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);

function upLink(params: HealthParams = P): LinkHealth {
  const { health } = feed(createLinkHealth("wan1", 0), times(params.upAfter, PASS), params);
  expect(health.state).toBe("up");
  return health;
}

describe("initial state", () => {
  it("starts unknown, since the creation time, with no figures", () => {
    const h = createLinkHealth("wan1", 1234);
    expect(h.state).toBe("unknown");
    expect(h.since).toBe(1234);
    expect(h.lastRoundAt).toBeNull();
    expect(h.metrics.lossPct).toBeNull();
    expect(h.metrics.latencyMs).toBeNull();
    expect(h.metrics.jitterMs).toBeNull();
  });

  it("does not mutate the state it is given", () => {
    const h = createLinkHealth("wan1", 0);
    const copy = JSON.stringify(h);
    recordRound(h, FAIL, 350, P);
    expect(JSON.stringify(h)).toBe(copy);
  });
});

describe("from unknown: the same counts as later (documented choice)", () => {
  it("is up after exactly upAfter passing rounds, not one earlier", () => {
    const { states, events } = feed(createLinkHealth("wan1", 0), times(5, PASS));
    expect(states.map((s) => s.state)).toEqual(["unknown", "unknown", "unknown", "unknown", "up"]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ link: "wan1", from: "unknown", to: "up", at: 5 * INTERVAL, previousSince: 0 });
    expect(events[0]!.reason).toBe("5 rounds in a row passed: 3/3 targets answered (quorum 1)");
    expect(states[4]!.since).toBe(5 * INTERVAL);
  });

  it("is down after exactly downAfter failing rounds", () => {
    const { states, events } = feed(createLinkHealth("wan2", 100), times(3, FAIL));
    expect(states.map((s) => s.state)).toEqual(["unknown", "unknown", "down"]);
    expect(events[0]).toMatchObject({ from: "unknown", to: "down", at: 3 * INTERVAL, previousSince: 100 });
    expect(events[0]!.reason).toBe("3 rounds in a row failed: 0/3 targets answered (quorum 1)");
  });

  it("stays unknown while rounds alternate (no streak long enough either way)", () => {
    const { health, events } = feed(createLinkHealth("wan1", 0), times(50, [PASS, PASS, FAIL, FAIL]).flat());
    expect(health.state).toBe("unknown");
    expect(events).toEqual([]);
  });
});

describe("hard cut", () => {
  it("an up link is down after exactly downAfter failed rounds, with the figures of that moment", () => {
    const up = upLink();
    const t0 = up.lastRoundAt!;
    const { states, events } = feed(up, times(3, FAIL), P, t0);
    expect(states.map((s) => s.state)).toEqual(["up", "up", "down"]);
    expect(events).toHaveLength(1);
    const ev = events[0]!;
    expect(ev).toMatchObject({ from: "up", to: "down", at: t0 + 3 * INTERVAL, previousSince: 5 * INTERVAL });
    expect(ev.reason).toBe("3 rounds in a row failed: 0/3 targets answered (quorum 1)");
    // window: 5 clean rounds + 3 lost rounds of 3 probes
    expect(ev.metrics.rounds).toBe(8);
    expect(ev.metrics.probesSent).toBe(24);
    expect(ev.metrics.probesAnswered).toBe(15);
    expect(ev.metrics.lossPct).toBeCloseTo((9 / 24) * 100, 12);
    expect(ev.metrics.failStreak).toBe(3);
    expect(states[2]!.since).toBe(t0 + 3 * INTERVAL);
  });

  it("works the same with other counts (downAfter 1 and 5)", () => {
    for (const downAfter of [1, 5]) {
      const params = { ...P, downAfter };
      const { states } = feed(upLink(params), times(downAfter, FAIL), params);
      expect(states.slice(0, -1).every((s) => s.state === "up")).toBe(true);
      expect(states.at(-1)!.state).toBe("down");
    }
  });

  it("says '1 round' in the singular", () => {
    const params = { ...P, downAfter: 1 };
    const { events } = feed(upLink(params), [FAIL], params);
    expect(events[0]!.reason).toBe("1 round in a row failed: 0/3 targets answered (quorum 1)");
  });

  it("a down link stays down and emits nothing more while rounds keep failing", () => {
    const { events, health } = feed(upLink(), times(30, FAIL));
    expect(events).toHaveLength(1);
    expect(health.state).toBe("down");
    expect(health.since).toBe(events[0]!.at);
  });
});

describe("a lost round never flips", () => {
  it("isolated failed rounds and runs of downAfter−1 keep the link up", () => {
    const pattern = [FAIL, PASS, FAIL, FAIL, PASS, FAIL, PASS, PASS, FAIL, FAIL, PASS];
    const { health, events } = feed(upLink(), times(20, pattern).flat());
    expect(health.state).toBe("up");
    expect(events).toEqual([]);
  });

  it("one passing round restarts the failure count", () => {
    const { states } = feed(upLink(), [FAIL, FAIL, PASS, FAIL, FAIL, FAIL]);
    expect(states.map((s) => s.state)).toEqual(["up", "up", "up", "up", "up", "down"]);
  });

  it("a single answered round during an outage does not bring the link back", () => {
    const down = feed(upLink(), times(3, FAIL)).health;
    const { states } = feed(down, [PASS, FAIL, PASS, PASS, PASS, PASS, PASS]);
    expect(states.map((s) => s.state)).toEqual(["down", "down", "down", "down", "down", "down", "up"]);
  });
});

describe("quorum", () => {
  const q2 = { ...P, quorum: 2 };

  it("with quorum 1 a round with one answer of three passes", () => {
    const { health } = feed(upLink(), times(10, round(false, 30, false)));
    expect(health.state).toBe("up");
  });

  it("with quorum 2, two answers pass and one fails", () => {
    const up = upLink(q2);
    expect(feed(up, times(10, round(10, false, 12)), q2).health.state).toBe("up");
    const { states, events } = feed(up, times(3, round(false, 11, false)), q2);
    expect(states.map((s) => s.state)).toEqual(["up", "up", "down"]);
    expect(events[0]!.reason).toBe("3 rounds in a row failed: 1/3 targets answered (quorum 2)");
  });

  it("with quorum 2, one answer per round never brings a link up", () => {
    const { health } = feed(createLinkHealth("wan1", 0), times(10, round(10, false, false)), q2);
    expect(health.state).toBe("down");
  });

  it("a round with fewer results than the quorum fails (misconfiguration is loud, not silent)", () => {
    const q4 = { ...P, quorum: 4 };
    const { health, events } = feed(createLinkHealth("wan1", 0), times(3, PASS), q4);
    expect(health.state).toBe("down");
    expect(events[0]!.reason).toBe("3 rounds in a row failed: 3/3 targets answered (quorum 4)");
  });
});

describe("recovery", () => {
  it("down → up after exactly upAfter passing rounds; the window restarts with that streak", () => {
    const down = feed(upLink(), times(4, FAIL)).health;
    expect(down.state).toBe("down");
    const t0 = down.lastRoundAt!;
    const { states, events } = feed(down, times(5, round(20, 22, false)), P, t0);
    expect(states.map((s) => s.state)).toEqual(["down", "down", "down", "down", "up"]);
    const ev = events[0]!;
    expect(ev).toMatchObject({ from: "down", to: "up", at: t0 + 5 * INTERVAL, previousSince: down.since });
    expect(ev.reason).toBe("5 rounds in a row passed: 2/3 targets answered (quorum 1)");
    // Only the 5 rounds of the streak remain: 15 probes, 5 lost (target c); the outage is gone.
    expect(ev.metrics.rounds).toBe(5);
    expect(ev.metrics.probesSent).toBe(15);
    expect(ev.metrics.lossPct).toBeCloseTo((5 / 15) * 100, 12);
    expect(states[3]!.metrics.rounds).toBe(13); // before the verdict the window still held the outage
  });
});

describe("metrics over the window (hand-computed)", () => {
  // Two targets a, b; window of 4 rounds.
  //   R1: a 10, b 20 | R2: a 14, b lost | R3: a lost, b 26 | R4: a 11, b 27 | R5: a 12, b 22
  const params: HealthParams = { quorum: 1, downAfter: 3, upAfter: 5, windowRounds: 4 };
  const rounds = [round(10, 20), round(14, false), round(false, 26), round(11, 27), round(12, 22)];

  it("loss, mean, median and per-target jitter over R1..R4", () => {
    const h = feed(createLinkHealth("wan1", 0), rounds.slice(0, 4), params).health;
    const m = h.metrics;
    expect(m.rounds).toBe(4);
    expect(m.probesSent).toBe(8);
    expect(m.probesAnswered).toBe(6);
    expect(m.lossPct).toBe(25); // 2 of 8
    expect(m.rttMeanMs).toBe(18); // (10+20+14+26+11+27)/6 = 108/6
    expect(m.rttMedianMs).toBe(17); // sorted 10 11 14 20 26 27 → (14+20)/2
    expect(m.latencyMs).toBe(17); // median by default
    // a: |14−10|=4, |11−14|=3 (the lost probe is skipped); b: |26−20|=6, |27−26|=1 → 14/4
    expect(m.jitterMs).toBe(3.5);
    expect(m.lastRound).toEqual({ answered: 2, targets: 2, passed: true });
  });

  it("the window slides: R2..R5", () => {
    const m = feed(createLinkHealth("wan1", 0), rounds, params).health.metrics;
    expect(m.rounds).toBe(4);
    expect(m.lossPct).toBe(25);
    expect(m.rttMeanMs).toBeCloseTo(112 / 6, 12); // 14+26+11+27+12+22
    expect(m.rttMedianMs).toBe(18); // 11 12 14 22 26 27 → (14+22)/2
    expect(m.jitterMs).toBe(2.5); // a: 3, 1; b: 1, 5 → 10/4
  });

  it("latencyStat mean makes latencyMs the mean", () => {
    const m = feed(createLinkHealth("wan1", 0), rounds.slice(0, 4), { ...params, latencyStat: "mean" }).health.metrics;
    expect(m.latencyMs).toBe(18);
  });

  it("answers without a usable RTT count as answered but give no RTT sample", () => {
    const r: ProbeResult[] = [
      { target: "a", ok: true },
      { target: "b", ok: true, rttMs: Number.NaN },
      { target: "c", ok: true, rttMs: -3 },
      { target: "d", ok: true, rttMs: 40 },
      { target: "e", ok: false, rttMs: 5 }, // lost: its RTT is ignored
    ];
    const m = feed(createLinkHealth("wan1", 0), [r], params).health.metrics;
    expect(m.probesAnswered).toBe(4);
    expect(m.lossPct).toBe(20);
    expect(m.rttMeanMs).toBe(40);
    expect(m.rttMedianMs).toBe(40);
    expect(m.jitterMs).toBeNull();
  });

  it("an odd number of samples gives the middle one as median", () => {
    const m = feed(createLinkHealth("wan1", 0), [round(30, 10, 50)], params).health.metrics;
    expect(m.rttMedianMs).toBe(30);
    expect(m.rttMeanMs).toBe(30);
  });

  it("computeMetrics of an empty window is all null", () => {
    const m = computeMetrics([]);
    expect(m).toMatchObject({ rounds: 0, probesSent: 0, lossPct: null, latencyMs: null, jitterMs: null, lastRound: null });
  });
});

describe("quality: degraded with hysteresis", () => {
  // Two targets; b is lost in "lossy" rounds. Window 10 rounds = 20 probes.
  const params: HealthParams = {
    quorum: 1,
    downAfter: 3,
    upAfter: 5,
    windowRounds: 10,
    quality: { maxLossPct: 20, degradeAfter: 3, recoverAfter: 4, recoverRatio: 0.5 },
  };
  const CLEAN = round(10, 10);
  const LOSSY = round(10, false);

  function run(rs: ProbeResult[][]) {
    return feed(createLinkHealth("wan1", 0), rs, params);
  }

  it("degrades only after degradeAfter rounds in a row over the threshold, with the figures", () => {
    // R1..R5 clean (up at R5), R6.. lossy. Loss: R6 1/12, R7 2/14, R8 3/16=18.75%, R9 4/18=22.2% (bad 1),
    // R10 5/20=25% (bad 2), R11 6/20=30% (bad 3 → degraded).
    const { states, events } = run([...times(5, CLEAN), ...times(6, LOSSY)]);
    expect(states.map((s) => s.state)).toEqual([
      ...times(4, "unknown"),
      "up",
      "up",
      "up",
      "up",
      "up",
      "up",
      "degraded",
    ]);
    expect(states[8]!.qualityBadStreak).toBe(1);
    expect(states[9]!.qualityBadStreak).toBe(2);
    const ev = events[1]!;
    expect(ev).toMatchObject({ from: "up", to: "degraded", at: 11 * INTERVAL, previousSince: 5 * INTERVAL });
    expect(ev.reason).toBe("quality over thresholds for 3 rounds in a row: loss 30% > 20%");
    expect(ev.metrics.lossPct).toBe(30);
  });

  it("one round under the threshold restarts the degrade count", () => {
    // A window of one round makes the latency that round's own: 150 ms is over, 50 ms under.
    const q: HealthParams = { ...params, windowRounds: 1, quality: { maxLatencyMs: 100, degradeAfter: 3 } };
    const at = (ms: number) => round(ms, ms);
    const rs = [...times(5, at(50)), at(150), at(150), at(50), at(150), at(150), at(50), at(150), at(150)];
    const { states, events } = feed(createLinkHealth("wan1", 0), rs, q);
    expect(events.map((e) => e.to)).toEqual(["up"]);
    expect(states.map((s) => s.qualityBadStreak).slice(5)).toEqual([1, 2, 0, 1, 2, 0, 1, 2]);
    // ... and the third in a row does it.
    const third = recordRound(states.at(-1)!, at(150), 99_999, q);
    expect(third.event?.to).toBe("degraded");
    expect(third.event?.reason).toBe("quality over thresholds for 3 rounds in a row: latency 150 ms > 100 ms");
  });

  it("recovers only when every metric is under recoverRatio × threshold for recoverAfter rounds", () => {
    const { health: degraded } = run([...times(5, CLEAN), ...times(6, LOSSY)]);
    expect(degraded.state).toBe("degraded");
    // Clean rounds push the lossy ones out: R12..R15 keep 6 lossy in the window (30%), R16 25%, R17 20%,
    // R18 15% (under the threshold, over 10%: dead band, stays degraded), R19 10% (good 1), R20 5% (2),
    // R21 0% (3), R22 0% (4 → up).
    const { states, events } = feed(degraded, times(11, CLEAN), params, 11 * INTERVAL);
    const lossAt = (i: number) => states[i]!.metrics.lossPct;
    expect(lossAt(6)).toBe(15);
    expect(states[6]!.state).toBe("degraded");
    expect(states.map((s) => s.state)).toEqual([...times(10, "degraded"), "up"]);
    expect(states.map((s) => s.qualityGoodStreak).slice(7, 10)).toEqual([1, 2, 3]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ from: "degraded", to: "up", at: 22 * INTERVAL, previousSince: 11 * INTERVAL });
    expect(events[0]!.reason).toBe("quality back within thresholds for 4 rounds in a row: loss 0% ≤ 10%");
  });

  it("a relapse in the dead band restarts the recovery count", () => {
    const { health: degraded } = run([...times(5, CLEAN), ...times(6, LOSSY)]);
    // 8 clean rounds bring loss to 10% (good 1 at the 8th); one round with both probes lost (R20) brings
    // it to 15% again (good back to 0); three clean rounds after that are not yet the 4 needed.
    const DEAD = round(false, false);
    const { states } = feed(degraded, [...times(8, CLEAN), DEAD, ...times(3, CLEAN)], params);
    expect(states[7]!.qualityGoodStreak).toBe(1);
    expect(states[8]!.metrics.lossPct).toBe(15);
    expect(states[8]!.qualityGoodStreak).toBe(0);
    expect(states.map((s) => s.qualityGoodStreak).slice(9)).toEqual([1, 2, 3]);
    expect(states.every((s) => s.state === "degraded")).toBe(true);
  });

  it("latency and jitter thresholds, each named in the reason", () => {
    const q: HealthParams = { ...params, quality: { maxLatencyMs: 100, maxJitterMs: 30, degradeAfter: 2 } };
    const base = [...times(5, round(20, 20))];
    // Latency: median jumps over 100 once most samples are slow.
    const slow = feed(createLinkHealth("wan1", 0), [...base, ...times(8, round(150, 150))], q);
    const evL = slow.events.find((e) => e.to === "degraded")!;
    expect(evL.reason).toMatch(/^quality over thresholds for 2 rounds in a row: latency 150 ms > 100 ms/);
    // Jitter: RTTs alternating 20/120 on both targets → |D| = 100 per pair; the median stays 20.
    // Per target, pairs/sum: R9 8/300 → 37.5 ms (bad 1), R10 9/400 → 44.4 ms (bad 2 → degraded).
    const jittery = feed(
      createLinkHealth("wan1", 0),
      [...base, round(20, 20), round(120, 120), round(20, 20), round(120, 120), round(20, 20)],
      q,
    );
    const evJ = jittery.events.find((e) => e.to === "degraded")!;
    expect(evJ.reason).toBe("quality over thresholds for 2 rounds in a row: jitter 44.4 ms > 30 ms");
    expect(evJ.at).toBe(10 * INTERVAL);
    expect(evJ.reason).not.toMatch(/latency/);
    expect(evJ.metrics.latencyMs).toBe(20);
  });

  it("defaults: degradeAfter 3, recoverAfter 10, recoverRatio 0.8", () => {
    const q: HealthParams = { ...params, quality: { maxLossPct: 20 } };
    const degraded = feed(createLinkHealth("wan1", 0), [...times(5, CLEAN), ...times(6, LOSSY)], q);
    expect(degraded.health.state).toBe("degraded"); // 3 rounds over 20% as above
    const { states } = feed(degraded.health, times(20, CLEAN), q);
    // Recovery threshold 16%: reached when loss ≤ 15% (R18, the 7th clean round), then 10 rounds → 16th.
    const firstUp = states.findIndex((s) => s.state === "up");
    expect(firstUp).toBe(15);
  });

  it("without thresholds a lossy but working link is never degraded", () => {
    const { events } = feed(createLinkHealth("wan1", 0), [...times(5, CLEAN), ...times(50, LOSSY)], {
      ...params,
      quality: undefined,
    });
    expect(events.map((e) => e.to)).toEqual(["up"]);
  });

  it("a degraded link still goes down on a hard cut, and comes back up (not degraded) afterwards", () => {
    const { health: degraded } = run([...times(5, CLEAN), ...times(6, LOSSY)]);
    const { events, health } = feed(degraded, [...times(3, round(false, false)), ...times(5, CLEAN)], params);
    expect(events.map((e) => `${e.from}→${e.to}`)).toEqual(["degraded→down", "down→up"]);
    expect(events[0]!.reason).toBe("3 rounds in a row failed: 0/2 targets answered (quorum 1)");
    expect(health.metrics.lossPct).toBe(0);
    expect(health.qualityBadStreak).toBe(0);
  });
});

describe("checkHealthParams", () => {
  it("accepts the defaults", () => {
    expect(checkHealthParams(DEFAULT_HEALTH_PARAMS, 4)).toEqual([]);
  });

  it("names every problem", () => {
    const problems = checkHealthParams(
      {
        quorum: 0,
        downAfter: 1.5,
        upAfter: 1,
        windowRounds: 0,
        quality: { maxLossPct: 120, maxJitterMs: -1, recoverRatio: 1.5, degradeAfter: 0 },
      },
      2,
    );
    expect(problems).toHaveLength(7);
    expect(problems.join("\n")).toMatch(/quorum must be/);
    expect(problems.join("\n")).toMatch(/downAfter must be/);
    expect(problems.join("\n")).toMatch(/windowRounds must be/);
    expect(problems.join("\n")).toMatch(/maxLossPct must be ≤ 100/);
    expect(problems.join("\n")).toMatch(/maxJitterMs must be a number ≥ 0/);
    expect(problems.join("\n")).toMatch(/recoverRatio/);
    expect(problems.join("\n")).toMatch(/degradeAfter/);
  });

  it("rejects a quorum larger than the targets", () => {
    expect(checkHealthParams({ ...P, quorum: 4 }, 3)).toEqual([
      "quorum 4 is more than the 3 targets: every round would fail",
    ]);
  });
});

describe("carrier lost", () => {
  it("an up link is down at once, with the reason; a down one stays as it is; its rounds bring it back", () => {
    let h = createLinkHealth("wan1", 0);
    for (let t = 1; t <= DEFAULT_HEALTH_PARAMS.upAfter; t++) h = recordRound(h, [{ target: "a", ok: true, rttMs: 5 }], t * 350, DEFAULT_HEALTH_PARAMS).health;
    expect(h.state).toBe("up");
    const lost = carrierLost(h, "eth1", 5_000);
    expect(lost.health).toMatchObject({ state: "down", since: 5_000, passStreak: 0 });
    expect(lost.event).toMatchObject({ from: "up", to: "down", at: 5_000, reason: "carrier lost on eth1 (cable, modem or the ISP's port)" });
    expect(carrierLost(lost.health, "eth1", 6_000)).toEqual({ health: lost.health, event: null });
    let back = lost.health;
    for (let t = 1; t <= DEFAULT_HEALTH_PARAMS.upAfter; t++) back = recordRound(back, [{ target: "a", ok: true, rttMs: 5 }], 6_000 + t * 350, DEFAULT_HEALTH_PARAMS).health;
    expect(back.state).toBe("up");
  });
});
