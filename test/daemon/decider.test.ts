import { describe, expect, it } from "vitest";
import {
  decide,
  DEFAULT_DECIDER_POLICY,
  formatDuration,
  type DeciderInput,
  type DeciderPolicy,
  type LinkHealthView,
} from "../../src/daemon/decider.js";

const NOW = 10_000_000;
const SEC = 1000;
const MIN = 60 * SEC;
const HOLD = 5 * MIN;
const LONG_AGO = NOW - 2 * 3600 * SEC; // 2 h

const LINKS = [
  { name: "wan1", priority: 1 },
  { name: "wan2", priority: 2 },
];
const NO_CALL_WAIT: DeciderPolicy = { failbackHoldDownMs: HOLD, waitForIdleCalls: false, maxCallWaitMs: 0 };
const CALL_WAIT: DeciderPolicy = { failbackHoldDownMs: HOLD, waitForIdleCalls: true, maxCallWaitMs: 10 * MIN };

const up = (since = LONG_AGO): LinkHealthView => ({ state: "up", since });
const down = (since = NOW - 1400): LinkHealthView => ({ state: "down", since });
const degraded = (since = LONG_AGO): LinkHealthView => ({ state: "degraded", since });
const unknown = (since = NOW - 500): LinkHealthView => ({ state: "unknown", since });

function input(over: Partial<DeciderInput>): DeciderInput {
  return {
    links: LINKS,
    health: { wan1: up(), wan2: up() },
    active: "wan1",
    pin: { mode: "auto" },
    policy: NO_CALL_WAIT,
    activeCalls: 0,
    now: NOW,
    ...over,
  };
}

describe("failover", () => {
  it("active link down and the other up → switch at once, in plain words", () => {
    const d = decide(input({ health: { wan1: down(), wan2: up() } }));
    expect(d).toEqual({
      action: "switch",
      from: "wan1",
      to: "wan2",
      kind: "failover",
      reason: "wan1 down for 1.4 s; wan2 up for 2 h",
    });
  });

  it("ignores hold-down and calls: the backup just came up and calls are up, still switch", () => {
    const d = decide(
      input({ health: { wan1: down(), wan2: up(NOW - 2 * SEC) }, policy: CALL_WAIT, activeCalls: 7 }),
    );
    expect(d).toMatchObject({ action: "switch", to: "wan2", kind: "failover" });
  });

  it("picks the best up link by priority, whatever the configuration order", () => {
    const links = [
      { name: "lte", priority: 3 },
      { name: "dsl", priority: 2 },
      { name: "fibre", priority: 1 },
    ];
    const d = decide(input({ links, active: "fibre", health: { fibre: down(), dsl: up(), lte: up() } }));
    expect(d).toMatchObject({ action: "switch", from: "fibre", to: "dsl" });
  });

  it("equal priorities: configuration order decides", () => {
    const links = [
      { name: "a", priority: 1 },
      { name: "c", priority: 2 },
      { name: "b", priority: 2 },
    ];
    const d = decide(input({ links, active: "a", health: { a: down(), b: up(), c: up() } }));
    expect(d).toMatchObject({ action: "switch", to: "c" });
  });

  it("an up link beats a degraded link of better priority", () => {
    const links = [...LINKS, { name: "wan3", priority: 3 }];
    const d = decide(input({ links, health: { wan1: down(), wan2: degraded(), wan3: up() } }));
    expect(d).toMatchObject({ action: "switch", to: "wan3", kind: "failover" });
  });

  it("a degraded link is taken when nothing better is usable (a bad link beats no link)", () => {
    const d = decide(input({ health: { wan1: down(), wan2: degraded(NOW - 30 * SEC) } }));
    expect(d).toEqual({
      action: "switch",
      from: "wan1",
      to: "wan2",
      kind: "failover",
      reason: "wan1 down for 1.4 s; wan2 degraded for 30 s",
    });
  });

  it("never switches to a link whose health is unknown", () => {
    const d = decide(input({ health: { wan1: down(), wan2: unknown() } }));
    expect(d).toEqual({
      action: "stay",
      reason: "wan1 down for 1.4 s; no other link usable (wan2 health unknown): staying on wan1",
    });
    // a link with no health entry at all counts as unknown too
    expect(decide(input({ health: { wan1: down() } })).action).toBe("stay");
  });

  it("no failover when the other link is down too: all links down, stay and say so", () => {
    const d = decide(input({ health: { wan1: down(), wan2: down(NOW - 5 * MIN) } }));
    expect(d).toEqual({ action: "stay", reason: "all links down: staying on wan1" });
  });

  it("all down while on the backup: stays on the backup", () => {
    const d = decide(input({ active: "wan2", health: { wan1: down(), wan2: down() } }));
    expect(d).toEqual({ action: "stay", reason: "all links down: staying on wan2" });
  });
});

describe("restart: health unknown keeps the active link", () => {
  it("everything unknown → stay on the link the system has", () => {
    const d = decide(input({ active: "wan2", health: { wan1: unknown(), wan2: unknown() } }));
    expect(d).toEqual({ action: "stay", reason: "wan2 health not known yet: keeping wan2; wan1 health unknown" });
  });

  it("the active link still unknown while the other is already up → no switch yet", () => {
    const d = decide(input({ active: "wan2", health: { wan1: up(NOW - 10 * MIN), wan2: unknown() } }));
    expect(d.action).toBe("stay");
    expect(d.reason).toMatch(/^wan2 health not known yet: keeping wan2/);
  });

  it("no health entries at all (first call after start) → stay", () => {
    const d = decide(input({ active: "wan1", health: {} }));
    expect(d.action).toBe("stay");
  });

  it("once the active link is known down, the failover happens", () => {
    const d = decide(input({ active: "wan1", health: { wan1: down(), wan2: up(NOW - 1 * SEC) } }));
    expect(d).toMatchObject({ action: "switch", kind: "failover", to: "wan2" });
  });

  it("restarted on the backup: the primary's hold-down counts from when it was seen up after the start", () => {
    const startedAt = NOW - 2 * SEC;
    const d = decide(input({ active: "wan2", health: { wan1: up(startedAt), wan2: up(startedAt) } }));
    expect(d).toMatchObject({ action: "stay", pending: { to: "wan1", kind: "failback", waitingFor: "hold-down" } });
  });
});

describe("failback with hold-down", () => {
  it("waits while the primary has been up for less than the hold-down, and says how long", () => {
    const d = decide(input({ active: "wan2", health: { wan1: up(NOW - HOLD + 42 * SEC), wan2: up() } }));
    expect(d).toEqual({
      action: "stay",
      reason: "failback to wan1 waits for hold-down: 42 s left (wan1 up for 4 min 18 s; wan2 up for 2 h)",
      pending: { to: "wan1", kind: "failback", waitingFor: "hold-down", notAfter: NOW + 42 * SEC },
    });
  });

  it("rounds the time left up: 1 ms left reads '1 s left', never '0 s left'", () => {
    const d = decide(input({ active: "wan2", health: { wan1: up(NOW - HOLD + 1), wan2: up() } }));
    expect(d.reason).toMatch(/^failback to wan1 waits for hold-down: 1 s left/);
  });

  it("fails back exactly when the hold-down has passed", () => {
    const d = decide(input({ active: "wan2", health: { wan1: up(NOW - HOLD), wan2: up() } }));
    expect(d).toEqual({
      action: "switch",
      from: "wan2",
      to: "wan1",
      kind: "failback",
      reason: "failback to wan1: wan1 up for 5 min, hold-down of 5 min passed",
    });
  });

  it("a flap restarts the hold-down (the health since moves with it)", () => {
    // wan1 came up 6 min ago (hold-down would have passed), went down, and is up again 1 min ago.
    const before = decide(input({ active: "wan2", health: { wan1: up(NOW - 6 * MIN), wan2: up() } }));
    expect(before.action).toBe("switch");
    const afterFlap = decide(input({ active: "wan2", health: { wan1: up(NOW - 1 * MIN), wan2: up() } }));
    expect(afterFlap).toMatchObject({ action: "stay", pending: { notAfter: NOW + 4 * MIN } });
    expect(afterFlap.reason).toMatch(/4 min left/);
  });

  it("with the primary down or unknown there is nothing to fail back to", () => {
    for (const wan1 of [down(), unknown()]) {
      const d = decide(input({ active: "wan2", health: { wan1, wan2: up() } }));
      expect(d.action).toBe("stay");
      expect(d.reason).toMatch(/^on wan2 up for 2 h; wan1 /);
    }
  });

  it("on the preferred link and all is well: stay, with the picture", () => {
    const d = decide(input({ health: { wan1: up(), wan2: down(NOW - 3 * MIN) } }));
    expect(d).toEqual({ action: "stay", reason: "on wan1 up for 2 h; wan2 down for 3 min" });
  });

  it("when the best link is still in hold-down, a better-than-active one that is not is taken", () => {
    const links = [...LINKS, { name: "wan3", priority: 3 }];
    const d = decide(
      input({ links, active: "wan3", health: { wan1: up(NOW - 10 * SEC), wan2: up(), wan3: up() } }),
    );
    expect(d).toMatchObject({ action: "switch", from: "wan3", to: "wan2", kind: "failback" });
  });

  it("uses the policy's hold-down (the default is 5 min)", () => {
    expect(DEFAULT_DECIDER_POLICY.failbackHoldDownMs).toBe(5 * MIN);
    const short = { ...NO_CALL_WAIT, failbackHoldDownMs: 30 * SEC };
    const d = decide(input({ active: "wan2", policy: short, health: { wan1: up(NOW - 31 * SEC), wan2: up() } }));
    expect(d).toMatchObject({ action: "switch", kind: "failback" });
    expect(d.reason).toBe("failback to wan1: wan1 up for 31 s, hold-down of 30 s passed");
  });
});

describe("call-aware failback", () => {
  const due = NOW - HOLD; // wan1 up since then: failback due exactly now
  const on2 = (over: Partial<DeciderInput>) =>
    input({ active: "wan2", policy: CALL_WAIT, health: { wan1: up(due), wan2: up() }, ...over });

  it("waits while calls are up, and says for how long at most", () => {
    const d = decide(on2({ activeCalls: 2 }));
    expect(d).toEqual({
      action: "stay",
      reason: "failback to wan1 waits for 2 active calls to end: at most 10 min left (wan1 up for 5 min, hold-down of 5 min passed)",
      pending: { to: "wan1", kind: "failback", waitingFor: "idle-calls", notAfter: NOW + 10 * MIN },
    });
  });

  it("goes as soon as no call is up", () => {
    const d = decide(on2({ activeCalls: 0, now: NOW + 3 * MIN }));
    expect(d).toMatchObject({ action: "switch", kind: "failback", to: "wan1" });
    expect(d.reason).toBe("failback to wan1: wan1 up for 8 min, hold-down of 5 min passed; no call up");
  });

  it("keeps waiting up to the last millisecond of maxCallWaitMs, then gives up and goes", () => {
    const last = decide(on2({ activeCalls: 1, now: NOW + 10 * MIN - 1 }));
    expect(last).toMatchObject({ action: "stay", pending: { waitingFor: "idle-calls" } });
    expect(last.reason).toMatch(/waits for 1 active call to end: at most 1 s left/);
    const gaveUp = decide(on2({ activeCalls: 1, now: NOW + 10 * MIN }));
    expect(gaveUp).toEqual({
      action: "switch",
      from: "wan2",
      to: "wan1",
      kind: "failback",
      reason: "failback to wan1: wan1 up for 15 min, hold-down of 5 min passed; gave up waiting for 1 active call to end after 10 min",
    });
  });

  it("an unknown call count counts as busy", () => {
    const d = decide(on2({ activeCalls: null }));
    expect(d.action).toBe("stay");
    expect(d.reason).toMatch(/waits for the call count \(unknown\) to end/);
    expect(decide(on2({ activeCalls: null, now: NOW + 10 * MIN })).action).toBe("switch");
  });

  it("the call wait starts when the hold-down ends, not before", () => {
    // wan1 up for 4 min: still in hold-down; the call wait has not started.
    const d = decide(on2({ activeCalls: 3, health: { wan1: up(NOW - 4 * MIN), wan2: up() } }));
    expect(d).toMatchObject({ pending: { waitingFor: "hold-down", notAfter: NOW + 1 * MIN } });
  });

  it("without waitForIdleCalls, calls do not delay the failback", () => {
    const d = decide(on2({ activeCalls: 5, policy: { ...CALL_WAIT, waitForIdleCalls: false } }));
    expect(d).toMatchObject({ action: "switch", kind: "failback" });
    expect(d.reason).not.toMatch(/call/);
  });

  it("calls never delay a failover off a dead link", () => {
    const d = decide(on2({ activeCalls: 5, active: "wan1", health: { wan1: down(), wan2: up() } }));
    expect(d).toMatchObject({ action: "switch", kind: "failover" });
  });
});

describe("degraded links", () => {
  it("an up backup replaces a degraded primary (a failover, with the hold-down on the backup, no call wait)", () => {
    const d = decide(
      input({ policy: CALL_WAIT, activeCalls: 3, health: { wan1: degraded(NOW - 20 * SEC), wan2: up() } }),
    );
    expect(d).toEqual({
      action: "switch",
      from: "wan1",
      to: "wan2",
      kind: "failover",
      reason: "wan1 degraded for 20 s; moving to wan2: wan2 up for 2 h, hold-down of 5 min passed",
    });
  });

  it("…but not onto a backup that came up less than the hold-down ago", () => {
    const d = decide(input({ health: { wan1: degraded(), wan2: up(NOW - 1 * MIN) } }));
    expect(d).toMatchObject({ action: "stay", pending: { to: "wan2", kind: "failover", waitingFor: "hold-down" } });
    expect(d.reason).toMatch(/^move to wan2 waits for hold-down: 4 min left/);
  });

  it("no failback to a degraded primary while the backup is up", () => {
    const d = decide(input({ active: "wan2", health: { wan1: degraded(), wan2: up() } }));
    expect(d).toEqual({ action: "stay", reason: "on wan2 up for 2 h; wan1 degraded for 2 h" });
  });

  it("both degraded: priority decides, failback after the hold-down", () => {
    const d = decide(input({ active: "wan2", health: { wan1: degraded(), wan2: degraded() } }));
    expect(d).toMatchObject({ action: "switch", to: "wan1", kind: "failback" });
    const stay = decide(input({ active: "wan1", health: { wan1: degraded(), wan2: degraded() } }));
    expect(stay).toEqual({
      action: "stay",
      reason: "on wan1 degraded for 2 h (no better link usable); wan2 degraded for 2 h",
    });
  });

  it("a degraded backup with the primary back up: failback after the hold-down", () => {
    const d = decide(input({ active: "wan2", health: { wan1: up(NOW - HOLD), wan2: degraded() } }));
    expect(d).toMatchObject({ action: "switch", to: "wan1", kind: "failback" });
  });

  it("degraded → up restarts the hold-down of that link (its since moves)", () => {
    // wan1 was degraded for an hour and has just become up: from wan2 (degraded), failback to a
    // degraded wan1 would be due, but wan1 is now in a new class since 1 min.
    const d = decide(input({ active: "wan2", health: { wan1: up(NOW - 1 * MIN), wan2: degraded() } }));
    expect(d).toMatchObject({ action: "stay", pending: { to: "wan1", waitingFor: "hold-down" } });
  });
});

describe("manual pin", () => {
  const pin2 = { mode: "pinned", link: "wan2", since: "2025-01-01T00:00:00.000Z" } as const;

  it("pin to a healthy link: switch at once (no hold-down, no call wait)", () => {
    const d = decide(
      input({ pin: pin2, policy: CALL_WAIT, activeCalls: 4, health: { wan1: up(), wan2: up(NOW - 3 * SEC) } }),
    );
    expect(d).toEqual({
      action: "switch",
      from: "wan1",
      to: "wan2",
      kind: "manual",
      reason: "pinned to wan2 by operator (wan2 up for 3 s)",
    });
  });

  it("pinned and on it: stay, even with a better link up for hours", () => {
    const d = decide(input({ pin: pin2, active: "wan2" }));
    expect(d).toEqual({ action: "stay", reason: "pinned to wan2 by operator (wan2 up for 2 h)" });
  });

  it("pinned link goes down: stay pinned, loudly", () => {
    const d = decide(input({ pin: pin2, active: "wan2", health: { wan1: up(), wan2: down() } }));
    expect(d).toEqual({
      action: "stay",
      reason:
        "pinned link wan2 is down: staying pinned; unpin to let wanctl fail over (wan2 down for 1.4 s); wan1 up for 2 h",
      warning: "pinned link wan2 is down: staying pinned; unpin to let wanctl fail over",
    });
  });

  it("pin to a link that is down: pin kept, office stays where it is, warning, pending until it is up", () => {
    const d = decide(input({ pin: pin2, active: "wan1", health: { wan1: up(), wan2: down() } }));
    expect(d).toEqual({
      action: "stay",
      reason: "pinned to wan2 by operator, but wan2 down for 1.4 s; meanwhile: on wan1 up for 2 h; wan2 down for 1.4 s",
      warning: "pinned link wan2 is down: pin kept, automatic rules until it is up",
      pending: { to: "wan2", kind: "manual", waitingFor: "pinned-link", notAfter: null },
    });
    // … and it goes as soon as wan2 is up, however recently
    const later = decide(input({ pin: pin2, active: "wan1", health: { wan1: up(), wan2: up(NOW - 350) } }));
    expect(later).toMatchObject({ action: "switch", to: "wan2", kind: "manual" });
  });

  it("pin to a link whose health is unknown: never switch onto it", () => {
    const d = decide(input({ pin: pin2, active: "wan1", health: { wan1: up(), wan2: unknown() } }));
    expect(d).toMatchObject({ action: "stay", pending: { to: "wan2", waitingFor: "pinned-link" } });
    expect(d.warning).toBe("pinned link wan2 health unknown: pin kept, automatic rules until it is known");
  });

  it("while the pin waits, a dead active link is still left for a working one", () => {
    // active wan1 down, wan2 pinned but down, wan3 up: fail over to wan3, and say the pin waits.
    const links = [...LINKS, { name: "wan3", priority: 3 }];
    const d = decide(input({ links, pin: pin2, active: "wan1", health: { wan1: down(), wan2: down(), wan3: up() } }));
    expect(d).toEqual({
      action: "switch",
      from: "wan1",
      to: "wan3",
      kind: "failover",
      reason: "pinned to wan2 by operator, but wan2 down for 1.4 s; meanwhile: wan1 down for 1.4 s; wan3 up for 2 h",
      warning: "pinned link wan2 is down: pin kept, automatic rules until it is up",
    });
    // All down: the automatic rules stay, the pin stays pending.
    const allDown = decide(input({ pin: pin2, health: { wan1: down(), wan2: down() } }));
    expect(allDown).toMatchObject({
      action: "stay",
      reason: "pinned to wan2 by operator, but wan2 down for 1.4 s; meanwhile: all links down: staying on wan1",
      pending: { to: "wan2", waitingFor: "pinned-link" },
    });
  });

  it("on the pinned link with its health unknown (restart): keep it", () => {
    const d = decide(input({ pin: pin2, active: "wan2", health: { wan1: up(), wan2: unknown() } }));
    expect(d).toEqual({ action: "stay", reason: "pinned to wan2 by operator (wan2 health unknown); keeping wan2" });
  });

  it("pin to a degraded link: switch, with a warning", () => {
    const d = decide(input({ pin: pin2, health: { wan1: up(), wan2: degraded() } }));
    expect(d).toMatchObject({ action: "switch", to: "wan2", kind: "manual", warning: "pinned link wan2 is degraded" });
    const stay = decide(input({ pin: pin2, active: "wan2", health: { wan1: up(), wan2: degraded() } }));
    expect(stay).toMatchObject({ action: "stay", warning: "pinned link wan2 is degraded" });
  });

  it("pinned with no active link: switch onto the pinned link", () => {
    const d = decide(input({ pin: pin2, active: null }));
    expect(d).toMatchObject({ action: "switch", from: null, to: "wan2", kind: "manual" });
  });

  it("unpin: the automatic rules apply at once", () => {
    // On the pinned wan2 that went down, wan1 up: unpinning fails over immediately.
    const d = decide(input({ pin: { mode: "auto" }, active: "wan2", health: { wan1: up(NOW - 5 * SEC), wan2: down() } }));
    expect(d).toMatchObject({ action: "switch", to: "wan1", kind: "failover" });
    // On the pinned wan2, both up: unpinning fails back to wan1 if it has been up for the hold-down.
    expect(decide(input({ active: "wan2" }))).toMatchObject({ action: "switch", to: "wan1", kind: "failback" });
  });

  it("a pin to a link that is not configured is ignored, loudly, and the rules apply", () => {
    const d = decide(input({ pin: { mode: "pinned", link: "wan9", since: "2025-01-01T00:00:00.000Z" }, health: { wan1: down(), wan2: up() } }));
    expect(d).toMatchObject({
      action: "switch",
      to: "wan2",
      kind: "failover",
      warning: "pin to wan9 ignored: not a configured link",
    });
  });
});

describe("no active link", () => {
  it("no default route at start: take the best usable link", () => {
    const d = decide(input({ active: null, health: { wan1: down(), wan2: up(NOW - 1 * SEC) } }));
    expect(d).toEqual({
      action: "switch",
      from: null,
      to: "wan2",
      kind: "failover",
      reason: "no active link; wan2 up for 1 s",
    });
  });

  it("… but never onto an unknown link: wait", () => {
    const d = decide(input({ active: null, health: { wan1: unknown(), wan2: down() } }));
    expect(d).toEqual({
      action: "stay",
      reason: "no active link; no usable link yet: wan1 health unknown; wan2 down for 1.4 s",
    });
  });

  it("an active link that is not configured is treated the same", () => {
    const d = decide(input({ active: "ppp0" }));
    expect(d).toMatchObject({ action: "switch", from: "ppp0", to: "wan1", kind: "failover" });
    expect(d.reason).toBe("active link ppp0 is not a configured link; wan1 up for 2 h");
  });
});

describe("input checks", () => {
  it("rejects an empty or duplicated link list", () => {
    expect(() => decide(input({ links: [] }))).toThrow(/no links/);
    expect(() => decide(input({ links: [...LINKS, { name: "wan1", priority: 9 }] }))).toThrow(/wan1 is configured twice/);
  });

  it("is pure: the same input gives the same output and is not modified", () => {
    const i = input({ active: "wan2", health: { wan1: up(NOW - HOLD + 5 * SEC), wan2: up() } });
    const copy = JSON.stringify(i);
    expect(decide(i)).toEqual(decide(i));
    expect(JSON.stringify(i)).toBe(copy);
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0 s"],
    [400, "0.4 s"],
    [1400, "1.4 s"],
    [9_949, "9.9 s"],
    [10_000, "10 s"],
    [42_900, "42 s"],
    [60_000, "1 min"],
    [258_000, "4 min 18 s"],
    [3_600_000, "1 h"],
    [7_500_000, "2 h 5 min"],
    [86_400_000, "1 d"],
    [97_200_000, "1 d 3 h"],
    [-5, "0 s"],
  ])("%d ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("rule 9: recovery settles", () => {
  const SETTLE: DeciderPolicy = { ...NO_CALL_WAIT, recoverySettleMs: 1_750 };
  const recovering = (passStreak: number): LinkHealthView => ({ state: "down", since: NOW - 60 * SEC, passStreak });

  it.each([
    ["the backup is back and the preferred active link is recovering too: wait for it", { wan1: recovering(3), wan2: up(NOW - 500) }, "stay"],
    ["the wait is bounded: after the settle the backup is taken", { wan1: recovering(3), wan2: up(NOW - 1_750) }, "switch"],
    ["nothing to wait for: the preferred link shows no sign of life", { wan1: recovering(0), wan2: up(NOW - 500) }, "switch"],
    ["a backup that has been up for long is taken at once (an ordinary failover)", { wan1: recovering(3), wan2: up() }, "switch"],
  ] as const)("%s", (_what, health, action) => {
    const d = decide(input({ health, policy: SETTLE }));
    expect(d.action).toBe(action);
    if (action === "stay") {
      expect(d).toMatchObject({ reason: "wan1 down for 1 min; wan2 is back, but wan1 (preferred) is coming back too: waiting 2 s for it", pending: { to: "wan2", waitingFor: "recovery" } });
    }
  });

  it("only a better-ranked link is waited for: a recovering lesser one is not", () => {
    const links = [...LINKS, { name: "wan3", priority: 3 }];
    const d = decide(input({ links, active: "wan1", health: { wan1: down(), wan2: up(NOW - 500), wan3: recovering(4) }, policy: SETTLE }));
    expect(d).toMatchObject({ action: "switch", to: "wan2" });
  });

  it("no active link at start: the first one up waits for a better one that is coming up", () => {
    const d = decide(input({ active: null, health: { wan1: { state: "unknown", since: NOW - 2_000, passStreak: 2 }, wan2: up(NOW - 200) }, policy: SETTLE }));
    expect(d).toMatchObject({ action: "stay", pending: { to: "wan2", waitingFor: "recovery" } });
  });

  it("without a settle time (the default policy of older callers) nothing waits", () => {
    expect(decide(input({ health: { wan1: recovering(3), wan2: up(NOW - 500) } }))).toMatchObject({ action: "switch", to: "wan2" });
  });
});
