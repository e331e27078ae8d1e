// The monitor's timer loop, on fake timers: rounds come every interval, and a change of interval
// re-aims the wait under way from the start of the round it follows.
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { LinkMonitor } from "../../src/daemon/link-monitor.js";
import type { Probe, ProbeResult } from "../../src/wan/probes/types.js";

const probe: Probe = {
  target: "icmp 192.0.2.1",
  type: "icmp",
  link: { name: "wan2", interface: "eth1", sourceAddress: "198.51.100.2" },
  run: async (): Promise<ProbeResult> => ({ target: "icmp 192.0.2.1", ok: true, rttMs: 1 }),
  close: async () => undefined,
};

describe("LinkMonitor", () => {
  let monitor: LinkMonitor | undefined;
  const rounds: number[] = [];
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
    rounds.length = 0;
  });
  afterEach(async () => {
    const stopping = monitor?.stop();
    await vi.runAllTimersAsync();
    await stopping;
    vi.useRealTimers();
  });

  function start(intervalMs: number): LinkMonitor {
    monitor = new LinkMonitor({ link: "wan2", intervalMs, now: Date.now, probes: async () => [probe], onRound: (_l, _r, at) => void rounds.push(at) });
    monitor.start();
    return monitor;
  }

  test("one round per interval", async () => {
    start(1000);
    await vi.advanceTimersByTimeAsync(3500);
    expect(rounds).toEqual([0, 1000, 2000, 3000]);
  });

  test("a shorter interval cuts the wait under way; a longer one stretches it", async () => {
    const m = start(1000);
    await vi.advanceTimersByTimeAsync(100);
    m.setInterval(250); // the round of 0 was waiting for 1000: it now ends at 250
    await vi.advanceTimersByTimeAsync(700);
    expect(rounds).toEqual([0, 250, 500, 750]);
    m.setInterval(1000); // the wait after the round of 750 now ends at 1750
    await vi.advanceTimersByTimeAsync(949);
    expect(rounds).toEqual([0, 250, 500, 750]);
    await vi.advanceTimersByTimeAsync(1);
    expect(rounds).toEqual([0, 250, 500, 750, 1750]);
    expect(m.interval).toBe(1000);
  });

  test("a wait already longer than the new interval ends at once", async () => {
    const m = start(1000);
    await vi.advanceTimersByTimeAsync(600);
    m.setInterval(250);
    await vi.advanceTimersByTimeAsync(0);
    expect(rounds).toEqual([0, 600]);
    await vi.advanceTimersByTimeAsync(250);
    expect(rounds).toEqual([0, 600, 850]);
  });
});
