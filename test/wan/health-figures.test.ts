import { describe, expect, it } from "vitest";
import {
  createLinkHealth,
  DEFAULT_HEALTH_PARAMS,
  DEFAULT_PROBE_TIMING,
  falseDownRate,
  hardCutDetection,
  linkMonitoringFigures,
  recordRound,
  roundFailProbability,
  type HealthParams,
  type LinkHealth,
} from "../../src/wan/health.js";
import type { ProbeResult } from "../../src/wan/probes/types.js";

/** Relative closeness, for figures spanning many orders of magnitude. */
function expectRel(actual: number, expected: number, rel = 1e-12): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * rel);
}

describe("roundFailProbability: binomial tail P(fewer than q of k answered)", () => {
  it("matches hand computations", () => {
    expectRel(roundFailProbability(0.2, 3, 1), 0.008); // 0.2³
    expectRel(roundFailProbability(0.2, 4, 1), 0.0016); // 0.2⁴
    expectRel(roundFailProbability(0.2, 3, 2), 0.104); // 0.2³ + 3·0.8·0.2² = 0.008 + 0.096
    expectRel(roundFailProbability(0.2, 3, 3), 0.488); // 1 − 0.8³
    expectRel(roundFailProbability(0.1, 5, 3), 0.00856); // 0.1⁵ + 5·0.9·0.1⁴ + 10·0.81·0.1³
  });

  it("is 1 − (1 − p)^k when every target is needed, for any p", () => {
    for (const p of [0, 0.01, 0.3, 0.77, 1]) {
      for (const k of [1, 2, 5, 8]) expect(roundFailProbability(p, k, k)).toBeCloseTo(1 - (1 - p) ** k, 14);
    }
  });

  it("edges: no loss never fails, total loss always fails, quorum above targets always fails", () => {
    expect(roundFailProbability(0, 3, 1)).toBe(0);
    expect(roundFailProbability(1, 3, 1)).toBe(1);
    expect(roundFailProbability(0, 3, 4)).toBe(1);
  });

  it("rejects nonsense", () => {
    expect(() => roundFailProbability(1.2, 3, 1)).toThrow(RangeError);
    expect(() => roundFailProbability(0.2, 0, 1)).toThrow(RangeError);
    expect(() => roundFailProbability(0.2, 3, 0)).toThrow(RangeError);
  });
});

describe("hardCutDetection", () => {
  it("the candidate and recommended timing: best 1050, mean 1225, p95 1382.5, worst 1400 ms", () => {
    expect(hardCutDetection({ intervalMs: 350, timeoutMs: 350, downAfter: 3 })).toEqual({
      bestMs: 1050,
      meanMs: 1225,
      p95Ms: 1382.5,
      worstMs: 1400,
    });
  });

  it("a measured RTT shortens every figure by that RTT", () => {
    expect(hardCutDetection({ intervalMs: 350, timeoutMs: 350, downAfter: 3 }, 20)).toEqual({
      bestMs: 1030,
      meanMs: 1205,
      p95Ms: 1362.5,
      worstMs: 1380,
    });
  });

  it("other timings: downAfter × interval + timeout at worst", () => {
    expect(hardCutDetection({ intervalMs: 250, timeoutMs: 400, downAfter: 4 }).worstMs).toBe(1400);
    expect(hardCutDetection({ intervalMs: 1000, timeoutMs: 1000, downAfter: 1 })).toEqual({
      bestMs: 1000,
      meanMs: 1500,
      p95Ms: 1950,
      worstMs: 2000,
    });
  });

  it("rejects nonsense", () => {
    expect(() => hardCutDetection({ intervalMs: 0, timeoutMs: 350, downAfter: 3 })).toThrow(RangeError);
    expect(() => hardCutDetection({ intervalMs: 350, timeoutMs: 350, downAfter: 0 })).toThrow(RangeError);
    expect(() => hardCutDetection({ intervalMs: 350, timeoutMs: 350, downAfter: 3 }, 350)).toThrow(RangeError);
  });

  it("agrees with the state machine fed by a simulated prober, over every cut phase (1 ms grid)", () => {
    // Rounds go out every 350 ms; answers come back after 0 ms (the model's worst case), lost probes
    // are known at the 350 ms timeout. A cut at c kills every round sent at or after c.
    const I = 350;
    const T = 350;
    const params: HealthParams = { ...DEFAULT_HEALTH_PARAMS, windowRounds: 5 };
    const targets = ["a", "b", "c", "d"];
    const delays: number[] = [];
    for (let phase = 0; phase < I; phase++) {
      let h: LinkHealth = createLinkHealth("wan1", 0);
      const cut = 20 * I + phase + 0.5; // just after a send instant: +0.5 keeps "at or after" unambiguous
      let detected: number | null = null;
      for (let n = 0; n < 40 && detected === null; n++) {
        const sent = n * I;
        const ok = sent < cut;
        const round: ProbeResult[] = targets.map((target) => ({ target, ok, ...(ok ? { rttMs: 0 } : {}) }));
        const res = recordRound(h, round, ok ? sent : sent + T, params);
        h = res.health;
        if (res.event?.to === "down") detected = res.event.at;
      }
      expect(detected).not.toBeNull();
      delays.push(detected! - cut);
    }
    const model = hardCutDetection({ intervalMs: I, timeoutMs: T, downAfter: 3 });
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(model.bestMs);
    expect(Math.max(...delays)).toBeLessThanOrEqual(model.worstMs);
    expect(Math.max(...delays)).toBeGreaterThan(model.worstMs - 2);
    expect(Math.min(...delays)).toBeLessThan(model.bestMs + 2);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(Math.abs(mean - model.meanMs)).toBeLessThan(1);
    const sorted = [...delays].sort((a, b) => a - b);
    expect(Math.abs(sorted[Math.ceil(0.95 * sorted.length) - 1]! - model.p95Ms)).toBeLessThan(2);
  });
});

describe("falseDownRate: roundsPerHour × P(fail)^downAfter × (1 − P(fail))", () => {
  it("candidate (3 targets, quorum 1, downAfter 3, 350 ms) at 20% loss: one every ~8 days", () => {
    const f = falseDownRate({ intervalMs: 350, targets: 3, quorum: 1, downAfter: 3 }, 0.2);
    expectRel(f.roundFailProbability, 0.008);
    expectRel(f.roundsPerHour, 3_600_000 / 350);
    expectRel(f.perRound, 0.008 ** 3 * 0.992); // 5.07904e-7
    expectRel(f.perHour, 0.005224155428571429);
    expectRel(f.perDay, 0.12537973028571428);
    expect(f.meanHoursBetween).toBeGreaterThan(191);
    expect(f.meanHoursBetween).toBeLessThan(192);
  });

  it("recommended (4 targets, 250 ms) at 20% loss: about one per 1.9 years", () => {
    const f = falseDownRate(DEFAULT_PROBE_TIMING, 0.2);
    expectRel(f.roundFailProbability, 0.0016);
    expectRel(f.perHour, 5.888802816e-5, 1e-9);
    expectRel(f.perDay, 0.00141331267584, 1e-9);
    expectRel(f.meanHoursBetween / (24 * 365), 1.9385137303526319, 1e-9);
  });

  it("no loss, no false downs; total loss, none either (the link is really down, one run only)", () => {
    expect(falseDownRate(DEFAULT_PROBE_TIMING, 0).perHour).toBe(0);
    expect(falseDownRate(DEFAULT_PROBE_TIMING, 0).meanHoursBetween).toBe(Infinity);
    expect(falseDownRate(DEFAULT_PROBE_TIMING, 1).perHour).toBe(0);
  });
});

describe("linkMonitoringFigures for the recommended defaults", () => {
  const fig = linkMonitoringFigures(DEFAULT_PROBE_TIMING, 0.2);

  it("meets the requirements: hard cut detected within 1 s (the route ≤ 1.1 s p95), 20% loss practically never downs a link", () => {
    expect(fig.hardCut.worstMs).toBe(1000);
    expect(fig.hardCut.p95Ms).toBeLessThanOrEqual(1000);
    expect(fig.falseDown.perDay).toBeLessThan(0.002); // < one per 500 days
  });

  it("the other figures the README quotes", () => {
    expect(fig.hardCut).toEqual({ bestMs: 750, meanMs: 875, p95Ms: 987.5, worstMs: 1000 });
    expect(fig.upWorstMs).toBe(1250);
    expectRel(fig.probesPerSecond, 4000 / 250);
  });

  it("the health defaults match the probe timing defaults", () => {
    expect(DEFAULT_HEALTH_PARAMS.quorum).toBe(DEFAULT_PROBE_TIMING.quorum);
    expect(DEFAULT_HEALTH_PARAMS.downAfter).toBe(DEFAULT_PROBE_TIMING.downAfter);
    expect(DEFAULT_HEALTH_PARAMS.upAfter).toBe(DEFAULT_PROBE_TIMING.upAfter);
  });
});
