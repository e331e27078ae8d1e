// The chan_sip side of the PBX adapter on the lab: the real Asterisk 20's chan_sip trunk (port 5062)
// registers with Kamailio in `inet`; the office moves from wan1 to wan2 and back. One move is one
// `sip reload`, so the ITSP gets ONE REGISTER per trunk, with the new Contact and the right expiry.
// chan_sip cannot unregister an outbound registration: the binding at the old address stays until
// it expires at the ITSP, which this suite shows rather than hides.
//
// Assertions are about what arrived where (sources, Contact, Expires); never about how long it took.

import { afterAll, beforeAll, expect, test } from "vitest";

import { createPbx, type Pbx, type SavedTrunkSettings } from "../../src/asterisk/pbx/index.js";
import { asterisk as asteriskSchema } from "../../src/config/schema/asterisk.js";
import { AMI_SECRET, AMI_USER, asteriskAvailability, type LabAsterisk, startAsterisk } from "../lab/asterisk.js";
import { LINK_PLAN, type Lab, type LinkId } from "../lab/index.js";
import { type Itsp, type ItspContact, startItsp } from "../lab/kamailio.js";
import { describeLab, useLab } from "../lab/vitest.js";

const WAN1 = LINK_PLAN.wan1.publicAddress;
const WAN2 = LINK_PLAN.wan2.publicAddress;
const SHORT = 120;
const KEY = "office2@192.0.2.60:5060/office2";

/** What the pipeline's route and conntrack steps do before the PBX moves. */
async function switchTo(lab: Lab, link: LinkId): Promise<void> {
  await lab.setDefaultRoute(link);
  for (const dir of ["--orig-port-src", "--orig-port-dst"]) await lab.exec("office", ["conntrack", "-D", "-p", "udp", dir, "5062"]);
}

async function bindingsUntil(itsp: Itsp, check: (contacts: ItspContact[]) => boolean, what: string): Promise<ItspContact[]> {
  let last: ItspContact[] = [];
  for (let i = 0; i < 100; i++) {
    last = (await itsp.contacts()).filter((c) => c.aor === "office2");
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Kamailio's location never showed ${what}; it has ${JSON.stringify(last)}`);
}

describeLab(
  "PBX adapter, chan_sip, on the lab: one reload and one REGISTER per move (real Asterisk 20, Kamailio as the ITSP)",
  () => {
    const lab = useLab();
    let itsp: Itsp;
    let labAsterisk: LabAsterisk;
    let pbx: Pbx;
    let saved: SavedTrunkSettings | undefined;

    beforeAll(async () => {
      itsp = await startItsp(lab);
      labAsterisk = await startAsterisk(lab, { trunks: { pjsip: 0, chanSip: 1 } });
      pbx = createPbx(
        asteriskSchema.parse({
          ami: { host: "127.0.0.1", port: labAsterisk.amiPort, username: AMI_USER, secret: "see-options" },
          channelDriver: "chan_sip",
          chanSip: {},
          shortExpirySeconds: SHORT,
        }),
        { secret: AMI_SECRET },
      );
      await bindingsUntil(itsp, (cs) => cs.some((c) => c.received === `sip:${WAN1}:5062`), `a binding from ${WAN1}`);
    });

    afterAll(async () => {
      await pbx?.close();
      await labAsterisk?.stop();
      await itsp?.stop();
    });

    test("failover to wan2: externip and the short expiry in one reload, one REGISTER from 203.0.113.10", async () => {
      await switchTo(lab, "wan2");
      const seen = itsp.requests().length;
      const moved = await pbx.moveTo(WAN2, { shortExpirySeconds: SHORT });
      expect(moved.ok, moved.detail).toBe(true);
      expect(moved.data?.address.targets[0]?.live).toEqual({ externaddr: WAN2 });
      expect(moved.data?.trunks.trunks).toEqual([expect.objectContaining({ name: KEY, ok: true, status: "Registered", expirySeconds: SHORT })]);
      expect(moved.data?.unregistered).toEqual([]);
      saved = moved.data?.trunks.saved;
      expect(saved).toEqual({ driver: "chan_sip", file: "sip.conf", registers: [{ key: KEY, expiry: "3600" }] });
      expect(labAsterisk.fileText("sip.conf")).toMatch(/register => office2:secret@192\.0\.2\.60:5060\/office2~120/);
      expect(moved.detail).not.toContain(":secret@");

      const registers = itsp.requests().slice(seen).filter((r) => r.method === "REGISTER");
      expect(registers.map((r) => [r.source, r.contact, r.expires])).toEqual([[`${WAN2}:5062`, `<sip:office2@${WAN2}:5062>`, SHORT]]);
      await bindingsUntil(itsp, (cs) => cs.some((c) => c.received === `sip:${WAN2}:5062` && c.expiresIn <= SHORT), `a binding from ${WAN2}`);
      // What chan_sip cannot do: the binding at wan1's address stays until it expires at the ITSP.
      const stale = (await itsp.contacts()).find((c) => c.address === `sip:office2@${WAN1}:5062`);
      expect(stale?.expiresIn).toBeGreaterThan(SHORT);
    });

    test("failback to wan1: the line's own expiry returns, one REGISTER from 198.51.100.10", async () => {
      expect(saved).toBeDefined();
      await switchTo(lab, "wan1");
      const seen = itsp.requests().length;
      const back = await pbx.moveTo(WAN1, { restore: saved! });
      expect(back.ok, back.detail).toBe(true);
      expect(back.data?.trunks.trunks[0]).toMatchObject({ name: KEY, status: "Registered", expirySeconds: 3600 });
      expect(labAsterisk.fileText("sip.conf")).toMatch(/register => office2:secret@192\.0\.2\.60:5060\/office2~3600/);
      const registers = itsp.requests().slice(seen).filter((r) => r.method === "REGISTER");
      expect(registers.map((r) => [r.source, r.contact, r.expires])).toEqual([[`${WAN1}:5062`, `<sip:office2@${WAN1}:5062>`, 3600]]);
    });
  },
  [asteriskAvailability],
);
