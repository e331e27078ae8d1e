import { describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { DEFAULT_PROBE_TIMING, falseDownRate, hardCutDetection } from "../../src/wan/health.js";
import { minimalConfig } from "./fixtures.js";

describe("the monitoring defaults", () => {
  const monitor = parseConfigText(JSON.stringify(minimalConfig()), "c.json").monitor;

  test("are the ones the README's arithmetic is about", () => {
    const { intervalMs, timeoutMs, quorum, downAfter, upAfter } = DEFAULT_PROBE_TIMING;
    expect(monitor).toMatchObject({ intervalMs, timeoutMs, quorum, downAfter, upAfter });
  });

  test("detect a hard cut within 1.5 s and, with 4 targets, survive 20 % loss for years", () => {
    const timing = { ...DEFAULT_PROBE_TIMING, ...monitor, targets: 4 };
    expect(hardCutDetection(timing).worstMs).toBeLessThanOrEqual(1500);
    expect(falseDownRate(timing, 0.2).meanHoursBetween / (24 * 365)).toBeGreaterThan(1);
  });
});
