// The RouterOS backend in the lab: the fake MikroTik *is* the office (its routes, pings, fetches
// and connection removals go to the office namespace), so a switch really moves the PBX's
// traffic, the lab's cuts really cut what the router's /ping sees, and a stale SIP mapping is
// really gone from the kernel. Then the fake runs as a process on the office's LAN address and
// the real CLI, in the pbx namespace as on an Asterisk host, checks the router, learns each link's
// public address through it, and runs the daemon through the whole scenario: cut → route → DNS →
// Asterisk → trunks → failback.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createLinkHealth, recordRound, type LinkHealth } from "../../src/wan/health.js";
import { RouterPingProbe } from "../../src/wan/probes/routeros-ping.js";
import type { RouterOsRouteBackend } from "../../src/wan/route/routeros/backend.js";
import { AMI_SECRET, AMI_USER, fixtureConfigFiles } from "../asterisk/sim/harness.js";
import { startSimInLab, type LabSim } from "../asterisk/sim/lab.js";
import { startBind, type Bind } from "../lab/bind.js";
import { contactFrom, startItsp, type Itsp } from "../lab/kamailio.js";
import { switchedTo, waitForStatus, wanctlBin, wanctlCommand } from "../lab/daemon-harness.js";
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

const WAN1 = "198.51.100.10";
const WAN2 = "203.0.113.10"; // isp2's carrier NAT
const SHORT = 120;

/** The ITSP's binding from `ip`, polled (bounded). */
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

    test("wanctl run on the PBX host: cut wan1 → the router's pings see it → route through the router → DNS → Asterisk → trunks on wan2, and all back after the hold-down", async () => {
      const secret = randomBytes(32).toString("base64");
      const itsp: Itsp = await startItsp(lab);
      const files = fixtureConfigFiles();
      delete files["sip.conf"]; // PJSIP only
      const sim: LabSim = await startSimInLab(lab, { files, sipTimers: { timeoutMs: 8_000 } });
      const bind: Bind = await startBind(lab, { secret, records: { office: WAN1 } });
      let daemon: LabProcess | undefined;
      try {
        await contactFrom(itsp, WAN1); // the PBX registered through the router's wan1 before anything happens
        const { file, stateDir } = configFile(
          { transport: "api", port: listening.api },
          {
            failover: { holdDownSeconds: 3 },
            dns: {
              providers: [{ id: "bind", type: "rfc2136", server: SERVICES.dns, zone: "example.com", tsig: { name: "wanctl-key", secret } }],
              records: [{ name: "office.example.com", provider: "bind", ttl: 60 }],
            },
            // wanctl runs on the PBX host itself: AMI on loopback.
            asterisk: { ami: { host: "127.0.0.1", port: 5038, username: AMI_USER, secret: AMI_SECRET }, pjsip: { transports: ["transport-udp"] }, shortExpirySeconds: SHORT },
          },
        );
        daemon = lab.spawn("pbx", [...wanctlCommand(), "run", "--config", file]);
        await waitForStatus(stateDir, "both links up, on wan1", (st) => st.active === "wan1" && st.links.every((l) => l.state === "up"), 20_000, daemon);

        await lab.cut("wan1");
        const after = await waitForStatus(stateDir, "switched to wan2", (st) => switchedTo(st, "wan2"), 30_000, daemon);
        expect(after.lastSwitch!.steps.map((st) => st.step)).toEqual(["route", "conntrack", "public-ip", "dns", "asterisk", "trunks"]);
        expect(after.lastSwitch!.ok, JSON.stringify(after.lastSwitch, null, 1)).toBe(true);
        // wan2's address from the echo the router fetched through wan2.
        expect(after.lastSwitch!.steps.find((st) => st.step === "public-ip")!.detail).toMatch(/^203\.0\.113\.10 /);
        expect(await lab.defaultRouteLink()).toBe("wan2");
        expect(await bind.digA("office.example.com")).toEqual([WAN2]);
        expect(sim.fileText("pjsip.conf")).toMatch(/external_signaling_address *= *203\.0\.113\.10/);
        const contact = await contactFrom(itsp, WAN2); // the trunk's REGISTER left through wan2: its stale mapping was removed on the router
        expect(contact.expiresIn).toBeLessThanOrEqual(SHORT);
        for (const step of after.lastSwitch!.steps) console.log(`routeros failover step ${step.step}: ${Math.round(step.durationMs)} ms, ${step.detail}`);

        await lab.heal("wan1");
        const back = await waitForStatus(stateDir, "back on wan1 after the hold-down", (st) => switchedTo(st, "wan1") && st.lastSwitch?.kind === "failback", 30_000, daemon);
        expect(back.lastSwitch!.ok, JSON.stringify(back.lastSwitch, null, 1)).toBe(true);
        expect(await lab.defaultRouteLink()).toBe("wan1");
        expect(await bind.digA("office.example.com")).toEqual([WAN1]);
        await contactFrom(itsp, WAN1, (c) => c.expiresIn > SHORT);
        expect(sim.fileText("pjsip.conf")).toMatch(/expiration *= *3600/);
      } finally {
        await daemon?.stop();
        await sim.stop();
        await itsp.stop();
        await bind.stop();
        await lab.heal("wan1");
      }
    });
  });
});
