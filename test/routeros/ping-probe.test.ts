// Probing through the router: one streamed /ping per target over the API (one request per echo
// over REST), read into the same ProbeResult the health logic takes; restarts when the stream
// ends, a dropped connection when it goes silent, nothing left running after close().
import { afterEach, describe, expect, test, vi } from "vitest";
import { parseRouterDuration } from "../../src/wan/route/routeros/client.js";
import { readPingRecord, RouterPingProbe, RouterPingSession, type RouterPingVia } from "../../src/wan/probes/routeros-ping.js";
import type { ProbeResult } from "../../src/wan/probes/types.js";
import type { ApiServer } from "./fake-servers.js";
import { MemoryWorld } from "./fake-worlds.js";
import { officeRouterOptions, startRouter, type RunningRouter, type Transport } from "./harness.js";

const TIMING = { intervalMs: 100, timeoutMs: 150 };
const WAN1 = { name: "wan1", interface: "wan1", sourceAddress: "198.51.100.10" };

const running: RunningRouter[] = [];
const probes: RouterPingProbe[] = [];
afterEach(async () => {
  await Promise.all(probes.splice(0).map((p) => p.close()));
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function setUp(transport: Transport = "api", version = "7.18.2") {
  const world = new MemoryWorld();
  const r = await startRouter(transport, officeRouterOptions(world, { version }));
  running.push(r);
  const client = r.client({ timeoutMs: 1000 });
  const probe = (via: RouterPingVia = { interface: "wan1" }, host = "192.0.2.1", options: { restartMinMs?: number; stallMs?: number } = {}) => {
    const p = new RouterPingProbe(WAN1, host, TIMING, { client, via, ...options });
    probes.push(p);
    return p;
  };
  return { world, router: r.router, server: r.server, client, probe };
}

/** Runs rounds until `want` says yes (bounded). */
async function roundUntil(probe: RouterPingProbe, want: (r: ProbeResult) => boolean, rounds = 40): Promise<ProbeResult> {
  let last: ProbeResult | undefined;
  for (let i = 0; i < rounds; i++) {
    last = await probe.run();
    if (want(last)) return last;
    await new Promise((r) => setTimeout(r, TIMING.intervalMs));
  }
  throw new Error(`no such round in ${rounds}: last ${JSON.stringify(last)}`);
}

describe("reading RouterOS's ping records", () => {
  test("RTTs as RouterOS 7 and 6 write them", () => {
    expect(readPingRecord({ seq: "3", time: "1ms537us" }, 350)).toEqual({ seq: 3, ok: true, rttMs: 1.537, detail: "seq=3 via the router" });
    expect(readPingRecord({ seq: "4", time: "12ms" }, 350)).toMatchObject({ ok: true, rttMs: 12 });
    expect(readPingRecord({ seq: "5", time: "870us" }, 350)).toMatchObject({ ok: true, rttMs: 0.87 });
  });

  test("a timeout, an unreachable, a reply too late, a record that is no echo", () => {
    expect(readPingRecord({ seq: "6", status: "timeout" }, 350)).toEqual({ seq: 6, ok: false, error: "timeout: the router got no reply to seq=6" });
    expect(readPingRecord({ seq: "7", host: "198.51.100.9", status: "net unreachable" }, 350)).toEqual({ seq: 7, ok: false, error: "net unreachable (seq=7, from 198.51.100.9)" });
    expect(readPingRecord({ seq: "8", time: "1s20ms" }, 350)).toMatchObject({ ok: false, error: "timeout: reply to seq=8 after 1020 ms, over 350 ms" });
    expect(readPingRecord({ sent: "3", received: "3" }, 350)).toBeNull();
  });

  test("RouterOS durations", () => {
    expect(parseRouterDuration("2d3h4m5s")).toBe(((2 * 24 + 3) * 60 + 4) * 60_000 + 5000);
    expect(parseRouterDuration("00:01:02.5")).toBe(62_500);
    expect(parseRouterDuration("1w")).toBe(604_800_000);
    expect(parseRouterDuration("0.35")).toBe(350);
    expect(parseRouterDuration("12 ms")).toBeNull();
    expect(parseRouterDuration("soon")).toBeNull();
  });
});

describe("over the API: one streamed /ping per target", () => {
  test("echoes answered by the router are good rounds, with the router's RTT", async () => {
    const { probe, router } = await setUp();
    const p = probe();
    const result = await roundUntil(p, (r) => r.ok);
    expect(result).toMatchObject({ target: "icmp 192.0.2.1", ok: true, rttMs: 1.5, detail: expect.stringMatching(/^seq=\d+ via the router$/) });
    const pings = router.log.filter((c) => c.command === "/ping");
    expect(pings).toHaveLength(1); // one long-running command, not one per round
    expect(pings[0]!.args).toEqual({ address: "192.0.2.1", interface: "wan1", interval: "100ms" });
  });

  test("a link whose echoes time out gives failed rounds", async () => {
    const { probe, world } = await setUp();
    world.echo = () => "timeout";
    const result = await roundUntil(probe(), (r) => !r.ok && /timeout/.test(r.error ?? ""));
    expect(result.error).toMatch(/^timeout/);
  });

  test("replies slower than the probe timeout count as lost", async () => {
    const { probe, world } = await setUp();
    world.echo = () => 400;
    const result = await roundUntil(probe(), (r) => !r.ok);
    expect(result.error).toMatch(/^timeout: reply to seq=\d+ after 400 ms, over 150 ms$/);
  });

  test("routing-table= and src-address= are passed as the link's way out", async () => {
    const { probe, router } = await setUp();
    await roundUntil(probe({ "routing-table": "via-wan2" }), (r) => r.ok);
    await roundUntil(probe({ "src-address": "100.64.0.2" }, "192.0.2.2"), (r) => r.ok);
    expect(router.log.filter((c) => c.command === "/ping").map((c) => c.args)).toEqual([
      { address: "192.0.2.1", "routing-table": "via-wan2", interval: "100ms" },
      { address: "192.0.2.2", "src-address": "100.64.0.2", interval: "100ms" },
    ]);
  });

  test("a /ping the router refuses fails the rounds with its reason, and is tried again with backoff", async () => {
    const { probe, router } = await setUp();
    const p = probe({ interface: "ether9" }, "192.0.2.1", { restartMinMs: 50 });
    const result = await roundUntil(p, (r) => /is not running/.test(r.error ?? ""));
    expect(result.error).toContain("input does not match any value of interface");
    await vi.waitFor(() => expect(router.log.filter((c) => c.command === "/ping").length).toBeGreaterThanOrEqual(2), { timeout: 2000 });
  });

  test("RouterOS 6 has no routing tables: its refusal is the round's error", async () => {
    const { probe } = await setUp("api", "6.49.10");
    const result = await roundUntil(probe({ "routing-table": "via-wan2" }), (r) => /is not running/.test(r.error ?? ""));
    expect(result.error).toContain("unknown parameter routing-table");
  });

  test("after the router drops the session (!fatal), the stream is started again and rounds pass again", async () => {
    const { probe, server } = await setUp();
    const p = probe(undefined, undefined, { restartMinMs: 20 });
    await roundUntil(p, (r) => r.ok);
    (server as ApiServer).fatalAll("session terminated on request");
    await vi.waitFor(() => expect(p.session.starts).toBe(2), { timeout: 2000 });
    expect(p.session.lastError).toContain("the router ended the session: session terminated on request");
    await roundUntil(p, (r) => r.ok);
  });

  test("a stream gone silent (a hung router): the connection is dropped and the stream restarted", async () => {
    const { probe, server } = await setUp();
    const p = probe(undefined, undefined, { restartMinMs: 20, stallMs: 300 });
    await roundUntil(p, (r) => r.ok);
    const api = server as ApiServer;
    api.hold(true);
    const silent = await roundUntil(p, (r) => /silent/.test(r.error ?? ""));
    expect(silent.error).toContain("silent for 300 ms");
    api.hold(false);
    await roundUntil(p, (r) => r.ok);
    expect(p.session.starts).toBeGreaterThanOrEqual(2);
  });

  test("close() cancels the /ping on the router", async () => {
    const { probe, world, router } = await setUp();
    const p = probe();
    await roundUntil(p, (r) => r.ok);
    expect(world.pings.size).toBe(1);
    await p.close();
    expect(world.pings.size).toBe(0);
    expect(await p.run()).toEqual({ target: "icmp 192.0.2.1", ok: false, error: "probe closed" });
  });
});

describe("over REST: a /ping count=1 per interval", () => {
  test("good and failed rounds from one request per echo, never two at once", async () => {
    const { probe, router, world } = await setUp("rest");
    const p = probe();
    await roundUntil(p, (r) => r.ok);
    world.echo = () => "timeout";
    await roundUntil(p, (r) => !r.ok);
    const pings = router.log.filter((c) => c.command === "/ping");
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(pings[0]!.args).toEqual({ address: "192.0.2.1", interface: "wan1", count: "1" });
    expect(world.pings.size).toBeLessThanOrEqual(1);
  });
});

test("the session's arguments are the documented /ping ones", () => {
  expect(RouterPingSession.pingArgs({ target: "192.0.2.1", via: { interface: "lte1" }, intervalMs: 350 })).toEqual({ address: "192.0.2.1", interface: "lte1", interval: "350ms" });
  expect(RouterPingSession.pingArgs({ target: "192.0.2.1", via: { "routing-table": "to-wan2" }, intervalMs: 350 }, 1)).toEqual({ address: "192.0.2.1", "routing-table": "to-wan2", count: "1" });
});
