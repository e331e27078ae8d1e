/**
 * Link health and the decider together, on a simulated clock: the daemon loop without the daemon.
 * Every 350 ms each link gets a round of 4 probes; the decider runs after each round, and a switch
 * is applied at once. No timers, no network: time is a loop variable.
 */
import { describe, expect, it } from "vitest";
import { decide, type Decision, type DeciderPolicy } from "../../src/daemon/decider.js";
import type { Pin } from "../../src/daemon/pin.js";
import {
  createLinkHealth,
  DEFAULT_HEALTH_PARAMS,
  DEFAULT_PROBE_TIMING,
  recordRound,
  type LinkHealth,
} from "../../src/wan/health.js";
import type { ProbeResult } from "../../src/wan/probes/types.js";
import { mulberry32 } from "../prng.js";

const I = DEFAULT_PROBE_TIMING.intervalMs;
const T = DEFAULT_PROBE_TIMING.timeoutMs;
const SEC = 1000;
const MIN = 60 * SEC;
const LINKS = [
  { name: "wan1", priority: 1 },
  { name: "wan2", priority: 2 },
];
const POLICY: DeciderPolicy = { failbackHoldDownMs: 5 * MIN, waitForIdleCalls: true, maxCallWaitMs: 10 * MIN };


interface World {
  /** Is the link cut at time t (ms)? */
  cut(link: string, t: number): boolean;
  /** Loss probability per probe at time t. */
  loss(link: string, t: number): number;
  calls(t: number): number | null;
  pin?(t: number): Pin;
}

interface Switch {
  readonly at: number;
  readonly decision: Extract<Decision, { action: "switch" }>;
}

function run(world: World, untilMs: number, startActive = "wan1", seed = 7, policy: DeciderPolicy = POLICY) {
  const rand = mulberry32(seed);
  const health: Record<string, LinkHealth> = {
    wan1: createLinkHealth("wan1", 0),
    wan2: createLinkHealth("wan2", 0),
  };
  let active = startActive;
  const switches: Switch[] = [];
  const downs: { link: string; at: number }[] = [];
  let last: Decision | null = null;
  const targets = ["t0", "t1", "t2", "t3"];
  // A round sent at `sent` is judged at sent + T (lost probes are known at the timeout).
  for (let sent = 0; sent + T <= untilMs; sent += I) {
    const now = sent + T;
    for (const link of LINKS.map((l) => l.name)) {
      const dead = world.cut(link, sent);
      const p = world.loss(link, sent);
      const round: ProbeResult[] = targets.map((target) => {
        const ok = !dead && rand() >= p;
        return ok ? { target, ok, rttMs: 15 } : { target, ok };
      });
      const res = recordRound(health[link]!, round, now, DEFAULT_HEALTH_PARAMS);
      health[link] = res.health;
      if (res.event?.to === "down") downs.push({ link, at: now });
    }
    last = decide({
      links: LINKS,
      health,
      active,
      pin: world.pin?.(now) ?? { mode: "auto" },
      policy,
      activeCalls: world.calls(now),
      now,
    });
    if (last.action === "switch") {
      switches.push({ at: now, decision: last });
      active = last.to;
    }
  }
  return { switches, downs, active, last: last!, health };
}

describe("health + decider on a simulated clock", () => {
  it("start: nothing flips while health is unknown, and nothing after when all is well", () => {
    const r = run({ cut: () => false, loss: () => 0, calls: () => 0 }, 2 * MIN);
    expect(r.switches).toEqual([]);
    expect(r.last.reason).toMatch(/^on wan1 up for/);
  });

  it("start on the backup: the failback waits for the hold-down counted from the start", () => {
    const r = run({ cut: () => false, loss: () => 0, calls: () => 0 }, 7 * MIN, "wan2");
    expect(r.switches).toHaveLength(1);
    const s = r.switches[0]!;
    expect(s.decision).toMatchObject({ from: "wan2", to: "wan1", kind: "failback" });
    // wan1 up after 5 rounds (judged at 4·I + T = 1750 ms), then 5 min.
    expect(s.at).toBeGreaterThanOrEqual(4 * I + T + 5 * MIN);
    expect(s.at).toBeLessThan(4 * I + T + 5 * MIN + I);
  });

  it("10 minutes of 20% random loss on the active link: no switch", () => {
    const r = run({ cut: () => false, loss: (l) => (l === "wan1" ? 0.2 : 0), calls: () => 3 }, 10 * MIN);
    expect(r.downs).toEqual([]);
    expect(r.switches).toEqual([]);
  });

  it("hard cut, flap, return with calls up: failover ≤ 1.4 s, failback after hold-down from the last return, when calls end", () => {
    const cutAt = 60 * SEC + 123; // wan1 dies
    const backAt = 3 * MIN; // wan1 returns …
    const flapAt = 5 * MIN; // … dies again for 3 s …
    const flapEnd = flapAt + 3 * SEC; // … and returns for good
    const callsEndAt = flapEnd + 5 * MIN + 2 * MIN; // 2 min after the hold-down ends
    const world: World = {
      cut: (l, t) => l === "wan1" && ((t >= cutAt && t < backAt) || (t >= flapAt && t < flapEnd)),
      loss: () => 0,
      calls: (t) => (t < callsEndAt ? 2 : 0),
    };
    const r = run(world, 20 * MIN);
    expect(r.switches.map((s) => `${s.decision.kind}:${s.decision.to}`)).toEqual(["failover:wan2", "failback:wan1"]);
    const [failover, failback] = r.switches;
    expect(failover!.at - cutAt).toBeGreaterThan(0);
    expect(failover!.at - cutAt).toBeLessThanOrEqual(1400);
    expect(failover!.decision.reason).toMatch(/^wan1 down for 0 s; wan2 up for /);
    // The flap was seen (wan1 down twice), and restarted the hold-down: no failback before flapEnd + 5 min.
    expect(r.downs.filter((d) => d.link === "wan1")).toHaveLength(2);
    expect(failback!.at).toBeGreaterThanOrEqual(callsEndAt);
    expect(failback!.at).toBeLessThan(callsEndAt + I);
    expect(failback!.decision.reason).toMatch(/; no call up$/);
  });

  it("calls that never end: the failback goes after maxCallWaitMs", () => {
    const cutAt = 30 * SEC;
    const backAt = 60 * SEC;
    const world: World = {
      cut: (l, t) => l === "wan1" && t >= cutAt && t < backAt,
      loss: () => 0,
      calls: () => 1,
    };
    const r = run(world, 20 * MIN);
    const failback = r.switches.find((s) => s.decision.kind === "failback")!;
    // wan1 up again at most upAfter rounds after backAt, then hold-down 5 min, then 10 min of waiting.
    expect(failback.at).toBeGreaterThanOrEqual(backAt + 15 * MIN);
    expect(failback.at).toBeLessThanOrEqual(backAt + 5 * I + T + 15 * MIN + I);
    expect(failback.decision.reason).toMatch(/gave up waiting for 1 active call to end after 10 min$/);
  });

  it("both links back within a second of each other after an outage: no switch at all (the backup, seen first, waits for the preferred one)", () => {
    const world = (wan2BackAt: number, wan1BackAt: number): World => ({
      cut: (l, t) => t >= 30 * SEC && t < (l === "wan1" ? wan1BackAt : wan2BackAt),
      loss: () => 0,
      calls: () => 0,
    });
    const settle: DeciderPolicy = { ...POLICY, recoverySettleMs: DEFAULT_HEALTH_PARAMS.upAfter * I };
    expect(run(world(90 * SEC, 91 * SEC), 10 * MIN, "wan1", 7, settle).switches).toEqual([]);
    // Without the settle the same outage costs a failover and, after the hold-down, a failback.
    expect(run(world(90 * SEC, 91 * SEC), 10 * MIN, "wan1", 7, POLICY).switches.map((s) => s.decision.kind)).toEqual(["failover", "failback"]);
    // Only the preferred link coming back late is not waited for beyond the settle.
    const late = run(world(90 * SEC, 120 * SEC), 10 * MIN, "wan1", 7, settle);
    expect(late.switches.map((s) => s.decision.kind)).toEqual(["failover", "failback"]);
    expect(late.switches[0]!.at).toBeLessThan(90 * SEC + 5 * I + T + settle.recoverySettleMs! + I);
  });

  it("pin to the backup, backup dies: stays pinned (office offline, loudly); unpin fails over", () => {
    const pinFrom = 30 * SEC;
    const unpinAt = 3 * MIN;
    const world: World = {
      cut: (l, t) => l === "wan2" && t >= 90 * SEC,
      loss: () => 0,
      calls: () => 0,
      pin: (t) => (t >= pinFrom && t < unpinAt ? { mode: "pinned", link: "wan2", since: "2025-01-01T00:00:00.000Z" } : { mode: "auto" }),
    };
    const r = run(world, 4 * MIN);
    expect(r.switches.map((s) => `${s.decision.kind}:${s.decision.to}`)).toEqual(["manual:wan2", "failover:wan1"]);
    expect(r.switches[0]!.at).toBeLessThan(pinFrom + I + T);
    expect(r.switches[1]!.at).toBeGreaterThanOrEqual(unpinAt);
    expect(r.switches[1]!.at).toBeLessThan(unpinAt + I + T);
  });
});
