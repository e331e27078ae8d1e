// Link monitoring and route failover, end to end: the real `wanctl run` in the lab's office
// gateway, real probes, real routes and conntrack. Timings are printed, never asserted.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startEchoJitter } from "../lab/echo-jitter.js";
import { startEchoServer, type EchoServer, type LabProcess } from "../lab/index.js";
import { currentStatus, linkState, startDaemon, routeChangedAt, switchedTo, waitForStatus, wanctlBin } from "../lab/daemon-harness.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { labConfig, writeLabConfig } from "../lab/wanctl-config.js";

/** Per-direction loss that makes a round trip lose 20 %: 1 − (1 − p)² = 0.2. */
const LOSS_EACH_WAY_FOR_20_PCT = 100 * (1 - Math.sqrt(0.8));
const HOLD_DOWN_SECONDS = 4;

// The PBX keeps a SIP flow (5060 ↔ registrar:5060) and an unrelated UDP flow alive, as a real
// trunk's keep-alives do. Bounded: 1200 sends at 100 ms.
const PBX_TRAFFIC = `
const dgram = require("node:dgram");
const sip = dgram.createSocket("udp4"); sip.bind(5060);
const other = dgram.createSocket("udp4"); other.bind(40000);
let n = 0;
const t = setInterval(() => {
  sip.send("keepalive " + n, 5060, "192.0.2.60");
  other.send("other " + n, 7777, "192.0.2.1");
  if (++n >= 1200) { clearInterval(t); sip.close(); other.close(); }
}, 100);
`;

describeLab("link monitoring and route failover (wanctl run in the lab)", () => {
  const lab = useLab();
  let dir = "";
  let stateDir = "";
  let configFile = "";
  let daemon: LabProcess;
  let sipServer: EchoServer;
  let otherServer: EchoServer;

  const waitActive = (link: string, why: string, timeoutMs = 15_000) =>
    waitForStatus(stateDir, why, (s) => switchedTo(s, link), timeoutMs, daemon);

  beforeAll(async () => {
    const config = labConfig("");
    config.failover = { holdDownSeconds: HOLD_DOWN_SECONDS };
    ({ file: configFile, dir } = writeLabConfig(config));
    stateDir = join(dir, "state");
    sipServer = await startEchoServer(lab, { addresses: ["192.0.2.60"], port: 5060 });
    otherServer = await startEchoServer(lab, { addresses: ["192.0.2.1"], port: 7777 });
    lab.spawn("pbx", [process.execPath, "-e", PBX_TRAFFIC]);
    daemon = startDaemon(lab, configFile);
    await waitForStatus(stateDir, "both links up on wan1", (s) => s.active === "wan1" && s.links.every((l) => l.state === "up"), 20_000, daemon);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // First in the file: the daemon is young, so its periodic address check (a net, every 60 s)
  // has not run yet; only the kernel's news (ip monitor address) can tell it this soon.
  test("a link's address going away and coming back is followed from the kernel's news, and the link is probed anew", async () => {
    const wan2 = `${lab.links.wan2.address}/${lab.links.wan2.prefixLen}`;
    await lab.run("office", ["ip", "addr", "del", wan2, "dev", "wan2"]);
    try {
      await daemon.waitFor(new RegExp(`wan2's address changed from ${lab.links.wan2.address.replaceAll(".", "\\.")} to none`), 10_000);
    } finally {
      await lab.run("office", ["ip", "addr", "add", wan2, "dev", "wan2"]);
    }
    const status = await waitForStatus(stateDir, "wan2 up from its address again", (s) => linkState(s, "wan2") === "up" && s.links.find((l) => l.name === "wan2")!.lastRound?.answered === 4, 30_000, daemon);
    expect(status.active).toBe("wan1");
    expect(status.switches).toBe(0);
  });

  test("cutting the idle link reports it down and moves nothing", async () => {
    await lab.cut("wan2");
    const status = await waitForStatus(stateDir, "wan2 down", (s) => linkState(s, "wan2") === "down", 10_000, daemon);
    expect(status.active).toBe("wan1");
    expect(status.switches).toBe(0);
    expect(await lab.defaultRouteLink()).toBe("wan1");
    await lab.heal("wan2");
    await waitForStatus(stateDir, "wan2 up again", (s) => linkState(s, "wan2") === "up", 10_000, daemon);
  });

  test("20 % random loss and 50 ms jitter on the active link for 20 s move nothing", async () => {
    await lab.impair("wan1", { lossPct: LOSS_EACH_WAY_FOR_20_PCT });
    // This kernel has no netem: the jitter comes from a user-space echo responder (echo-jitter.ts).
    const jitter = await startEchoJitter(lab, { slowedSources: [lab.links.wan1.publicAddress], delayMs: 50, jitterMs: 50 });
    const soakEnd = Date.now() + 20_000;
    while (Date.now() < soakEnd) {
      const status = currentStatus(stateDir);
      expect(status?.active).toBe("wan1");
      expect(linkState(status!, "wan1")).not.toBe("down");
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const status = currentStatus(stateDir)!;
    const wan1 = status.links.find((l) => l.name === "wan1")!;
    console.log(`soak: wan1 measured ${wan1.lossPct?.toFixed(1)} % loss, ${wan1.jitterMs?.toFixed(1)} ms jitter over the window; switches ${status.switches}`);
    // The impairment was real.
    expect(wan1.lossPct).toBeGreaterThan(0);
    expect(wan1.jitterMs).toBeGreaterThan(10);
    expect(status.switches).toBe(0);
    await jitter.stop();
    await lab.clear("wan1");
  });

  test("cutting the active link moves the default route to wan2 and flushes the UDP flows NATed to wan1", async () => {
    const before = sipServer.seen().length;
    expect(sipServer.seen().at(-1)?.from).toBe("198.51.100.10");
    const cutAt = Date.now();
    await lab.cut("wan1");
    const status = await waitActive("wan2", "failover to wan2");
    expect(await lab.defaultRouteLink()).toBe("wan2");
    const wan1 = status.links.find((l) => l.name === "wan1")!;
    const last = status.lastSwitch!;
    expect(last).toMatchObject({ kind: "failover", from: "wan1", to: "wan2", ok: true });
    const flushed = Number(/(\d+) stale connection-tracking/.exec(last.steps.find((s) => s.step === "conntrack")!.detail)?.[1]);
    expect(flushed).toBeGreaterThanOrEqual(2); // the trunk's flow and the other UDP flow
    const detectMs = Date.parse(wan1.since) - cutAt;
    const routeMs = Math.round(routeChangedAt(status) - cutAt);
    console.log(`hard cut of wan1: detected after ${detectMs} ms, default route on wan2 after ${routeMs} ms, ${flushed} conntrack entries flushed`);

    // Both flows now reach the internet from wan2's public address: their wan1 mappings are gone.
    const otherBefore = otherServer.seen().length;
    const deadline = Date.now() + 5_000;
    const fromWan2 = () =>
      sipServer.seen().slice(before).some((r) => r.from === "203.0.113.10") && otherServer.seen().slice(otherBefore).some((r) => r.from === "203.0.113.10");
    while (Date.now() < deadline && !fromWan2()) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fromWan2()).toBe(true);
  });

  test("restarting wanctl on the backup link keeps it there", async () => {
    await daemon.stop();
    daemon = startDaemon(lab, configFile);
    const status = await waitForStatus(stateDir, "new daemon sees wan2 up", (s) => s.pid === daemon.pid && linkState(s, "wan2") === "up", 15_000, daemon);
    expect(status.active).toBe("wan2");
    expect(await lab.defaultRouteLink()).toBe("wan2");
    expect(status.switches).toBe(0);
  });

  test("healing wan1 moves the office back only after the hold-down", async () => {
    await lab.heal("wan1");
    const up = await waitForStatus(stateDir, "wan1 up", (s) => linkState(s, "wan1") === "up", 15_000, daemon);
    expect(up.active).toBe("wan2"); // not yet: hold-down
    const back = await waitActive("wan1", "failback to wan1", 20_000);
    const wan1UpSince = Date.parse(back.links.find((l) => l.name === "wan1")!.since);
    const failbackAt = Date.parse(back.lastSwitch!.startedAt);
    expect(back.lastSwitch).toMatchObject({ kind: "failback", from: "wan2", to: "wan1", ok: true });
    expect(failbackAt - wan1UpSince).toBeGreaterThanOrEqual(HOLD_DOWN_SECONDS * 1000);
    expect(await lab.defaultRouteLink()).toBe("wan1");
  });

  test("pulling wan1's cable fails over on the carrier, without waiting for probe rounds; plugged back, it fails back after the hold-down", async () => {
    await lab.unplug("wan1");
    const status = await waitActive("wan2", "failover on the carrier");
    expect(status.links.find((l) => l.name === "wan1")!.reason).toBe("carrier lost on wan1 (cable, modem or the ISP's port)");
    expect(status.lastSwitch).toMatchObject({ kind: "failover", from: "wan1", to: "wan2", ok: true });
    await lab.plug("wan1");
    await waitActive("wan1", "failback after the cable is back", 20_000);
  });

  test("a pin survives and wins; auto gives control back", async () => {
    const pin = (args: string[]) => lab.run("office", [process.execPath, wanctlBin, ...args, "--config", configFile]);
    await pin(["use", "wan2"]);
    const pinned = await waitActive("wan2", "manual switch to wan2");
    expect(pinned.lastSwitch?.kind).toBe("manual");
    expect(pinned.pin).toEqual({ mode: "pinned", link: "wan2" });
    await pin(["auto"]);
    await waitActive("wan1", "back to wan1 after the hold-down", 20_000);
  });
});

