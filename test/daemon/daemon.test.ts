// The daemon with fake adapters: probes whose answers the test sets, a route backend that records
// what it was asked. Real timers at a short interval; every wait is bounded.
import { afterEach, describe, expect, test, vi } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { Daemon, probeInterval, type DaemonDeps } from "../../src/daemon/daemon.js";
import { readStatus } from "../../src/daemon/status-file.js";
import { renderStatus } from "../../src/cli/commands/status.js";
import type { Alert } from "../../src/notify/index.js";
import type { LinkBinding, Probe } from "../../src/wan/probes/types.js";
import type { RouteBackend } from "../../src/wan/route/backend.js";
import type { CarrierWatchEvents } from "../../src/wan/carrier.js";
import { minimalConfig } from "../config/fixtures.js";
import { tempDir } from "../temp-dirs.js";
import { answeringProbes, FakeRoute, quietLogger } from "./fakes.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const answering = new Map<string, boolean>([
  ["wan1", true],
  ["wan2", true],
]);

const fakeProbe = (link: LinkBinding): Probe => answeringProbes(answering)(link)[0]!;
const quiet = quietLogger();

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("probeInterval", () => {
  const monitor = { intervalMs: 250, standbyIntervalMs: 1000 };
  const up = { state: "up", failStreak: 0 } as const;
  test.each([
    ["the active link", "wan1", "wan1", up, 250],
    ["a standby while the active is up and its last round passed", "wan2", "wan1", up, 1000],
    ["a standby once the active failed a round", "wan2", "wan1", { state: "up", failStreak: 1 } as const, 250],
    ["a standby while the active is degraded", "wan2", "wan1", { state: "degraded", failStreak: 0 } as const, 250],
    ["a standby while the active is down", "wan2", "wan1", { state: "down", failStreak: 3 } as const, 250],
    ["a standby while the active is unknown", "wan2", "wan1", { state: "unknown", failStreak: 0 } as const, 250],
    ["every link when none is active", "wan2", null, undefined, 250],
  ])("%s", (_what, link, active, health, expected) => {
    expect(probeInterval(link, active, health, monitor)).toBe(expected);
  });

  test("a standby is never probed faster than the active link", () => {
    expect(probeInterval("wan2", "wan1", up, { intervalMs: 2000, standbyIntervalMs: 1000 })).toBe(2000);
  });
});

describe("daemon", () => {
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop();
    answering.set("wan1", true).set("wan2", true);
  });

  function start(route: RouteBackend, alerts: Alert[] = [], steps?: DaemonDeps["steps"], extra: Partial<DaemonDeps> & { config?: object } = {}) {
    const stateDir = tempDir();
    const { config: more, ...deps } = extra;
    const config = parseConfigText(JSON.stringify({ ...minimalConfig(), stateDir, monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }], intervalMs: 5, timeoutMs: 5, downAfter: 2, upAfter: 2 }, ...more }), "c.json");
    daemon = new Daemon(config, {
      route,
      logger: quiet,
      makeProbes: (link) => [fakeProbe(link)],
      alerts: { enqueue: (a) => void alerts.push(a), retryNow: () => undefined, stop: async () => undefined },
      ...(steps ? { steps } : {}),
      ...deps,
    });
    return { daemon, stateDir };
  }

  test("fails over, reports the step, alerts once, and writes its status", async () => {
    const route = new FakeRoute();
    const alerts: Alert[] = [];
    const { daemon, stateDir } = start(route, alerts, { flushConntrack: true, publicAddress: async () => ({ address: "203.0.113.10", detail: "static" }) });
    await daemon.start();
    await until("both up", () => daemon.status().links.every((l) => l.state === "up"));
    answering.set("wan1", false);
    await until("failover", () => daemon.activeLink === "wan2");
    await until("its report", () => daemon.status().lastSwitch !== null);
    expect(route.calls).toEqual(["wan2"]);
    const status = daemon.status();
    expect(status.lastSwitch).toMatchObject({ kind: "failover", from: "wan1", to: "wan2", ok: true });
    expect(status.lastSwitch!.steps.map((s) => [s.step, s.detail])).toEqual([
      ["route", "default route via wan2"],
      ["conntrack", "2 stale connection-tracking entries deleted"],
    ]);
    expect(alerts.map((a) => [a.kind, a.from, a.to])).toEqual([["failover", "wan1", "wan2"]]);
    await until("status file", () => {
      const file = readStatus(stateDir);
      return file.ok && file.value.active === "wan2";
    });
  });

  test("probes the standby link less often while the active one is well, and at full pace once the active fails a round", async () => {
    const runs = new Map<string, number>([["wan1", 0], ["wan2", 0]]);
    const counted = (link: LinkBinding): Probe[] => {
      const [probe] = answeringProbes(answering)(link);
      return [{ ...probe!, run: async (signal) => (runs.set(link.name, runs.get(link.name)! + 1), probe!.run(signal)) }];
    };
    const { daemon } = start(new FakeRoute(), [], undefined, { makeProbes: counted, config: { monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }], intervalMs: 5, standbyIntervalMs: 200, timeoutMs: 5, downAfter: 20, upAfter: 2 } } });
    await daemon.start();
    await until("both up", () => daemon.status().links.every((l) => l.state === "up"));
    const counts = () => [runs.get("wan1")!, runs.get("wan2")!] as const;
    let [wan1Before, wan2Before] = counts();
    await until("80 rounds of wan1", () => counts()[0] - wan1Before >= 80);
    let [wan1After, wan2After] = counts();
    // 5 ms against 200 ms: forty times fewer; ask for four times, whatever the machine's load.
    expect((wan2After - wan2Before) * 4).toBeLessThan(wan1After - wan1Before);

    answering.set("wan1", false); // fails rounds, but stays up for 20 of them
    [wan1Before, wan2Before] = counts();
    await until("16 failed rounds of wan1", () => counts()[0] - wan1Before >= 16);
    [wan1After, wan2After] = counts();
    expect(daemon.activeLink).toBe("wan1");
    // From wan1's first failed round on, wan2 keeps its pace (at 200 ms it would have had one round).
    expect((wan2After - wan2Before) * 2).toBeGreaterThanOrEqual(wan1After - wan1Before);
  });

  test("a failed route step keeps the office where it was, says so, and tries again later", async () => {
    const route = new FakeRoute();
    route.failNext = true;
    const alerts: Alert[] = [];
    const { daemon } = start(route, alerts);
    await daemon.start();
    await until("both up", () => daemon.status().links.every((l) => l.state === "up"));
    answering.set("wan1", false);
    await until("a switch attempt", () => route.calls.length === 1);
    await until("its report", () => daemon.status().lastSwitch !== null);
    expect(daemon.activeLink).toBe("wan1");
    expect(daemon.status().lastSwitch).toMatchObject({ ok: false, steps: [{ step: "route", ok: false, detail: "RTNETLINK answers: Network is unreachable" }] });
    expect(daemon.status().active).toBe("wan1"); // the kernel's route, read back after the failure
    expect(alerts[0]).toMatchObject({ kind: "failover", ok: false });
    // Not retried on every round: the next attempt waits (5 s), so only one call so far.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(route.calls).toHaveLength(1);
  });

  test("all links down: stays, alerts once per episode", async () => {
    const route = new FakeRoute();
    const alerts: Alert[] = [];
    const { daemon } = start(route, alerts);
    await daemon.start();
    await until("both up", () => daemon.status().links.every((l) => l.state === "up"));
    answering.set("wan2", false);
    await until("wan2 down", () => daemon.status().links[1]!.state === "down");
    answering.set("wan1", false);
    await until("both down", () => daemon.status().links.every((l) => l.state === "down"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(daemon.activeLink).toBe("wan1");
    expect(route.calls).toEqual([]);
    expect(daemon.status().decision.reason).toMatch(/all links down/);
    expect(alerts.filter((a) => a.kind === "all-down")).toHaveLength(1);
  });

  test("a restart never flips: the active link comes from the system", async () => {
    const route = new FakeRoute();
    route.active = "wan2";
    const { daemon } = start(route);
    await daemon.start();
    await until("both up", () => daemon.status().links.every((l) => l.state === "up"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(daemon.activeLink).toBe("wan2");
    expect(route.calls).toEqual([]);
    expect(daemon.status().decision.reason).toMatch(/hold-down/);
  });

  test("a call count still in flight at stop schedules no further poll", async () => {
    let calls = 0;
    let release!: (n: number) => void;
    const { daemon: d } = start(new FakeRoute(), [], undefined, {
      config: { failover: { waitForIdleCalls: true } },
      activeCalls: () => (calls++, new Promise<number>((resolve) => (release = resolve))),
    });
    await d.start();
    await d.stop();
    daemon = undefined;
    vi.useFakeTimers();
    try {
      release(0);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(calls).toBe(1);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  test("a slow later step (DNS) does not hold up the next failover: the route moves at once", async () => {
    const route = new FakeRoute();
    const dnsCalls: string[] = [];
    let releaseFirst!: () => void;
    const firstDns = new Promise<void>((resolve) => (releaseFirst = resolve));
    const { daemon } = start(route, [], {
      publicAddress: async (link) => ({ address: link === "wan1" ? "198.51.100.10" : "203.0.113.10", detail: "static" }),
      updateDns: async (address) => {
        dnsCalls.push(address);
        if (address === "203.0.113.10") await firstDns;
        return `office.example.com updated to ${address}`;
      },
    });
    await daemon.start();
    await until("both up", () => daemon.status().links.every((l) => l.state === "up"));
    await until("the start's check of wan1", () => dnsCalls.length === 1);
    answering.set("wan1", false);
    await until("failover to wan2", () => daemon.activeLink === "wan2");
    await until("its DNS step started", () => dnsCalls.length === 2);
    // wan2 dies while the DNS step of the first switch still hangs; wan1 is back.
    answering.set("wan1", true);
    await until("wan1 up", () => daemon.status().links[0]!.state === "up");
    answering.set("wan2", false);
    await until("failover back to wan1 despite the hanging step", () => daemon.activeLink === "wan1");
    expect(route.calls).toEqual(["wan2", "wan1"]);
    expect(dnsCalls).toEqual(["198.51.100.10", "203.0.113.10"]); // the second switch's DNS waits its turn
    releaseFirst();
    await until("the second switch's report", () => daemon.status().lastSwitch?.to === "wan1");
    const last = daemon.status().lastSwitch!;
    expect(last).toMatchObject({ to: "wan1", ok: true });
    expect(last.steps.map((s) => [s.step, s.ok])).toEqual([
      ["route", true],
      ["public-ip", true],
      ["dns", true],
    ]);
    expect(dnsCalls).toEqual(["198.51.100.10", "203.0.113.10", "198.51.100.10"]); // in order: the office's address last
  });

  test("the wall clock stepping an hour either way during a hold-down changes neither the decision nor its countdown (audit case 8)", async () => {
    const route = new FakeRoute();
    let wallOffset = 0;
    const { daemon } = start(route, [], undefined, { config: { failover: { holdDownSeconds: 40 } }, wallNow: () => Date.now() + wallOffset });
    await daemon.start();
    await until("both up", () => daemon.status().links.every((l) => l.state === "up"));
    answering.set("wan1", false);
    await until("failover", () => daemon.activeLink === "wan2");
    answering.set("wan1", true);
    await until("wan1 back, in hold-down", () => /waits for hold-down/.test(daemon.status().decision.reason));
    const secondsLeft = () => {
      const reason = daemon.status().decision.reason;
      const m = /waits for hold-down: (\d+) s left/.exec(reason);
      if (!m) throw new Error(`no countdown in: ${reason}`);
      return Number(m[1]);
    };
    for (const offset of [3_600_000, -3_600_000]) {
      wallOffset = offset;
      await new Promise((r) => setTimeout(r, 50)); // rounds go on with the stepped clock
      expect(daemon.activeLink).toBe("wan2");
      expect(secondsLeft()).toBeGreaterThan(30);
      expect(secondsLeft()).toBeLessThanOrEqual(40);
    }
    // What people read follows the wall clock as it is now.
    const wan1Since = Date.parse(daemon.status().links[0]!.since);
    expect(Math.abs(wan1Since - (Date.now() - 3_600_000))).toBeLessThan(10_000);
    expect(route.calls).toEqual(["wan2"]);
  });

  test("a link whose address changes (DHCP) is probed from its new address", async () => {
    const route = new FakeRoute();
    const stateDir = tempDir();
    const config = parseConfigText(JSON.stringify({ ...minimalConfig(), stateDir, monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }], intervalMs: 5, timeoutMs: 5, downAfter: 2, upAfter: 2 } }), "c.json");
    const bindings: string[] = [];
    daemon = new Daemon(config, {
      route,
      logger: quiet,
      addressCheckMs: 10,
      makeProbes: (link) => (bindings.push(`${link.name} ${link.sourceAddress}`), [fakeProbe(link)]),
    });
    await daemon.start();
    await until("both bound", () => bindings.length === 2);
    route.addresses.wan2 = "100.64.0.6";
    await until("wan2 bound anew", () => bindings.includes("wan2 100.64.0.6"));
    expect(bindings.filter((b) => b.startsWith("wan1"))).toEqual(["wan1 198.51.100.10"]); // the other link is left alone
  });

  test("the kernel's news of an address (ip monitor address) has the link probed anew at once, without waiting for the periodic check", async () => {
    const route = new FakeRoute();
    const stateDir = tempDir();
    const config = parseConfigText(JSON.stringify({ ...minimalConfig(), stateDir, monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }], intervalMs: 5, timeoutMs: 5, downAfter: 2, upAfter: 2 } }), "c.json");
    const bindings: string[] = [];
    let events: CarrierWatchEvents | undefined;
    let watched: readonly string[] = [];
    daemon = new Daemon(config, {
      route,
      logger: quiet,
      addressCheckMs: 3_600_000, // the periodic check never comes during this test
      watchCarrier: (interfaces, e) => ((watched = interfaces), (events = e), { stop: async () => undefined }),
      makeProbes: (link) => (bindings.push(`${link.name} ${link.sourceAddress}`), [fakeProbe(link)]),
    });
    await daemon.start();
    await until("both bound", () => bindings.length === 2);
    expect(watched).toEqual(["wan1", "wan2"]);
    route.addresses.wan2 = "100.64.0.6";
    // A burst, as the kernel sends it: the old address deleted, the new one added.
    events!.onAddress!("wan2");
    events!.onAddress!("wan2");
    await until("wan2 bound anew", () => bindings.includes("wan2 100.64.0.6"));
    await new Promise((r) => setTimeout(r, 50));
    expect(bindings.filter((b) => b.startsWith("wan2"))).toEqual(["wan2 100.64.0.2", "wan2 100.64.0.6"]); // built anew once
    expect(bindings.filter((b) => b.startsWith("wan1"))).toEqual(["wan1 198.51.100.10"]);
  });

  test("a secret quoted in a step's error never reaches the status, the report or the alert", async () => {
    const route = new FakeRoute();
    const alerts: Alert[] = [];
    const stateDir = tempDir();
    const config = parseConfigText(JSON.stringify({ ...minimalConfig(), stateDir, monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }], intervalMs: 5, timeoutMs: 5, downAfter: 2, upAfter: 2 } }), "c.json");
    daemon = new Daemon(config, {
      route,
      logger: quiet,
      secrets: ["tok-3f9a"],
      makeProbes: (link) => [fakeProbe(link)],
      alerts: { enqueue: (a) => void alerts.push(a), retryNow: () => undefined, stop: async () => undefined },
      steps: {
        publicAddress: async () => ({ address: "203.0.113.10", detail: "static" }),
        updateDns: async () => {
          throw new Error("GET https://dyn.example/update?token=tok-3f9a failed: 500");
        },
      },
    });
    await daemon.start();
    await until("both up", () => daemon!.status().links.every((l) => l.state === "up"));
    answering.set("wan1", false);
    await until("the report", () => daemon!.status().lastSwitch?.to === "wan2");
    const dns = daemon.status().lastSwitch!.steps.find((s) => s.step === "dns")!;
    expect(dns.ok).toBe(false);
    expect(dns.detail).toContain("token=[redacted]");
    expect(JSON.stringify(daemon.status())).not.toContain("tok-3f9a");
    expect(JSON.stringify(alerts)).not.toContain("tok-3f9a");
    expect(readFileSync(join(stateDir, "status.json"), "utf8")).not.toContain("tok-3f9a");
  });

  test("a drill moves the office to the backup and back, holding decisions meanwhile, and alerts its result", async () => {
    const route = new FakeRoute();
    const alerts: Alert[] = [];
    // No hold-down: without the drill holding decisions, the decider would fail back on its own
    // as soon as the office reached wan2.
    const { daemon } = start(route, alerts, {
        publicAddress: async () => ({ address: "203.0.113.10", detail: "static" }),
        // Later steps that take a while, during which many probe rounds come in.
        updateDns: (address) => new Promise((resolve) => setTimeout(() => resolve(`updated to ${address}`), 100)),
      },
      { config: { failover: { holdDownSeconds: 0 } } },
    );
    await daemon.start();
    await until("both up", () => daemon.status().links.every((l) => l.state === "up"));
    const report = await daemon.drill();
    expect(report).toMatchObject({ ok: true, from: "wan1", to: "wan2" });
    expect(report.out!.steps.map((s) => [s.step, s.ok])).toEqual([["route", true], ["public-ip", true], ["dns", true]]);
    expect(report.back!.steps.map((s) => [s.step, s.ok])).toEqual([["route", true], ["public-ip", true], ["dns", true]]);
    expect(route.calls).toEqual(["wan2", "wan1"]); // not a failback of its own in between
    expect(daemon.activeLink).toBe("wan1");
    expect(alerts.map((a) => [a.kind, a.ok])).toEqual([["drill", true]]);
    expect(alerts[0]!.timeline.map((t) => t.step)).toEqual(["wan2: route", "wan2: public-ip", "wan2: dns", "wan1: route", "wan1: public-ip", "wan1: dns"]);
  });

  test("a drill is refused when there is nothing to prove it on, and says why", async () => {
    const route = new FakeRoute();
    const { daemon } = start(route);
    await daemon.start();
    await until("both up", () => daemon.status().links.every((l) => l.state === "up"));
    answering.set("wan2", false);
    await until("wan2 down", () => daemon.status().links[1]!.state === "down");
    expect(await daemon.drill()).toMatchObject({ ok: false, refused: "no other link is up to drill on" });
    expect(route.calls).toEqual([]);
  });

  test("a drill with a failing step fails, says which, and still brings the office back", async () => {
    const route = new FakeRoute();
    const { daemon } = start(route, [], {
      publicAddress: async (link) => ({ address: link === "wan1" ? "198.51.100.10" : "203.0.113.10", detail: "static" }),
      updateDns: async (address) => {
        if (address === "203.0.113.10") throw new Error("office.example.com failed (badauth)");
        return `office.example.com → ${address}`;
      },
    });
    await daemon.start();
    await until("both up", () => daemon.status().links.every((l) => l.state === "up"));
    const report = await daemon.drill();
    expect(report.ok).toBe(false);
    expect(report.out!.steps.find((s) => s.step === "dns")).toMatchObject({ ok: false, detail: "office.example.com failed (badauth)" });
    expect(route.calls).toEqual(["wan2", "wan1"]);
    expect(daemon.activeLink).toBe("wan1");
  });
});

describe("following a router that switches by itself (route.backend none)", () => {
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  test("the egress moving to wan2 is a failover followed at once: no route moved by wanctl, the later steps run; the drill runs in place", async () => {
    let egress: ((s: { address: string | null; link: string | null; detail: string }) => void) | undefined;
    let active = "wan1";
    const activated: string[] = [];
    const dnsTo: string[] = [];
    const route: RouteBackend = {
      follows: true,
      activeLink: async () => active,
      prepareLink: async () => "192.168.50.10",
      activate: async (link) => (activated.push(link), { active: link, durationMs: 0 }),
    };
    const stateDir = tempDir();
    const config = parseConfigText(JSON.stringify({ ...minimalConfig(), stateDir, monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }] } }), "c.json");
    const alerts: Alert[] = [];
    daemon = new Daemon(config, {
      route,
      logger: quiet,
      makeProbes: () => {
        throw new Error("no probes when following a router");
      },
      watchEgress: (onSample) => ((egress = onSample), { lookNow: () => undefined, stop: async () => undefined }),
      alerts: { enqueue: (a) => void alerts.push(a), retryNow: () => undefined, stop: async () => undefined },
      steps: {
        publicAddress: async (link) => ({ address: link === "wan1" ? "198.51.100.10" : "203.0.113.10", detail: "egress" }),
        updateDns: async (address) => (dnsTo.push(address), `office.example.com → ${address}`),
      },
    });
    await daemon.start();
    egress!({ address: "198.51.100.10", link: "wan1", detail: "STUN" });
    expect(daemon.status().links.map((l) => l.state)).toEqual(["up", "unknown"]);
    active = "wan2";
    egress!({ address: "203.0.113.10", link: "wan2", detail: "STUN" });
    await until("the followed switch's report", () => daemon!.status().lastSwitch?.to === "wan2");
    expect(daemon.status().lastSwitch).toMatchObject({ kind: "failover", from: "wan1", to: "wan2", ok: true, reason: "the router moved the office to wan2: its traffic now leaves with 203.0.113.10" });
    expect(daemon.status().links.map((l) => [l.state, l.reason])).toEqual([
      ["unknown", "the router moved the office to wan2"],
      ["up", "the office's traffic leaves by it (203.0.113.10)"],
    ]);
    expect(dnsTo.at(-1)).toBe("203.0.113.10");
    expect(alerts.map((a) => [a.kind, a.to])).toEqual([["failover", "wan2"]]);

    const drill = await daemon.drill();
    expect(drill).toMatchObject({ ok: true, from: "wan2", to: "wan2" });
    expect(drill.back).toBeUndefined();
    expect(drill.out!.steps.map((s) => s.step)).toEqual(["route", "public-ip", "dns"]);
    expect(activated).toEqual(["wan2", "wan2"]); // confirmations only: the router owns the routes
    expect(daemon.status().gateway).toBeUndefined(); // no gatewayPath: the targets are not probed
  });

  test("monitor.targets watch the way out through the router: shown, alerted down and back, each change a look at the egress at once; a changed way gets new probes", async () => {
    let egress: ((s: { address: string | null; link: string | null; detail: string }) => void) | undefined;
    let looks = 0;
    let retries = 0;
    const gatewayAnswers = new Map([["gateway", true]]);
    let way: LinkBinding = { name: "gateway", interface: "eth0", sourceAddress: "192.168.50.10" };
    const built: LinkBinding[] = [];
    const route: RouteBackend = {
      follows: true,
      activeLink: async () => "wan1",
      prepareLink: () => Promise.reject(new Error("the router probes its links")),
      activate: async (link) => ({ active: link, durationMs: 0 }),
    };
    const stateDir = tempDir();
    const config = parseConfigText(
      JSON.stringify({ ...minimalConfig(), stateDir, monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }], intervalMs: 5, timeoutMs: 5, downAfter: 2, upAfter: 2 } }),
      "c.json",
    );
    const alerts: Alert[] = [];
    daemon = new Daemon(config, {
      route,
      logger: quiet,
      addressCheckMs: 20,
      gatewayPath: async () => way,
      makeProbes: (link) => (built.push(link), answeringProbes(gatewayAnswers)(link)),
      watchEgress: (onSample) => ((egress = onSample), { lookNow: () => void looks++, stop: async () => undefined }),
      alerts: { enqueue: (a) => void alerts.push(a), retryNow: () => void retries++, stop: async () => undefined },
    });
    await daemon.start();
    egress!({ address: "198.51.100.10", link: "wan1", detail: "STUN" });
    await until("the way out judged up", () => daemon!.status().gateway?.state === "up");
    expect(daemon.status().gateway).toMatchObject({ state: "up", lossPct: 0, latencyMs: 1, lastRound: { answered: 1, targets: 1 } });
    expect(built[0]).toEqual({ name: "gateway", interface: "eth0", sourceAddress: "192.168.50.10" });
    expect(daemon.status().links.map((l) => l.state)).toEqual(["up", "unknown"]); // the links are still the egress's to say
    expect([alerts.length, looks]).toEqual([0, 0]); // a first verdict of up is no news

    gatewayAnswers.set("gateway", false);
    await until("the way out down", () => daemon!.status().gateway?.state === "down");
    expect(alerts.map((a) => [a.kind, a.to, a.ok])).toEqual([["gateway-down", "wan1", false]]);
    expect(alerts[0]!.reason).toMatch(/^no answer through the router: /);
    expect(alerts[0]!.links.map((l) => [l.link, l.state])).toEqual([["gateway", "down"], ["wan1", "up"], ["wan2", "unknown"]]);
    expect(looks).toBe(1);
    expect(renderStatus(daemon.status(), Date.now())).toMatch(/the way out through the router, probed from this host:\n  gateway +down /);

    gatewayAnswers.set("gateway", true);
    await until("the way out back", () => daemon!.status().gateway?.state === "up");
    expect(alerts.map((a) => [a.kind, a.to, a.ok])).toEqual([["gateway-down", "wan1", false], ["gateway-up", "wan1", true]]);
    expect(alerts[1]!.reason).toMatch(/^the way out through the router answers again after \d+ s down: /);
    expect([looks, retries]).toEqual([2, 1]);
    await until("the status file", () => {
      const file = readStatus(stateDir);
      return file.ok && file.value.gateway?.state === "up";
    });

    // The host's address changed (DHCP on the LAN): the next check builds the probes anew.
    way = { name: "gateway", interface: "eth0", sourceAddress: "192.168.50.11" };
    await until("probes bound to the new address", () => built.at(-1)?.sourceAddress === "192.168.50.11");
    expect(alerts).toHaveLength(2);
  });
});
