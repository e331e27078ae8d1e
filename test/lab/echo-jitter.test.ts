import { expect, test } from "vitest";
import { startEchoJitter } from "./echo-jitter.js";
import { describeLab, useLab } from "./vitest.js";

function rtts(output: string): number[] {
  return [...output.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

describeLab("echo jitter (delay without netem)", () => {
  const lab = useLab({ linkProbes: true });

  test("replies to the slowed link come back late and scattered; the other link's do not", async () => {
    const jitter = await startEchoJitter(lab, { slowedSources: [lab.links.wan1.publicAddress], delayMs: 50, jitterMs: 50 });
    try {
      const slow = await lab.exec("office", ["ping", "-n", "-c", "20", "-i", "0.05", "-W", "1", "-I", "wan1", "192.0.2.1"]);
      const fast = await lab.exec("office", ["ping", "-n", "-c", "20", "-i", "0.05", "-W", "1", "-I", "wan2", "192.0.2.1"]);
      const slowRtts = rtts(slow.stdout);
      const fastRtts = rtts(fast.stdout);
      expect(slowRtts.length).toBeGreaterThanOrEqual(18);
      expect(fastRtts.length).toBeGreaterThanOrEqual(18);
      // Uniform 0-100 ms: the spread is wide; the other link is not delayed. Medians, not extremes:
      // a loaded machine delays a stray reply of either link.
      const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
      expect(Math.max(...slowRtts) - Math.min(...slowRtts)).toBeGreaterThan(20);
      expect(median(slowRtts)).toBeGreaterThan(median(fastRtts) + 20);
    } finally {
      await jitter.stop();
    }
    const after = await lab.exec("office", ["ping", "-n", "-c", "3", "-i", "0.05", "-W", "1", "-I", "wan1", "192.0.2.1"]);
    expect(rtts(after.stdout)).toHaveLength(3);
  });
});
