// The whole point of wanctl, end to end: the real `wanctl run` in the lab's office, the real
// Asterisk 20 behind the office's NAT (PJSIP trunk), Kamailio as the ITSP, BIND for the DNS name. A cut of wan1 must leave the trunk
// registered through wan2 with the short expiry and Asterisk advertising wan2's public address; the
// way back must restore both. Assertions are about what arrived where, never about time.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { AMI_SECRET, AMI_USER, asteriskAvailability, type LabAsterisk, startAsterisk } from "../lab/asterisk.js";
import { randomBytes } from "node:crypto";
import { startBind, type Bind } from "../lab/bind.js";
import { LINK_PLAN, SERVICES, type LabProcess } from "../lab/index.js";
import { startDaemon, switchedTo, waitForStatus, wanctlBin } from "../lab/daemon-harness.js";
import { startItsp, type Itsp, type ItspContact } from "../lab/kamailio.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { labConfig, writeLabConfig } from "../lab/wanctl-config.js";

const WAN1 = LINK_PLAN.wan1.publicAddress;
const WAN2 = LINK_PLAN.wan2.publicAddress;
const SHORT = 120;
const TSIG_SECRET = randomBytes(32).toString("base64");

async function contactFrom(itsp: Itsp, ip: string, check: (c: ItspContact) => boolean = () => true): Promise<ItspContact> {
  let last: ItspContact[] = [];
  for (let i = 0; i < 100; i++) {
    last = await itsp.contacts();
    const found = last.find((c) => c.received === `sip:${ip}:5060` && check(c));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no contact registered from ${ip}; Kamailio has ${JSON.stringify(last)}`);
}

describeLab("DNS and phones follow the failover (wanctl run + BIND + Asterisk 20 + Kamailio)", () => {
  const lab = useLab();
  let itsp: Itsp;
  let labAsterisk: LabAsterisk;
  let daemon: LabProcess;
  let dir = "";
  let stateDir = "";
  let configFile = "";
  let bind: Bind;

  beforeAll(async () => {
    itsp = await startItsp(lab);
    labAsterisk = await startAsterisk(lab, { trunks: { chanSip: 0 } });
    await contactFrom(itsp, WAN1);
    const config = labConfig("");
    config.failover = { holdDownSeconds: 3 };
    bind = await startBind(lab, { secret: TSIG_SECRET, records: { office: WAN1 } });
    config.dns = {
      providers: [{ id: "bind", type: "rfc2136", server: SERVICES.dns, zone: "example.com", tsig: { name: "wanctl-key", secret: TSIG_SECRET } }],
      records: [{ name: "office.example.com", provider: "bind", ttl: 60 }],
    };
    config.asterisk = {
      ami: { host: "192.168.50.10", port: 5038, username: AMI_USER, secret: AMI_SECRET },
      pjsip: { transports: ["transport-udp"] },
      shortExpirySeconds: SHORT,
    };
    ({ file: configFile, dir } = writeLabConfig(config));
    stateDir = join(dir, "state");
    daemon = startDaemon(lab, configFile);
    await waitForStatus(stateDir, "both links up on wan1", (s) => s.active === "wan1" && s.links.every((l) => l.state === "up"), 20_000, daemon);
  });

  afterAll(async () => {
    await daemon?.stop();
    await labAsterisk?.stop();
    await itsp?.stop();
    await bind?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("failover: the trunk registers through wan2 at once, short expiry, wan2's address in Asterisk", async () => {
    await lab.cut("wan1");
    const status = await waitForStatus(stateDir, "failover report", (s) => switchedTo(s, "wan2"), 30_000, daemon);
    const steps = Object.fromEntries(status.lastSwitch!.steps.map((s) => [s.step, s]));
    expect(Object.keys(steps)).toEqual(["route", "conntrack", "public-ip", "dns", "asterisk", "trunks"]);
    expect(status.lastSwitch!.ok, JSON.stringify(status.lastSwitch, null, 1)).toBe(true);
    expect(steps["public-ip"]!.detail).toContain(WAN2);
    expect(steps.dns!.detail).toBe("office.example.com updated");
    expect(await bind.digA("office.example.com")).toEqual([WAN2]);
    const contact = await contactFrom(itsp, WAN2);
    expect(contact.expiresIn).toBeLessThanOrEqual(SHORT);
    // The ITSP keeps no binding at the dead link's address (inbound calls would go there).
    expect((await itsp.contacts()).filter((c) => c.address.includes(`@${WAN1}:`))).toEqual([]);
    expect(labAsterisk.fileText("pjsip.conf")).toMatch(new RegExp(`external_signaling_address *= *${WAN2.replace(/\./g, "\\.")}`));
    // The trunk's own expiry and wan1's transport settings were written down before anything changed them.
    const { value: baseline } = JSON.parse(readFileSync(join(stateDir, "baseline.json"), "utf8"));
    expect(baseline.trunks.pjsip.registrations.itsp).toEqual({ expiration: "3600", max_random_initial_delay: "1" });
    expect(baseline.transports.pjsip.transports["transport-udp"]).toEqual({ external_media_address: WAN1, external_signaling_address: WAN1 });
    for (const step of status.lastSwitch!.steps) console.log(`failover step ${step.step}: ${Math.round(step.durationMs)} ms, ${step.detail}`);
  });

  test("failback after the hold-down: wan1's address and the original expiry return", async () => {
    await lab.heal("wan1");
    const status = await waitForStatus(stateDir, "failback report", (s) => switchedTo(s, "wan1") && s.lastSwitch?.kind === "failback", 30_000, daemon);
    expect(status.lastSwitch!.ok, JSON.stringify(status.lastSwitch, null, 1)).toBe(true);
    await contactFrom(itsp, WAN1, (c) => c.expiresIn > SHORT);
    expect((await itsp.contacts()).filter((c) => c.address.includes(`@${WAN2}:`))).toEqual([]);
    expect(await bind.digA("office.example.com")).toEqual([WAN1]);
    expect(labAsterisk.fileText("pjsip.conf")).toMatch(new RegExp(`external_media_address *= *${WAN1.replace(/\./g, "\\.")}`));
    expect(labAsterisk.fileText("pjsip.conf")).toMatch(/expiration *= *3600/);
    const state = JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8"));
    expect(state.journal.map((r: { status: string }) => r.status)).not.toContain("repairing");
  });

  test("wanctl test: a drill to wan2 and back proves every step, and leaves the office as it was", async () => {
    const result = await lab.exec("office", [process.execPath, wanctlBin, "test", "--config", configFile], { timeoutMs: 120_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^drill: wan1 → wan2 → back/m);
    for (const step of ["route", "conntrack", "public-ip", "dns", "asterisk", "trunks"]) {
      expect(result.stdout.match(new RegExp(`^  ok +${step} `, "gm"))?.length, step).toBe(2);
    }
    expect(result.stdout).toMatch(/itsp Registered after \d+ ms \(expiry 120 s\)/);
    expect(result.stdout).toMatch(/^drill PASSED in \d+ ms$/m);
    // As it was: on wan1, the DNS name, Asterisk and the trunk with wan1's address and expiry.
    const status = await waitForStatus(stateDir, "back on wan1", (s) => switchedTo(s, "wan1"), 10_000, daemon);
    expect(status.trunksShortened).toBe(false);
    expect(await bind.digA("office.example.com")).toEqual([WAN1]);
    await contactFrom(itsp, WAN1, (c) => c.expiresIn > SHORT);
  });

  test("an AMI that is down fails only its steps, clearly, and they are retried until they work", async () => {
    await labAsterisk.stop();
    await lab.cut("wan1");
    const failed = await waitForStatus(stateDir, "failover with AMI down", (s) => switchedTo(s, "wan2"), 60_000, daemon);
    const steps = Object.fromEntries(failed.lastSwitch!.steps.map((s) => [s.step, s]));
    expect(steps.route!.ok).toBe(true);
    expect(steps["public-ip"]!.ok).toBe(true);
    expect(steps.dns!.ok).toBe(true); // not blocked by Asterisk being down
    expect(steps.asterisk).toMatchObject({ ok: false });
    expect(steps.asterisk!.detail).toMatch(/192\.168\.50\.10:5038/);
    expect(steps.asterisk!.detail).not.toContain(AMI_SECRET);
    expect(steps.trunks).toMatchObject({ ok: false, skipped: true });
    expect(JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")).journal.at(-1)).toMatchObject({ to: "wan2", status: "repairing" });
    const pending = await waitForStatus(stateDir, "pending steps in the status", (s) => Boolean(s.pending), 10_000, daemon);
    expect(pending.pending).toMatchObject({ link: "wan2", steps: ["asterisk", "trunks"] });

    // Asterisk comes back: the retry finishes the job without moving the office.
    labAsterisk = await startAsterisk(lab, { trunks: { chanSip: 0 } });
    const repaired = await waitForStatus(stateDir, "repair of asterisk and trunks", (s) => s.lastSwitch?.ok === true && s.lastSwitch.to === "wan2", 60_000, daemon);
    // The repair converges: DNS is checked again and found as it should be; Asterisk and the trunks are mended.
    const repairedSteps = Object.fromEntries(repaired.lastSwitch!.steps.map((s) => [s.step, s]));
    expect(Object.keys(repairedSteps)).toEqual(["route", "conntrack", "public-ip", "dns", "asterisk", "trunks"]);
    expect(repairedSteps.dns).toMatchObject({ ok: true, changed: false });
    expect(repairedSteps.trunks).toMatchObject({ ok: true, changed: true });
    expect(repaired.active).toBe("wan2");
    await contactFrom(itsp, WAN2);
    expect(JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")).journal.at(-1)).toMatchObject({ to: "wan2", status: "done" });
    expect((await waitForStatus(stateDir, "nothing pending", (s) => !s.pending, 10_000, daemon)).trunksShortened).toBe(true);
  });
}, [asteriskAvailability]);

// The same for an office on chan_sip: one reload and one REGISTER per switch, with the right Contact
// and expiry. (chan_sip cannot unregister: the binding at the old address stays until it expires.)
describeLab(
  "phones follow the failover on chan_sip (wanctl run + Asterisk 20 + Kamailio)",
  () => {
    const lab = useLab();
    let itsp: Itsp;
    let labAsterisk: LabAsterisk;
    let daemon: LabProcess;
    let dir = "";
    let stateDir = "";

    beforeAll(async () => {
      itsp = await startItsp(lab);
      labAsterisk = await startAsterisk(lab, { trunks: { pjsip: 0, chanSip: 1 } });
      const config = labConfig("");
      config.failover = { holdDownSeconds: 3 };
      config.asterisk = {
        ami: { host: "192.168.50.10", port: 5038, username: AMI_USER, secret: AMI_SECRET },
        channelDriver: "chan_sip",
        chanSip: {},
        shortExpirySeconds: SHORT,
      };
      let configFile: string;
      ({ file: configFile, dir } = writeLabConfig(config));
      stateDir = join(dir, "state");
      daemon = startDaemon(lab, configFile);
      await waitForStatus(stateDir, "both links up on wan1", (s) => s.active === "wan1" && s.links.every((l) => l.state === "up"), 20_000, daemon);
    });

    afterAll(async () => {
      await daemon?.stop();
      await labAsterisk?.stop();
      await itsp?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const registersFrom = (since: number) => itsp.requests().filter((r) => r.at >= since && r.method === "REGISTER").map((r) => [r.source, r.contact, r.expires]);

    test("failover: one REGISTER from wan2 with the short expiry; failback: one from wan1 with the line's own", async () => {
      const cutAt = Date.now();
      await lab.cut("wan1");
      const over = await waitForStatus(stateDir, "failover report", (s) => switchedTo(s, "wan2"), 30_000, daemon);
      expect(over.lastSwitch!.ok, JSON.stringify(over.lastSwitch, null, 1)).toBe(true);
      expect(registersFrom(cutAt)).toEqual([[`${WAN2}:5062`, `<sip:office2@${WAN2}:5062>`, SHORT]]);
      expect(labAsterisk.fileText("sip.conf")).toMatch(/externip = 203\.0\.113\.10/);

      const healAt = Date.now();
      await lab.heal("wan1");
      const back = await waitForStatus(stateDir, "failback report", (s) => switchedTo(s, "wan1") && s.lastSwitch?.kind === "failback", 30_000, daemon);
      expect(back.lastSwitch!.ok, JSON.stringify(back.lastSwitch, null, 1)).toBe(true);
      expect(registersFrom(healAt)).toEqual([[`${WAN1}:5062`, `<sip:office2@${WAN1}:5062>`, 3600]]);
      expect(labAsterisk.fileText("sip.conf")).toMatch(/register => office2:secret@192\.0\.2\.60:5060\/office2~3600/);
    });
  },
  [asteriskAvailability],
);
