// PJSIP and chan_sip together (issue 13): the real `wanctl run` with the default channelDriver
// ("auto"), the lab's real Asterisk 20 with a PJSIP trunk (port 5060) and a chan_sip trunk (5062),
// Kamailio as the ITSP. wanctl asks Asterisk which drivers it has loaded (ModuleCheck) and moves
// both on a cut: each trunk's REGISTER reaches the ITSP from wan2's address with the short expiry,
// and each driver is reloaded once; the failback puts both back. Assertions are about what arrived
// where and what Asterisk logged, never about time.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { AMI_SECRET, AMI_USER, asteriskAvailability, type LabAsterisk, startAsterisk } from "../lab/asterisk.js";
import { LINK_PLAN, type LabProcess } from "../lab/index.js";
import { startDaemon, switchedTo, waitForStatus } from "../lab/daemon-harness.js";
import { type Itsp, type ItspContact, type ItspRequest, startItsp } from "../lab/kamailio.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { labConfig, writeLabConfig } from "../lab/wanctl-config.js";

const WAN1 = LINK_PLAN.wan1.publicAddress;
const WAN2 = LINK_PLAN.wan2.publicAddress;
const SHORT = 120;
const PJSIP_PORT = 5060;
const CHAN_SIP_PORT = 5062;

/** Until Kamailio holds a binding of `aor` registered from ip:port that passes `check` (bounded). */
async function bindingFrom(itsp: Itsp, aor: string, ip: string, port: number, check: (c: ItspContact) => boolean = () => true): Promise<ItspContact> {
  let last: ItspContact[] = [];
  for (let i = 0; i < 150; i++) {
    last = await itsp.contacts();
    const found = last.find((c) => c.aor === aor && c.received === `sip:${ip}:${port}` && check(c));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no binding of ${aor} registered from ${ip}:${port}; Kamailio has ${JSON.stringify(last)}`);
}

/** The REGISTERs since `from`, per driver (by the PBX's source port), as [source, Contact, Expires]. */
function registersSince(itsp: Itsp, from: number, port: number): Array<[string, string, number | null]> {
  return itsp
    .requests()
    .slice(from)
    .filter((r: ItspRequest) => r.method === "REGISTER" && r.source.endsWith(`:${port}`))
    .map((r) => [r.source, r.contact.replace(/;.*$/, ""), r.expires]);
}

/** How often Asterisk's log says each driver was reloaded (loader.c for res_pjsip.so, chan_sip's monitor for `sip reload`). */
function reloads(asterisk: LabAsterisk): { pjsip: number; chanSip: number } {
  const log = asterisk.log();
  return { pjsip: log.match(/Reloading module 'res_pjsip\.so'/g)?.length ?? 0, chanSip: log.match(/Reloading SIP$/gm)?.length ?? 0 };
}

describeLab(
  "PJSIP and chan_sip together: the default config moves both drivers' trunks (wanctl run + Asterisk 20 + Kamailio)",
  () => {
    const lab = useLab();
    let itsp: Itsp;
    let labAsterisk: LabAsterisk;
    let daemon: LabProcess;
    let dir = "";
    let stateDir = "";

    beforeAll(async () => {
      itsp = await startItsp(lab);
      labAsterisk = await startAsterisk(lab); // one PJSIP trunk (office), one chan_sip trunk (office2)
      await bindingFrom(itsp, "office", WAN1, PJSIP_PORT);
      await bindingFrom(itsp, "office2", WAN1, CHAN_SIP_PORT);
      const config = labConfig("");
      config.failover = { holdDownSeconds: 3 };
      // The default channelDriver ("auto"): no driver named.
      config.asterisk = {
        ami: { host: "192.168.50.10", port: 5038, username: AMI_USER, secret: AMI_SECRET },
        pjsip: { transports: ["transport-udp"] },
        shortExpirySeconds: SHORT,
      };
      let configFile: string;
      ({ file: configFile, dir } = writeLabConfig(config));
      stateDir = join(dir, "state");
      daemon = startDaemon(lab, configFile);
      await waitForStatus(stateDir, "both links up on wan1", (s) => s.active === "wan1" && s.links.every((l) => l.state === "up") && !s.switching, 20_000, daemon);
    });

    afterAll(async () => {
      await daemon?.stop();
      await labAsterisk?.stop();
      await itsp?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("failover: both trunks register from wan2's address with the short expiry, one reload per driver", async () => {
      const seen = itsp.requests().length;
      const before = reloads(labAsterisk);
      await lab.cut("wan1");
      const status = await waitForStatus(stateDir, "failover report", (s) => switchedTo(s, "wan2"), 30_000, daemon);
      expect(status.lastSwitch!.ok, JSON.stringify(status.lastSwitch, null, 1)).toBe(true);
      const steps = Object.fromEntries(status.lastSwitch!.steps.map((s) => [s.step, s]));
      expect(steps.asterisk!.detail).toMatch(/^PJSIP: .*; chan_sip: /);
      expect(steps.trunks!.detail).toMatch(/^PJSIP: itsp Registered after \d+ ms \(expiry 120 s\); chan_sip: office2@192\.0\.2\.60:5060\/office2 Registered after \d+ ms \(expiry 120 s/);

      // PJSIP: the old binding removed first (its un-REGISTER carries wan1's Contact), then one REGISTER; all through wan2.
      expect(registersSince(itsp, seen, PJSIP_PORT)).toEqual([
        [`${WAN2}:${PJSIP_PORT}`, `<sip:office@${WAN1}:${PJSIP_PORT}>`, 0],
        [`${WAN2}:${PJSIP_PORT}`, `<sip:office@${WAN2}:${PJSIP_PORT}>`, SHORT],
      ]);
      // chan_sip: one REGISTER with the new Contact (it cannot unregister the old one).
      expect(registersSince(itsp, seen, CHAN_SIP_PORT)).toEqual([[`${WAN2}:${CHAN_SIP_PORT}`, `<sip:office2@${WAN2}:${CHAN_SIP_PORT}>`, SHORT]]);
      expect((await bindingFrom(itsp, "office", WAN2, PJSIP_PORT)).expiresIn).toBeLessThanOrEqual(SHORT);
      expect((await bindingFrom(itsp, "office2", WAN2, CHAN_SIP_PORT)).expiresIn).toBeLessThanOrEqual(SHORT);
      expect(reloads(labAsterisk)).toEqual({ pjsip: before.pjsip + 1, chanSip: before.chanSip + 1 });

      expect(labAsterisk.fileText("pjsip.conf")).toMatch(new RegExp(`external_signaling_address *= *${WAN2.replace(/\./g, "\\.")}`));
      expect(labAsterisk.fileText("sip.conf")).toMatch(new RegExp(`externip *= *${WAN2.replace(/\./g, "\\.")}`));
      // Each driver's own settings written down under its own name.
      const { value: baseline } = JSON.parse(readFileSync(join(stateDir, "baseline.json"), "utf8"));
      expect(baseline.trunks.pjsip.registrations.itsp).toEqual({ expiration: "3600", max_random_initial_delay: "1" });
      expect(baseline.trunks.chan_sip.registers).toEqual([{ key: "office2@192.0.2.60:5060/office2", expiry: "3600" }]);
      for (const step of status.lastSwitch!.steps) console.log(`failover step ${step.step}: ${Math.round(step.durationMs)} ms, ${step.detail}`);
    });

    test("failback after the hold-down: both trunks register from wan1's address with their own expiry, one reload per driver", async () => {
      const seen = itsp.requests().length;
      const before = reloads(labAsterisk);
      await lab.heal("wan1");
      const status = await waitForStatus(stateDir, "failback report", (s) => switchedTo(s, "wan1") && s.lastSwitch?.kind === "failback", 30_000, daemon);
      expect(status.lastSwitch!.ok, JSON.stringify(status.lastSwitch, null, 1)).toBe(true);
      expect(registersSince(itsp, seen, PJSIP_PORT)).toEqual([
        [`${WAN1}:${PJSIP_PORT}`, `<sip:office@${WAN2}:${PJSIP_PORT}>`, 0],
        [`${WAN1}:${PJSIP_PORT}`, `<sip:office@${WAN1}:${PJSIP_PORT}>`, 3600],
      ]);
      expect(registersSince(itsp, seen, CHAN_SIP_PORT)).toEqual([[`${WAN1}:${CHAN_SIP_PORT}`, `<sip:office2@${WAN1}:${CHAN_SIP_PORT}>`, 3600]]);
      expect(reloads(labAsterisk)).toEqual({ pjsip: before.pjsip + 1, chanSip: before.chanSip + 1 });
      expect(labAsterisk.fileText("pjsip.conf")).toMatch(/expiration *= *3600/);
      expect(labAsterisk.fileText("sip.conf")).toMatch(/register => office2:secret@192\.0\.2\.60:5060\/office2~3600/);
      expect(labAsterisk.fileText("sip.conf")).toMatch(new RegExp(`externip *= *${WAN1.replace(/\./g, "\\.")}`));
    });
  },
  [asteriskAvailability],
);
