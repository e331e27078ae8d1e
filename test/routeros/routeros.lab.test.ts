// The RouterOS backend in the lab: the fake MikroTik *is* the office (its routes, pings, fetches
// and connection removals go to the office namespace), so a switch really moves the PBX's
// traffic, the lab's cuts really cut what the router's /ping sees, and a stale SIP mapping is
// really gone from the kernel. Then the fake runs as a process on the office's LAN address and
// the real CLI, in the pbx namespace as on an Asterisk host, checks the router and learns each
// link's public address through it.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createLinkHealth, recordRound, type LinkHealth } from "../../src/wan/health.js";
import { RouterPingProbe } from "../../src/wan/probes/routeros-ping.js";
import type { RouterOsRouteBackend } from "../../src/wan/route/routeros/backend.js";
import { switchedTo, waitForStatus, wanctlBin } from "../lab/daemon-harness.js";
import { askPublicAddress, askSource, SERVICES, startEchoServer, type EchoServer, type LabProcess } from "../lab/index.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { NamespaceWorld } from "./fake-worlds.js";
import { officeBackend, officeRouterOptions, startRouter, type RunningRouter } from "./harness.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const built = (path: string): string => `${root}dist/${path.replace(/\.ts$/, ".js")}`;

/** The lab runs the build: it must be there and newer than what it was built from. */
function assertBuilt(): void {
  const sources = ["test/routeros/fake-main.ts", "test/routeros/fake-router.ts", "test/routeros/fake-servers.ts", "test/routeros/fake-worlds.ts", "test/lab/fake-ipecho.ts", "src/wan/route/routeros/check.ts", "src/wan/route/routeros/gateway.ts", "src/cli/program.ts"];
  const stale = sources.filter((s) => !existsSync(built(s)) || statSync(built(s)).mtimeMs < statSync(`${root}${s}`).mtimeMs);
  if (stale.length) throw new Error(`the build is missing or older than ${stale.join(", ")}: run \`npm run build\` first`);
}

const HEALTH = { quorum: 1, downAfter: 3, upAfter: 5, windowRounds: 60, latencyStat: "median" as const };
const TIMING = { intervalMs: 200, timeoutMs: 300 };

describeLab("the RouterOS backend on the lab's office", () => {
  const lab = useLab({ linkProbes: true });
  let echo: EchoServer;
  let world: NamespaceWorld;
  let running: RunningRouter;
  let backend: RouterOsRouteBackend;

  beforeAll(async () => {
    echo = await startEchoServer(lab);
    world = new NamespaceWorld(lab.ns("office"));
    running = await startRouter("api", officeRouterOptions(world));
    backend = officeBackend(running.client({ timeoutMs: 5000 }));
  });
  afterAll(async () => {
    await running?.close();
    world?.close();
    await echo?.stop();
  });

  test("a switch moves the office's default route, and the PBX's traffic leaves through the new link", async () => {
    expect(await backend.activeLink()).toBe("wan1");
    expect(await lab.defaultRouteLink()).toBe("wan1");
    expect(await askPublicAddress(lab, "pbx", { to: SERVICES.probe1 })).toBe("198.51.100.10");

    await backend.activate("wan2");
    expect(await backend.activeLink()).toBe("wan2");
    expect(await lab.defaultRouteLink()).toBe("wan2");
    expect(await askPublicAddress(lab, "pbx", { to: SERVICES.probe1 })).toBe("203.0.113.10"); // wan2, behind isp2's carrier NAT

    await backend.activate("wan1");
    expect(await lab.defaultRouteLink()).toBe("wan1");
    expect(await askPublicAddress(lab, "pbx", { to: SERVICES.probe2 })).toBe("198.51.100.10");
  });

  test("the PBX's SIP flow, mapped to wan1's address, is removed from the office's conntrack after the switch, and follows the new link", async () => {
    // The trunk's flow from 5060, through wan1: the office's static SNAT maps it to wan1's address.
    expect(await askSource(lab, "pbx", { to: SERVICES.probe3, sourcePort: 5060 })).toBe("198.51.100.10:5060");
    const sipEntries = async () => (await lab.exec("office", ["conntrack", "-L", "-p", "udp", "--orig-port-src", "5060", "--orig-dst", SERVICES.probe3])).stdout;
    expect(await sipEntries()).toContain("dst=198.51.100.10");

    await backend.activate("wan2");
    const removed = await backend.flushStaleFlows("wan2");
    expect(removed).toBeGreaterThanOrEqual(1);
    expect(await sipEntries()).not.toContain("dst=198.51.100.10");
    // Its next packet makes a new mapping, through wan2 (and isp2's NAT).
    expect(await askPublicAddress(lab, "pbx", { to: SERVICES.probe3, sourcePort: 5060 })).toBe("203.0.113.10");

    await backend.activate("wan1");
    await backend.flushStaleFlows("wan1");
    expect(await askSource(lab, "pbx", { to: SERVICES.probe3, sourcePort: 5060 })).toBe("198.51.100.10:5060");
  });

  test("router-side /ping: a cut wan1 is detected while wan2 stays up, and the idle wan2 is probed through its own table", async () => {
    const client = running.client({ timeoutMs: 5000 });
    const probes = {
      wan1: [SERVICES.probe1, SERVICES.probe2].map((t) => new RouterPingProbe({ name: "wan1", interface: "wan1", sourceAddress: "198.51.100.10" }, t, TIMING, { client, via: { interface: "wan1" } })),
      wan2: [SERVICES.probe1, SERVICES.probe2].map((t) => new RouterPingProbe({ name: "wan2", interface: "wan2", sourceAddress: "100.64.0.2" }, t, TIMING, { client, via: { "routing-table": "via-wan2" } })),
    };
    const health: Record<"wan1" | "wan2", LinkHealth> = { wan1: createLinkHealth("wan1", Date.now()), wan2: createLinkHealth("wan2", Date.now()) };
    const seen: Record<"wan1" | "wan2", string[]> = { wan1: [], wan2: [] };
    /** Probe rounds, both links at once, until `until` holds (at most `rounds`). */
    const rounds = async (until: () => boolean, max: number): Promise<void> => {
      for (let i = 0; i < max && !until(); i++) {
        const started = Date.now();
        for (const link of ["wan1", "wan2"] as const) {
          const results = await Promise.all(probes[link].map((p) => p.run()));
          health[link] = recordRound(health[link], results, Date.now(), HEALTH).health;
          seen[link].push(health[link].state);
        }
        await new Promise((r) => setTimeout(r, Math.max(0, TIMING.intervalMs - (Date.now() - started))));
      }
    };
    try {
      await rounds(() => health.wan1.state === "up" && health.wan2.state === "up", 30);
      expect([health.wan1.state, health.wan2.state]).toEqual(["up", "up"]);

      seen.wan2.length = 0;
      await lab.cut("wan1");
      await rounds(() => health.wan1.state === "down", 20);
      expect(health.wan1.state).toBe("down");
      expect(seen.wan2.every((s) => s === "up")).toBe(true);

      await lab.heal("wan1");
      await rounds(() => health.wan1.state === "up", 30);
      expect(health.wan1.state).toBe("up");

      // wan2 carries nothing (the office is on wan1) and is still watched: its cut is seen too.
      seen.wan1.length = 0;
      await lab.cut("wan2");
      await rounds(() => health.wan2.state === "down", 20);
      expect(health.wan2.state).toBe("down");
      expect(seen.wan1.every((s) => s === "up")).toBe(true);
      await lab.heal("wan2");
      await rounds(() => health.wan2.state === "up", 30);
      expect(health.wan2.state).toBe("up");
    } finally {
      await Promise.all([...probes.wan1, ...probes.wan2].map((p) => p.close()));
      await lab.heal("wan1");
      await lab.heal("wan2");
    }
    // One streamed /ping per (link, target), not one per round (restarts aside).
    const pings = running.router.log.filter((c) => c.command === "/ping");
    expect(pings.length).toBeLessThanOrEqual(8);
  });

  describe("the fake as a router on the office's LAN, the CLI on the PBX host", () => {
    let fake: LabProcess;
    let ipEcho: LabProcess;
    let listening: { api: number; rest: number; fingerprint: string };
    const dirs: string[] = [];

    beforeAll(async () => {
      assertBuilt();
      // The in-process router of the tests above steps aside: this one is the office now.
      await running.close();
      world.close();
      ipEcho = lab.spawn("inet", [process.execPath, built("test/lab/fake-ipecho.ts"), JSON.stringify({ host: SERVICES.http, httpPort: 8080, stunPort: 3478 })]);
      await ipEcho.waitFor(/"listening".*\n/, 10_000);
      fake = lab.spawn("office", [process.execPath, built("test/routeros/fake-main.ts"), JSON.stringify({ ns: lab.ns("office"), host: "192.168.50.1", apiPort: 8728, restPort: 8443 })]);
      await fake.waitFor(/"listening".*\n/, 15_000).catch((error: Error) => {
        throw new Error(`fake router: ${error.message}\n${fake.stderr.slice(-2000)}`);
      });
      const line = fake.stdout.split("\n").find((l) => l.includes('"listening"'))!;
      listening = (JSON.parse(line) as { listening: typeof listening }).listening;
    });
    afterAll(async () => {
      await fake?.stop();
      await ipEcho?.stop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    function configFile(router: Record<string, unknown>, extra: Record<string, unknown> = {}): { file: string; stateDir: string } {
      const dir = mkdtempSync(join(tmpdir(), "wanctl-routeros-"));
      dirs.push(dir);
      writeFileSync(join(dir, "router-password"), "s3cret\n", { mode: 0o600 });
      const config = {
        stateDir: join(dir, "state"),
        links: [
          { name: "wan1", interface: "wan1", gateway: "198.51.100.9", priority: 1, publicIp: { method: "interface" } },
          { name: "wan2", interface: "wan2", gateway: "100.64.0.1", priority: 2, publicIp: { method: "http", urls: [`http://${SERVICES.http}:8080/`] } },
        ],
        monitor: { targets: [SERVICES.probe1, SERVICES.probe2, SERVICES.probe3].map((host) => ({ type: "icmp", host })) },
        route: {
          backend: "routeros",
          router: { host: "192.168.50.1", user: "wanctl", password: { file: join(dir, "router-password") }, ...router },
          links: { wan2: { probeVia: "routing-table", routingTable: "via-wan2" } },
        },
        ...extra,
      };
      const file = join(dir, "config.json");
      writeFileSync(file, JSON.stringify(config, null, 2));
      chmodSync(file, 0o600);
      return { file, stateDir: join(dir, "state") };
    }

    const wanctl = (args: string[]) => lab.exec("pbx", [process.execPath, wanctlBin, ...args], { timeoutMs: 60_000 });

    test("wanctl router check from the PBX host, over the API: the router is ready", async () => {
      const r = await wanctl(["router", "check", "-c", configFile({ transport: "api", port: listening.api }).file]);
      expect(r.stdout).toContain("ok: logged in to 192.168.50.1:8728 over api as wanctl: RouterOS 7.18.2 (stable)");
      expect(r.stdout).toMatch(/ok: wan1: \/ping 192\.0\.2\.1 interface=wan1 answered in [\d.]+ ms/);
      expect(r.stdout).toMatch(/ok: wan2: \/ping 192\.0\.2\.1 routing-table=via-wan2 answered in [\d.]+ ms/);
      expect(r.stdout).toContain(`ok: wan2: the router fetched http://${SERVICES.http}:8080/ through the link: 203.0.113.10`);
      expect(r.stdout).toMatch(/the router is ready for wanctl\n$/);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    });

    test("wanctl ip from the PBX host, over REST: wan1's address on the router, wan2's from an echo the router fetched through wan2", async () => {
      const r = await wanctl(["ip", "-c", configFile({ transport: "rest", port: listening.rest, tls: { fingerprint: listening.fingerprint } }).file]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^\* wan1 +198\.51\.100\.10 /m);
      expect(r.stdout).toMatch(/^ {2}wan2 +203\.0\.113\.10 /m); // isp2's carrier-NAT address, not the router's 100.64.0.2
    });

    test("wanctl run on the PBX host: the router's pings see wan1 cut, the office moves to wan2 through the router, and back after the hold-down", async () => {
      const { file, stateDir } = configFile({ transport: "api", port: listening.api }, { failover: { holdDownSeconds: 2 } });
      const daemon = lab.spawn("pbx", [process.execPath, wanctlBin, "run", "--config", file]);
      try {
        const up = (s: Parameters<typeof switchedTo>[0]) => s.active === "wan1" && s.links.every((l) => l.state === "up");
        await waitForStatus(stateDir, "both links up, on wan1", up, 20_000, daemon);
        await lab.cut("wan1");
        const after = await waitForStatus(stateDir, "switched to wan2", (s) => switchedTo(s, "wan2"), 20_000, daemon);
        expect(after.lastSwitch?.steps.find((st) => st.step === "route")?.ok).toBe(true);
        // Without DNS records or Asterisk in this config, the switch is the route and the router's connections.
        expect(after.lastSwitch?.steps.map((st) => [st.step, st.ok])).toEqual([
          ["route", true],
          ["conntrack", true],
        ]);
        expect(await lab.defaultRouteLink()).toBe("wan2");
        expect(await askPublicAddress(lab, "pbx", { to: SERVICES.probe1 })).toBe("203.0.113.10");
        await lab.heal("wan1");
        await waitForStatus(stateDir, "back on wan1 after the hold-down", (s) => switchedTo(s, "wan1"), 30_000, daemon);
        expect(await lab.defaultRouteLink()).toBe("wan1");
      } finally {
        await daemon.stop();
        await lab.heal("wan1");
      }
    });
  });
});
