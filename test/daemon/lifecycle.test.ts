// The switch lifecycle, event by event: state and effects, no timers, no I/O.
import { describe, expect, it } from "vitest";
import {
  initialState,
  step,
  takesDecisions,
  type Effect,
  type Instant,
  type LifecycleEvent,
  type LifecyclePolicy,
  type LifecycleState,
  type SwitchRecord,
} from "../../src/daemon/lifecycle.js";
import type { StepResult } from "../../src/daemon/report.js";

const POLICY: LifecyclePolicy = { primary: "wan1", repair: { firstMs: 5_000, maxMs: 300_000 }, checkEveryMs: 300_000, routeRetryMs: 5_000, drillNotify: true };
const T0 = 1_000_000;

const ok = (name: string, detail = `${name} done`, changed = true): StepResult => ({ step: name, ok: true, durationMs: 10, detail, changed });
const fail = (name: string, detail = `${name} failed`): StepResult => ({ step: name, ok: false, durationMs: 10, detail });
const skipped = (name: string, why: string): StepResult => ({ step: name, ok: false, durationMs: 0, detail: `skipped: ${why} failed`, skipped: true });
const ROUTE_OK = ok("route", "default route via wan2");
const ALL_OK = [ok("conntrack"), ok("public-ip"), ok("dns"), ok("asterisk"), ok("trunks")];
const NOTHING_TO_DO = ALL_OK.map((r) => ({ ...r, changed: false }));

/** Feeds events one by one, at a clock that the test moves. */
class Machine {
  state: LifecycleState;
  effects: Effect[] = [];
  /** Every effect since the start. */
  log: Effect[] = [];
  mono = T0;
  private readonly policy: LifecyclePolicy;
  constructor(policy: Partial<LifecyclePolicy> = {}) {
    this.policy = { ...POLICY, ...policy };
    this.state = initialState(["wan1", "wan2"]);
  }
  get now(): Instant {
    return { mono: this.mono, wall: 1_800_000_000_000 + this.mono };
  }
  send(event: LifecycleEvent): Effect[] {
    const out = step(this.state, event, this.now, this.policy);
    this.state = out.state;
    this.effects = [...out.effects];
    this.log.push(...out.effects);
    return this.effects;
  }
  advance(ms: number): this {
    this.mono += ms;
    return this;
  }
  types(): string[] {
    return this.effects.map((e) => e.type);
  }
  only<T extends Effect["type"]>(type: T): Extract<Effect, { type: T }>[] {
    return this.effects.filter((e): e is Extract<Effect, { type: T }> => e.type === type);
  }
  the<T extends Effect["type"]>(type: T): Extract<Effect, { type: T }> {
    const found = this.only(type);
    if (found.length !== 1) throw new Error(`expected one ${type} effect, got ${found.length}: ${JSON.stringify(this.effects)}`);
    return found[0]!;
  }
  /** start on wan1 with both links up, and the start run done with nothing to mend. */
  started(active: string | null = "wan1", journal: SwitchRecord[] = []): this {
    this.send({ type: "start", active, journal });
    this.send({ type: "health", link: "wan1", state: "up" });
    this.send({ type: "health", link: "wan2", state: "up" });
    if (this.state.run) this.send({ type: "runDone", runId: this.state.run.id, results: NOTHING_TO_DO });
    return this;
  }
  /** A decision to `to`, its route done, and (unless `steps` is null) its run done with `steps`. */
  switchTo(to: string, steps: StepResult[] | null = ALL_OK, kind: "failover" | "failback" = "failover"): SwitchRecord {
    this.send({ type: "decision", to, from: this.state.active, kind, reason: `${to} is better` });
    const { switchId } = this.the("activateRoute");
    this.send({ type: "routeDone", switchId, result: { ...ROUTE_OK, detail: `default route via ${to}` }, active: to });
    if (steps) this.send({ type: "runDone", runId: this.the("converge").run.id, results: steps });
    return this.state.journal.find((r) => r.id === switchId)!;
  }
}

describe("start: converge on what the kernel says", () => {
  it("checks the active link once, without flushing or forcing the trunks", () => {
    const m = new Machine();
    m.send({ type: "start", active: "wan1", journal: [] });
    expect(m.types()).toEqual(["converge", "persist", "writeStatus"]);
    expect(m.the("converge").run).toMatchObject({ link: "wan1", primary: true, afterSwitch: false, cause: "start", switchId: null });
  });

  it("no default route on a configured link: nothing to converge on; the decider will pick one", () => {
    const m = new Machine();
    m.send({ type: "start", active: null, journal: [] });
    expect(m.only("converge")).toEqual([]);
    expect(takesDecisions(m.state)).toBe(true);
  });

  it("killed mid-switch, still on its link: the first run finishes it, forcing the trunks, and alerts it once as resumed", () => {
    const killed: SwitchRecord = { id: "switch-1-1", kind: "failover", from: "wan1", to: "wan2", reason: "wan1 down", startedAt: "2026-12-01T03:00:00.000Z", startedMs: T0 - 5000, status: "following", steps: [ROUTE_OK], alerted: false, repairs: 0 };
    const m = new Machine();
    m.send({ type: "start", active: "wan2", journal: [killed] });
    expect(m.the("converge").run).toMatchObject({ link: "wan2", primary: false, afterSwitch: true, cause: "start", switchId: "switch-1-1" });
    expect(m.only("alert")).toEqual([]);
    m.send({ type: "runDone", runId: m.state.run!.id, results: ALL_OK });
    const alert = m.the("alert").alert;
    expect(alert).toMatchObject({ kind: "switch", id: "switch-1-1", resumed: true, report: { ok: true, to: "wan2" } });
    expect(alert.kind === "switch" && alert.report.steps.map((s) => s.step)).toEqual(["route", "conntrack", "public-ip", "dns", "asterisk", "trunks"]);
    // The alert goes to the outbox before the journal says so: a crash in between re-sends the same id.
    expect(m.types().indexOf("alert")).toBeLessThan(m.types().indexOf("persist"));
    expect(m.state.journal[0]).toMatchObject({ status: "done", alerted: true });
  });

  it("an unfinished switch to a link the office is not on was interrupted: told once, and the active link is converged", () => {
    const killed: SwitchRecord = { id: "switch-1-1", kind: "failover", from: "wan1", to: "wan2", reason: "wan1 down", startedAt: "2026-12-01T03:00:00.000Z", startedMs: 0, status: "following", steps: [ROUTE_OK], alerted: false, repairs: 0 };
    const m = new Machine();
    m.send({ type: "start", active: "wan1", journal: [killed] });
    expect(m.the("alert").alert).toMatchObject({ kind: "interrupted", id: "switch-1-1", active: "wan1" });
    expect(m.the("converge").run).toMatchObject({ link: "wan1", primary: true, afterSwitch: false, switchId: null });
    expect(m.state.journal[0]!.status).toBe("interrupted");
  });

  it("a finished switch whose alert the crash caught before it was queued is alerted now", () => {
    const done: SwitchRecord = { id: "switch-9", kind: "failback", from: "wan2", to: "wan1", reason: "wan1 back", startedAt: "2026-12-01T03:00:00.000Z", startedMs: 0, status: "done", steps: [ROUTE_OK, ...ALL_OK], alerted: false, repairs: 0, durationMs: 900 };
    const m = new Machine();
    m.send({ type: "start", active: "wan1", journal: [done] });
    expect(m.the("alert").alert).toMatchObject({ kind: "switch", id: "switch-9", report: { kind: "failback", durationMs: 900 } });
  });
});

describe("a switch", () => {
  it("is written to the journal before the route moves, and decisions wait for the route only", () => {
    const m = new Machine().started();
    m.send({ type: "decision", to: "wan2", from: "wan1", kind: "failover", reason: "wan1 down" });
    expect(m.types()).toEqual(["persist", "activateRoute", "writeStatus"]);
    expect(m.state.journal.at(-1)).toMatchObject({ status: "routing", to: "wan2", alerted: false });
    expect(takesDecisions(m.state)).toBe(false);
    m.send({ type: "decision", to: "wan2", from: "wan1", kind: "failover", reason: "again" });
    expect(m.effects).toEqual([]);
    m.send({ type: "routeDone", switchId: m.state.routing!, result: ROUTE_OK, active: "wan2" });
    expect(m.the("converge").run).toMatchObject({ link: "wan2", primary: false, afterSwitch: true, cause: "switch" });
    expect(m.state.active).toBe("wan2");
    expect(takesDecisions(m.state)).toBe(true);
  });

  it("all steps done: one alert with the whole timeline, then a check after checkEveryMs", () => {
    const m = new Machine().started();
    const record = m.switchTo("wan2");
    expect(record).toMatchObject({ status: "done", alerted: true });
    expect(m.the("alert").alert).toMatchObject({ kind: "switch", id: record.id, report: { ok: true, kind: "failover", from: "wan1", to: "wan2" } });
    expect(m.state.dueAt).toBe(m.mono + POLICY.checkEveryMs);
    m.advance(POLICY.checkEveryMs - 1).send({ type: "tick" });
    expect(m.effects).toEqual([]);
    m.advance(1).send({ type: "tick" });
    expect(m.the("converge").run).toMatchObject({ link: "wan2", cause: "check", afterSwitch: false, switchId: null });
    m.send({ type: "runDone", runId: m.state.run!.id, results: NOTHING_TO_DO });
    expect(m.only("alert")).toEqual([]);
  });

  it("a failed route: alerted, the office stays where the kernel says, and the same target waits routeRetryMs", () => {
    const m = new Machine().started();
    m.send({ type: "decision", to: "wan2", from: "wan1", kind: "failover", reason: "wan1 down" });
    m.send({ type: "routeDone", switchId: m.state.routing!, result: fail("route", "RTNETLINK answers: Network is unreachable"), active: "wan1" });
    expect(m.the("alert").alert).toMatchObject({ kind: "switch", report: { ok: false } });
    expect(m.state.active).toBe("wan1");
    expect(m.state.journal.at(-1)!.status).toBe("failed");
    expect(m.only("converge")).toEqual([]);
    m.advance(POLICY.routeRetryMs - 1).send({ type: "decision", to: "wan2", from: "wan1", kind: "failover", reason: "wan1 down" });
    expect(m.effects).toEqual([]);
    m.advance(1).send({ type: "decision", to: "wan2", from: "wan1", kind: "failover", reason: "wan1 down" });
    expect(m.only("activateRoute")).toHaveLength(1);
  });

  it("a failed route that still moved it: the kernel's answer wins", () => {
    const m = new Machine().started();
    m.send({ type: "decision", to: "wan2", from: "wan1", kind: "failover", reason: "wan1 down" });
    m.send({ type: "routeDone", switchId: m.state.routing!, result: fail("route", "did not finish within 15000 ms"), active: "wan2" });
    expect(m.state.active).toBe("wan2");
  });
});

describe("failed steps: repaired with backoff, alerted once and once fixed", () => {
  it("the switch's alert tells the failure; retries are silent; the repair is told once", () => {
    const m = new Machine().started();
    const record = m.switchTo("wan2", [ok("conntrack"), ok("public-ip"), fail("dns", "provider down"), fail("asterisk", "AMI unreachable"), skipped("trunks", "asterisk")]);
    expect(record.status).toBe("repairing");
    expect(m.only("alert")).toHaveLength(1);
    expect(m.state.trouble).toMatchObject({ link: "wan2", steps: ["dns", "asterisk", "trunks"] });
    expect(m.state.dueAt).toBe(m.mono + 5_000);

    m.advance(4_999).send({ type: "tick" });
    expect(m.effects).toEqual([]);
    m.advance(1).send({ type: "tick" });
    expect(m.the("converge").run).toMatchObject({ link: "wan2", cause: "repair", switchId: record.id, afterSwitch: false });
    m.send({ type: "runDone", runId: m.state.run!.id, results: [ok("public-ip"), fail("dns", "provider down"), ok("asterisk"), ok("trunks")] });
    expect(m.only("alert")).toEqual([]);
    expect(m.state.dueAt).toBe(m.mono + 10_000);
    expect(m.state.trouble!.steps).toEqual(["dns", "asterisk", "trunks"]);

    m.advance(10_000).send({ type: "tick" });
    m.send({ type: "runDone", runId: m.state.run!.id, results: [ok("public-ip", "", false), ok("dns", "office.example.com → 203.0.113.10"), ok("asterisk", "", false), ok("trunks", "", false)] });
    expect(m.the("alert").alert).toMatchObject({ kind: "repaired", link: "wan2", what: ["dns: office.example.com → 203.0.113.10"], since: expect.any(String) });
    expect(m.state.trouble).toBeNull();
    expect(m.state.journal.find((r) => r.id === record.id)).toMatchObject({ status: "done", repairs: 2 });
    expect(m.state.dueAt).toBe(m.mono + POLICY.checkEveryMs);
  });

  it("the backoff doubles up to its maximum", () => {
    const m = new Machine({ repair: { firstMs: 1_000, maxMs: 3_000 } }).started();
    m.switchTo("wan2", [fail("dns")]);
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      delays.push(m.state.dueAt! - m.mono);
      m.advance(m.state.dueAt! - m.mono).send({ type: "tick" });
      m.send({ type: "runDone", runId: m.state.run!.id, results: [fail("dns")] });
    }
    expect(delays).toEqual([1_000, 2_000, 3_000, 3_000]);
  });

  it("a check that finds drift mends it, says what, and keeps it for the status", () => {
    const m = new Machine().started();
    m.advance(POLICY.checkEveryMs).send({ type: "tick" });
    m.send({ type: "runDone", runId: m.state.run!.id, results: [ok("public-ip", "", false), ok("asterisk", "transport-udp back on 198.51.100.10 (it was 203.0.113.10)"), ok("trunks", "itsp expiry 120 s → 3600 s, Registered")] });
    expect(m.the("alert").alert).toMatchObject({ kind: "repaired", since: null, what: ["asterisk: transport-udp back on 198.51.100.10 (it was 203.0.113.10)", "trunks: itsp expiry 120 s → 3600 s, Registered"] });
    expect(m.state.mends.at(-1)).toMatchObject({ link: "wan1", cause: "check" });
  });

  it("a check whose step fails is told once, as a failed step, and once when it works again", () => {
    const m = new Machine().started();
    for (let i = 0; i < 3; i++) {
      m.advance(m.state.dueAt! - m.mono).send({ type: "tick" });
      m.send({ type: "runDone", runId: m.state.run!.id, results: [ok("public-ip", "", false), fail("asterisk", "AMI 192.168.50.10:5038: connection refused")] });
    }
    expect(m.state.trouble).toMatchObject({ link: "wan1", steps: ["asterisk"] });
    const alerts = () => m.log.flatMap((e) => (e.type === "alert" ? [e.alert.kind] : []));
    expect(alerts()).toEqual(["step-failed"]);
    m.advance(m.state.dueAt! - m.mono).send({ type: "tick" });
    m.send({ type: "runDone", runId: m.state.run!.id, results: NOTHING_TO_DO });
    expect(alerts()).toEqual(["step-failed", "repaired"]);
  });
});

describe("a newer switch", () => {
  it("cancels the run for the link left; its run starts when the old one has ended; the old switch is superseded and told", () => {
    const m = new Machine().started();
    const first = m.switchTo("wan2", null);
    const firstRun = m.state.run!;
    m.send({ type: "decision", to: "wan1", from: "wan2", kind: "failover", reason: "wan2 down" });
    expect(m.the("cancelRun")).toMatchObject({ runId: firstRun.id, reason: "superseded by the switch to wan1" });
    m.send({ type: "routeDone", switchId: m.state.routing!, result: ROUTE_OK, active: "wan1" });
    expect(m.only("converge")).toEqual([]); // waits for the old run
    m.send({ type: "runDone", runId: firstRun.id, results: [ok("conntrack"), ok("public-ip"), skipped("dns", "superseded by the switch to wan1")] });
    expect(m.state.journal.find((r) => r.id === first.id)).toMatchObject({ status: "superseded", alerted: true });
    expect(m.the("alert").alert).toMatchObject({ kind: "switch", id: first.id, report: { ok: false } });
    expect(m.the("converge").run).toMatchObject({ link: "wan1", afterSwitch: true, cause: "switch" });
  });

  it("a route that fails after cancelling the run on the link the office stays on: that link is run again", () => {
    const m = new Machine().started();
    m.switchTo("wan2", null);
    const run = m.state.run!;
    m.send({ type: "decision", to: "wan1", from: "wan2", kind: "failback", reason: "wan1 back" });
    m.send({ type: "routeDone", switchId: m.state.routing!, result: fail("route"), active: "wan2" });
    m.send({ type: "runDone", runId: run.id, results: [skipped("dns", "superseded")] });
    expect(m.the("converge").run).toMatchObject({ link: "wan2", cause: "repair" });
  });
});

describe("the drill", () => {
  const drill = (m: Machine, pinned = false) => m.send({ type: "drill", requestId: "r1", pinned });

  it("to the other link and back, each leg a switch with its run, decisions held, one report and one alert", () => {
    const m = new Machine().started();
    drill(m);
    expect(m.the("activateRoute").to).toBe("wan2");
    expect(takesDecisions(m.state)).toBe(false);
    m.send({ type: "routeDone", switchId: m.state.routing!, result: ROUTE_OK, active: "wan2" });
    m.send({ type: "decision", to: "wan1", from: "wan2", kind: "failback", reason: "wan1 is better" });
    expect(m.only("activateRoute")).toEqual([]);
    m.send({ type: "runDone", runId: m.state.run!.id, results: ALL_OK });
    expect(m.the("activateRoute").to).toBe("wan1");
    m.send({ type: "routeDone", switchId: m.state.routing!, result: { ...ROUTE_OK, detail: "default route via wan1" }, active: "wan1" });
    m.send({ type: "runDone", runId: m.state.run!.id, results: ALL_OK });
    const done = m.the("drillDone");
    expect(done.report).toMatchObject({ ok: true, from: "wan1", to: "wan2", out: { to: "wan2", ok: true }, back: { to: "wan1", ok: true }, notes: [] });
    expect(m.only("alert").map((a) => a.alert.kind)).toEqual(["drill"]);
    expect(takesDecisions(m.state)).toBe(true);
  });

  it("the link it came from went down meanwhile: the office stays, and the report says so", () => {
    const m = new Machine().started();
    drill(m);
    m.send({ type: "routeDone", switchId: m.state.routing!, result: ROUTE_OK, active: "wan2" });
    m.send({ type: "health", link: "wan1", state: "down" });
    m.send({ type: "runDone", runId: m.state.run!.id, results: ALL_OK });
    expect(m.only("activateRoute")).toEqual([]);
    expect(m.the("drillDone").report).toMatchObject({ ok: false, notes: ["wan1 went down during the drill: the office stays on wan2"] });
  });

  it.each([
    ["pinned", (m: Machine) => drill(m, true), "the office is pinned to a link (`wanctl auto` first)"],
    ["the other link down", (m: Machine) => (m.send({ type: "health", link: "wan2", state: "down" }), drill(m)), "no other link is up to drill on"],
    ["the active link down", (m: Machine) => (m.send({ type: "health", link: "wan1", state: "down" }), drill(m)), "the active link wan1 is not up"],
    ["a switch's run in flight", (m: Machine) => (m.switchTo("wan2", null), drill(m)), "a switch is running"],
    ["a repair pending", (m: Machine) => (m.switchTo("wan2", [fail("dns")]), drill(m)), expect.stringMatching(/^dns failing on wan2 since .*, retried with backoff: a drill would prove nothing until that works$/)],
  ])("refused when %s", (_name, act, why) => {
    const m = new Machine().started();
    act(m);
    expect(m.the("drillDone").report).toMatchObject({ ok: false, refused: why });
  });

  it("asked during a check run, it starts when the check has ended", () => {
    const m = new Machine().started();
    m.advance(POLICY.checkEveryMs).send({ type: "tick" });
    drill(m);
    expect(m.effects).toEqual([]);
    m.send({ type: "runDone", runId: m.state.run!.id, results: NOTHING_TO_DO });
    expect(m.the("activateRoute").to).toBe("wan2");
    expect(m.state.drill).not.toBeNull();
  });
});

describe("stop", () => {
  it("cancels the run in flight and starts nothing afterwards", () => {
    const m = new Machine().started();
    m.switchTo("wan2", null);
    const run = m.state.run!;
    m.send({ type: "stop" });
    expect(m.the("cancelRun")).toMatchObject({ runId: run.id, reason: "wanctl is stopping" });
    m.send({ type: "decision", to: "wan1", from: "wan2", kind: "failback", reason: "x" });
    expect(m.effects).toEqual([]);
    m.advance(10 * POLICY.checkEveryMs).send({ type: "tick" });
    expect(m.effects).toEqual([]);
  });
});

describe("the journal", () => {
  it("keeps unfinished switches and the last finished few, not one slot", () => {
    const m = new Machine().started();
    for (let i = 0; i < 6; i++) m.switchTo(i % 2 === 0 ? "wan2" : "wan1");
    m.switchTo("wan2", [fail("dns")]);
    m.send({ type: "decision", to: "wan1", from: "wan2", kind: "failback", reason: "wan1 back" });
    const statuses = m.state.journal.map((r) => r.status);
    expect(statuses.filter((s) => s === "done")).toHaveLength(3);
    expect(statuses.slice(-2)).toEqual(["repairing", "routing"]);
  });
});

describe("the drill where wanctl follows a router that moves the links itself", () => {
  it("is one leg on the active link: every step carried out (flush and trunks included), nothing moved", () => {
    const m = new Machine().started();
    m.send({ type: "drill", requestId: "r1", pinned: false, inPlace: true });
    expect(m.the("activateRoute").to).toBe("wan1");
    m.send({ type: "routeDone", switchId: m.state.routing!, result: { ...ROUTE_OK, detail: "on wan1, as the router has it" }, active: "wan1" });
    expect(m.the("converge").run).toMatchObject({ link: "wan1", afterSwitch: true, cause: "switch" });
    m.send({ type: "runDone", runId: m.state.run!.id, results: ALL_OK });
    expect(m.the("drillDone").report).toMatchObject({ ok: true, from: "wan1", to: "wan1", out: { ok: true }, notes: [] });
    expect(m.the("drillDone").report.back).toBeUndefined();
  });

  it("needs no other link up", () => {
    const m = new Machine().started();
    m.send({ type: "health", link: "wan2", state: "down" });
    m.send({ type: "drill", requestId: "r1", pinned: false, inPlace: true });
    expect(m.only("activateRoute")).toHaveLength(1);
  });
});
