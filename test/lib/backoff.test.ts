import { describe, expect, it } from "vitest";
import { backoffDelay, backoffPolicy, type BackoffPolicy } from "../../src/lib/backoff.js";

const policy: BackoffPolicy = { initialMs: 100, maxMs: 2000, factor: 2, jitter: 0.5 };

describe("backoffDelay", () => {
  it("grows by the factor from the first retry up to the cap, with jitter inside [d·(1−jitter), d]", () => {
    const attempts = [1, 2, 3, 4, 5, 6, 7, 50, 5000];
    expect(attempts.map((a) => backoffDelay(a, policy, () => 0))).toEqual([50, 100, 200, 400, 800, 1000, 1000, 1000, 1000]);
    expect(attempts.map((a) => backoffDelay(a, policy, () => 0.999999))).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000]);
  });

  it("without jitter it is the plain capped exponential (the switch's repair retries)", () => {
    const plain = { initialMs: 5_000, maxMs: 60_000, factor: 2, jitter: 0 };
    expect([1, 2, 3, 4, 5, 30].map((a) => backoffDelay(a, plain, () => 0.3))).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
  });

  it("stays within bounds for any random value (seeded sweep)", () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const p = { initialMs: 250, maxMs: 30_000, factor: 2, jitter: 0.3 };
    for (let attempt = 1; attempt <= 200; attempt++) {
      const d = backoffDelay(attempt, p, random);
      const base = Math.min(30_000, 250 * 2 ** (attempt - 1));
      expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.7));
      expect(d).toBeLessThanOrEqual(base);
    }
  });

  it("odd inputs give a bounded number, never NaN or Infinity", () => {
    for (const attempt of [0, -3, Number.NaN, Number.POSITIVE_INFINITY, 2.7]) {
      for (const r of [-1, 2, Number.NaN]) {
        const d = backoffDelay(attempt, policy, () => r);
        expect(Number.isFinite(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(50);
        expect(d).toBeLessThanOrEqual(2000);
      }
    }
    expect(backoffDelay(0, policy, () => 1)).toBe(100); // below 1 counts as the first retry
  });
});

describe("backoffPolicy", () => {
  it("applies overrides to the base policy", () => {
    expect(backoffPolicy(policy, { initialMs: 10 })).toEqual({ ...policy, initialMs: 10 });
    expect(backoffPolicy(policy)).toEqual(policy);
  });

  it("rejects nonsense", () => {
    expect(() => backoffPolicy(policy, { maxMs: 10 })).toThrow(RangeError);
    expect(() => backoffPolicy(policy, { jitter: 2 })).toThrow(RangeError);
    expect(() => backoffPolicy(policy, { factor: 0.5 })).toThrow(RangeError);
    expect(() => backoffPolicy(policy, { initialMs: Number.NaN })).toThrow(/initialMs ≤ maxMs/);
  });
});
