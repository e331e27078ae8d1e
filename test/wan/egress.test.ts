// The egress watch and the backend of route.backend "none", against fake sources: which link an
// address names, one source at a time (the next only when one fails), one look per interval,
// failures reported only after downAfter in a row and backing off, and a backend that only confirms.
import { afterEach, describe, expect, test, vi } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { EgressLooker, linkAddressBlocks, linkOfAddress, type EgressSample, type EgressSource } from "../../src/wan/egress.js";
import type { SourceAnswer } from "../../src/wan/public-ip/types.js";
import type { CommandRunner } from "../../src/system/command.js";
import { createFollowGateway, gatewayPath, parseRouteGet, targetHost } from "../../src/wan/route/none.js";

const config = (egress: Record<string, unknown> = {}) =>
  parseConfigText(
    JSON.stringify({
      links: [
        { name: "wan1", interface: "ether1", gateway: "198.51.100.9", priority: 1, publicIp: { method: "static", address: "198.51.100.10" } },
        { name: "wan2", interface: "lte1", gateway: "100.64.0.1", priority: 2 },
      ],
      route: {
        backend: "none",
        egress: { method: "stun", servers: [{ host: "192.0.2.80" }, { host: "192.0.2.81" }], intervalMs: 100, timeoutMs: 50, ...egress },
        links: { wan2: { addresses: ["203.0.113.0/24"] } },
      },
    }),
    "c.json",
  );

/** Sources that answer what `answers` says now; every question asked is kept. */
function fakeSources(initial: Record<string, string | Error>) {
  const answers = { ...initial };
  const asked: string[] = [];
  const ask = async (source: EgressSource): Promise<SourceAnswer> => {
    const name = source.kind === "stun" ? `STUN ${source.host}:${source.port}` : source.url;
    asked.push(name);
    const a = answers[name];
    return a instanceof Error || a === undefined ? { source: name, error: a?.message ?? "no answer" } : { source: name, address: a };
  };
  return { answers, asked, ask };
}

const A = "STUN 192.0.2.80:3478";
const B = "STUN 192.0.2.81:3478";

describe("which link an egress address names", () => {
  const c = config();
  const blocks = linkAddressBlocks(c.links, c.route.backend === "none" ? c.route.links : {});
  test("a link's static address, or any address of its listed blocks; another address names none", () => {
    expect(linkOfAddress("198.51.100.10", blocks)).toBe("wan1");
    expect(linkOfAddress("203.0.113.77", blocks)).toBe("wan2");
    expect(linkOfAddress("198.51.100.11", blocks)).toBeNull();
    expect(linkOfAddress("not an address", blocks)).toBeNull();
  });
});

describe("a look at the egress", () => {
  test("asks one source; the next only when it fails, and the one that answered first next time", async () => {
    const c = config();
    const sources = fakeSources({ [A]: new Error("no STUN answer within 50 ms"), [B]: "203.0.113.10" });
    const gateway = createFollowGateway(c, { ask: sources.ask });
    expect(await gateway.looker.look()).toEqual({ address: "203.0.113.10", link: "wan2", detail: `${B} saw 203.0.113.10` });
    expect(sources.asked).toEqual([A, B]);
    sources.answers[A] = "198.51.100.10";
    await gateway.looker.look();
    expect(sources.asked).toEqual([A, B, B]);
  });

  test("no source answers: no address, and every source's reason", async () => {
    const sources = fakeSources({ [A]: new Error("no STUN answer within 50 ms"), [B]: new Error("send: ENETUNREACH") });
    const sample = await createFollowGateway(config(), { ask: sources.ask }).looker.look();
    expect(sample).toEqual({ address: null, link: null, detail: `${A}: no STUN answer within 50 ms; ${B}: send: ENETUNREACH` });
  });

  test("an address that is no link's is reported as such", async () => {
    const sources = fakeSources({ [A]: "192.0.2.99" });
    expect(await createFollowGateway(config(), { ask: sources.ask }).looker.look()).toMatchObject({ address: "192.0.2.99", link: null });
  });
});

describe("the watch", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test("one look per interval; failures said only after downAfter in a row, and only then backing off, up to four intervals; nothing after stop", async () => {
    vi.useFakeTimers();
    let clock = 0;
    const sources = fakeSources({ [A]: "198.51.100.10", [B]: "198.51.100.10" });
    const c = config();
    if (c.route.backend !== "none") throw new Error("not a follow config");
    const looker = new EgressLooker(c.route.egress, linkAddressBlocks(c.links, c.route.links), {
      ask: sources.ask,
      now: () => clock,
      random: () => 1, // no jitter: the delays are exact
    });
    const samples: EgressSample[] = [];
    const failures: number[] = [];
    const advance = async (ms: number) => {
      for (let i = 0; i < ms / 10; i++) {
        clock += 10;
        await vi.advanceTimersByTimeAsync(10);
      }
    };
    const watch = looker.watch((s) => samples.push(s), (_, n) => failures.push(n));
    await advance(250);
    expect(samples.map((s) => s.link)).toEqual(["wan1", "wan1", "wan1"]); // at 0, 100, 200

    // Both sources fail: looks at 300 (1), 400 (2), 500 (3: said), then 600, 800, 1200, 1600 (4 intervals at most).
    sources.answers[A] = new Error("no answer");
    sources.answers[B] = new Error("no answer");
    samples.length = 0;
    await advance(1450);
    expect(failures).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(samples.map((s) => s.address)).toEqual([null, null, null, null, null]);

    // The router found a way out, through wan2: seen at the next look (2000, then 2100).
    sources.answers[B] = "203.0.113.10";
    samples.length = 0;
    await advance(450);
    expect(samples.map((s) => s.link)).toEqual(["wan2", "wan2"]);

    // A callback that throws is said, and the watch goes on.
    const errors: unknown[] = [];
    const throwing = looker.watch(() => {
      throw new Error("a bug downstream");
    }, undefined, (e) => errors.push(e));
    await advance(150);
    expect(errors.map((e) => (e as Error).message)).toEqual(["a bug downstream", "a bug downstream"]);
    await throwing.stop();

    await watch.stop();
    const asked = sources.asked.length;
    await advance(500);
    expect(sources.asked.length).toBe(asked);
  });
  test("lookNow looks at once, also in the middle of a backed-off wait, and the pace goes on from there", async () => {
    vi.useFakeTimers();
    let clock = 0;
    const sources = fakeSources({ [A]: new Error("no answer"), [B]: new Error("no answer") });
    const c = config();
    if (c.route.backend !== "none") throw new Error("not a follow config");
    const looker = new EgressLooker(c.route.egress, linkAddressBlocks(c.links, c.route.links), { ask: sources.ask, now: () => clock, random: () => 1 });
    const advance = async (ms: number) => {
      for (let i = 0; i < ms / 10; i++) {
        clock += 10;
        await vi.advanceTimersByTimeAsync(10);
      }
    };
    const samples: EgressSample[] = [];
    const watch = looker.watch((s) => samples.push(s));
    await advance(650); // looks at 0, 100, 200 (said), 300, 500; the next would be at 900
    expect(samples.length).toBe(3);
    sources.answers[B] = "203.0.113.10";
    watch.lookNow();
    await advance(10);
    expect(samples.at(-1)).toMatchObject({ link: "wan2" });
    await advance(100);
    expect(samples.map((s) => s.link).slice(-2)).toEqual(["wan2", "wan2"]); // one interval later, not four
    await watch.stop();
  });
});

describe("the backend (route.backend none)", () => {
  test("the active link is where the egress is; activate confirms it, and refuses to pretend otherwise", async () => {
    const sources = fakeSources({ [A]: "198.51.100.10" });
    let clock = 0;
    const { route } = createFollowGateway(config(), { ask: sources.ask, now: () => (clock += 100) }); // every look is an interval old at once
    expect(route.follows).toBe(true);
    expect(await route.activeLink()).toBe("wan1");
    expect(await route.activate("wan1")).toMatchObject({ active: "wan1" });
    await expect(route.activate("wan2")).rejects.toThrow("the office's traffic leaves with 198.51.100.10, wan1's address, not by wan2: the router decides, wanctl cannot move it");
    await expect(route.prepareLink("wan2")).rejects.toThrow('route.backend "none": the router probes its links, wanctl does not (wan2)');
    sources.answers[A] = new Error("no answer");
    sources.answers[B] = new Error("no answer");
    await expect(route.activate("wan1")).rejects.toThrow(`cannot tell which link carries the office: ${A}: no answer; ${B}: no answer`);
    expect(await route.activeLink()).toBeUndefined();
  });

  test("a link's public address: the egress address while the office leaves by it, else its static one, else none", async () => {
    const sources = fakeSources({ [A]: "203.0.113.10" });
    let clock = 0;
    const gateway = createFollowGateway(config(), { ask: sources.ask, now: () => clock });
    expect(await gateway.publicAddress("wan2")).toMatchObject({ ok: true, address: "203.0.113.10", detail: `the office's traffic leaves with it (${A} saw 203.0.113.10)` });
    expect(await gateway.publicAddress("wan1")).toMatchObject({ ok: true, address: "198.51.100.10", detail: "static address 198.51.100.10 from the config" });
    sources.answers[A] = "198.51.100.10";
    expect(await gateway.publicAddress("wan2")).toMatchObject({ ok: true }); // the look of a moment ago, younger than an interval
    clock += 100;
    expect(await gateway.publicAddress("wan2")).toMatchObject({ ok: false, detail: "wan2: learned only while the router sends the office through it (the office's traffic leaves with 198.51.100.10 (wan1))" });
  });
});

describe("the way the gateway's probes leave (monitor.targets with route.backend none)", () => {
  const table: Record<string, string> = { "192.0.2.1": "192.0.2.1 via 192.168.50.1 dev eth0 src 192.168.50.10 uid 0 \\    cache " };
  const run: CommandRunner = async (argv) => {
    const out = table[argv.at(-1)!];
    if (out === undefined) throw new Error(`\`${argv.join(" ")}\` failed: RTNETLINK answers: Network is unreachable`);
    return { stdout: out, stderr: "" };
  };
  const resolve = async (host: string) => {
    if (host === "probe.example.net") return "192.0.2.1";
    if (/^[\d.]+$/.test(host)) return host;
    throw new Error("getaddrinfo ENOTFOUND");
  };

  test("the kernel's way to the first target: its device for ping -I, its source address for the sockets", async () => {
    const asked: string[][] = [];
    const recording: CommandRunner = (argv, o) => (asked.push([...argv]), run(argv, o));
    expect(await gatewayPath([{ type: "icmp", host: "192.0.2.1" }, { type: "tcp", host: "192.0.2.9", port: 443 }], recording, resolve)).toEqual({ name: "gateway", interface: "eth0", sourceAddress: "192.168.50.10" });
    expect(asked).toEqual([["ip", "-4", "-o", "route", "get", "192.0.2.1"]]);
    expect(await gatewayPath([{ type: "http", url: "http://probe.example.net:8080/x" }], run, resolve)).toMatchObject({ interface: "eth0" });
  });

  test("no way, no name, no source: said with what was asked", async () => {
    await expect(gatewayPath([{ type: "sip", host: "192.0.2.7", port: 5060 }], run, resolve)).rejects.toThrow("`ip -4 -o route get 192.0.2.7` failed: RTNETLINK answers: Network is unreachable");
    await expect(gatewayPath([{ type: "dns", server: "nowhere.invalid", name: "example.com" }], run, resolve)).rejects.toThrow("cannot resolve nowhere.invalid (the first of monitor.targets): getaddrinfo ENOTFOUND");
    table["192.0.2.8"] = "unreachable 192.0.2.8";
    await expect(gatewayPath([{ type: "icmp", host: "192.0.2.8" }], run, resolve)).rejects.toThrow("`ip route get 192.0.2.8` names no device and source address: unreachable 192.0.2.8");
    await expect(gatewayPath([], run, resolve)).rejects.toThrow("no monitor.targets");
  });

  test("each target's host; parseRouteGet reads iproute2's line", () => {
    expect([
      targetHost({ type: "icmp", host: "a" }),
      targetHost({ type: "tcp", host: "b", port: 1 }),
      targetHost({ type: "dns", server: "c", name: "x" }),
      targetHost({ type: "http", url: "https://d.example/" }),
      targetHost({ type: "sip", host: "e", port: 5060 }),
    ]).toEqual(["a", "b", "c", "d.example", "e"]);
    expect(parseRouteGet("local 127.0.0.1 dev lo src 127.0.0.1 uid 0 \\    cache <local> ")).toEqual({ device: "lo", source: "127.0.0.1" });
    expect(parseRouteGet("")).toBeNull();
  });
});
