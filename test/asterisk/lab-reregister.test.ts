// The PBX adapter on the network lab: Kamailio is the ITSP's registrar in `inet` (192.0.2.60), the
// simulator is the PBX in `pbx` (192.168.50.10 behind the office's static SNAT). The office moves
// from wan1 to wan2 and back; the adapter must make the PBX advertise the new public address and
// the trunk register through the new link at once — with the short expiry on the backup link and
// the original one back on the primary — as Kamailio's location table shows.
//
// Assertions are about what arrived where (sources, Contact, Expires); never about how long it took.

import { afterAll, beforeAll, expect, test } from "vitest";

import { createPbx, type Pbx, type SavedTrunkSettings } from "../../src/asterisk/pbx/index.js";
import { asterisk } from "../../src/config/schema/asterisk.js";
import { LINK_PLAN, type Lab, type LinkId } from "../lab/index.js";
import { type Itsp, type ItspContact, startItsp } from "../lab/kamailio.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { AMI_SECRET, AMI_USER, asteriskAvailability, type LabAsterisk, startAsterisk } from "../lab/asterisk.js";

const WAN1 = LINK_PLAN.wan1.publicAddress; // 198.51.100.10
const WAN2 = LINK_PLAN.wan2.publicAddress; // 203.0.113.10 (isp2's CGNAT)
const SHORT = 120;

/** The route step of the pipeline, done here by hand: default route, then the stale SIP flows. */
async function switchTo(lab: Lab, link: LinkId): Promise<void> {
  await lab.setDefaultRoute(link);
  for (const dir of ["--orig-port-src", "--orig-port-dst"]) {
    // Exit code 1 means "nothing to delete": fine either way.
    await lab.exec("office", ["conntrack", "-D", "-p", "udp", dir, "5060"]);
  }
}

/** Poll Kamailio's location until `check` holds (bounded rounds, no timing assertion). */
async function locationUntil(itsp: Itsp, check: (contacts: ItspContact[]) => boolean, what: string): Promise<ItspContact[]> {
  let last: ItspContact[] = [];
  for (let i = 0; i < 100; i++) {
    last = await itsp.contacts();
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Kamailio's location never showed ${what}; it has ${JSON.stringify(last)}`);
}

const fromAddress = (c: ItspContact, ip: string) => c.received === `sip:${ip}:5060`;

describeLab("PBX adapter on the lab: re-register through the new link (real Asterisk 20, Kamailio as the ITSP)", () => {
  const lab = useLab();
  let itsp: Itsp;
  let labAsterisk: LabAsterisk;
  let pbx: Pbx;
  let saved: SavedTrunkSettings | undefined;

  beforeAll(async () => {
    itsp = await startItsp(lab);
    // PJSIP only: a chan_sip trunk would register too and blur the picture.
    labAsterisk = await startAsterisk(lab, { trunks: { chanSip: 0 } });
    const config = asterisk.parse({
      ami: { host: "127.0.0.1", port: labAsterisk.amiPort, username: AMI_USER, secret: "see-options", timeoutMs: 5000 },
      channelDriver: "pjsip",
      pjsip: { configFile: "pjsip.conf", transports: ["transport-udp"], registrations: "auto" },
      shortExpirySeconds: SHORT,
      registerTimeoutMs: 15000,
    });
    pbx = createPbx(config, { secret: AMI_SECRET });
    // The PBX registers at start, through wan1, as it would have before the failure.
    await locationUntil(itsp, (cs) => cs.some((c) => fromAddress(c, WAN1)), `a contact from ${WAN1}`);
  });

  afterAll(async () => {
    await pbx?.close();
    await labAsterisk?.stop();
    await itsp?.stop();
  });

  test("before: registered from wan1's public address with the configured expiry", async () => {
    const contacts = await itsp.contacts();
    expect(contacts).toEqual([expect.objectContaining({ aor: "office", address: `sip:office@${WAN1}:5060`, received: `sip:${WAN1}:5060` })]);
    expect(contacts[0]!.expiresIn).toBeGreaterThan(SHORT);
    expect(itsp.requests().filter((r) => r.method === "REGISTER").at(-1)).toMatchObject({ source: `${WAN1}:5060`, expires: 3600 });
  });

  test("failover to wan2 in one move: the old binding goes first, then the trunk is Registered from 203.0.113.10 with the short expiry", async () => {
    await switchTo(lab, "wan2");
    const seen = itsp.requests().length;

    const moved = await pbx.moveTo(WAN2, { shortExpirySeconds: SHORT });
    expect(moved.ok, moved.detail).toBe(true);
    expect(moved.data?.address.targets[0]?.live).toEqual({ external_media_address: WAN2, external_signaling_address: WAN2 });
    expect(labAsterisk.fileText("pjsip.conf")).toMatch(new RegExp(`external_signaling_address = ${WAN2.replace(/\./g, "\\.")}`));
    expect(moved.data?.trunks.trunks).toEqual([expect.objectContaining({ name: "itsp", ok: true, status: "Registered", expirySeconds: SHORT })]);
    expect(moved.data?.unregistered).toEqual(["itsp"]);
    saved = moved.data?.trunks.saved;
    expect(saved).toEqual({ driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "3600", max_random_initial_delay: "1" } } });

    // What reached the ITSP, all from wan2's public address: the un-REGISTER of the old Contact, then
    // the REGISTER of the new one with the short expiry, and nothing else.
    const mine = itsp.requests().slice(seen).filter((r) => r.method === "REGISTER");
    expect(mine.every((r) => r.source === `${WAN2}:5060`)).toBe(true);
    expect(mine.map((r) => [r.contact.replace(/;.*$/, ""), r.expires])).toEqual([
      [`<sip:office@${WAN1}:5060>`, 0],
      [`<sip:office@${WAN2}:5060>`, SHORT],
    ]);

    // The location table: one binding, learnt from 203.0.113.10, expiring within the short expiry.
    const contacts = await locationUntil(itsp, (cs) => cs.length === 1 && fromAddress(cs[0]!, WAN2), `only a contact from ${WAN2}`);
    expect(contacts[0]).toMatchObject({ aor: "office", address: `sip:office@${WAN2}:5060`, received: `sip:${WAN2}:5060` });
    expect(contacts[0]!.expiresIn).toBeLessThanOrEqual(SHORT);
    expect(contacts[0]!.expiresIn).toBeGreaterThan(0);
  });

  test("failback to wan1 in one move: the original expiry returns and wan1's is the only binding again", async () => {
    expect(saved).toBeDefined();
    await switchTo(lab, "wan1");
    const seen = itsp.requests().length;

    const back = await pbx.moveTo(WAN1, { restore: saved! });
    expect(back.ok, back.detail).toBe(true);
    expect(back.data?.trunks.trunks[0]).toMatchObject({ name: "itsp", status: "Registered", expirySeconds: 3600 });
    expect(labAsterisk.fileText("pjsip.conf")).toMatch(/expiration = 3600/);
    expect(labAsterisk.fileText("pjsip.conf")).toMatch(/max_random_initial_delay = 1/);

    const mine = itsp.requests().slice(seen).filter((r) => r.method === "REGISTER");
    expect(mine.every((r) => r.source === `${WAN1}:5060`)).toBe(true);
    expect(mine.at(-1)).toMatchObject({ expires: 3600, contact: `<sip:office@${WAN1}:5060>` });
    const contacts = await locationUntil(itsp, (cs) => cs.length === 1 && fromAddress(cs[0]!, WAN1), `only a contact from ${WAN1}`);
    expect(contacts[0]!.expiresIn).toBeGreaterThan(SHORT);
  });

  test("without the conntrack flush the trunk cannot register (stale SNAT, BCP 38): a clear failure, and a retry after the flush succeeds", async () => {
    const impatient = createPbx(
      asterisk.parse({
        ami: { host: "127.0.0.1", port: labAsterisk.amiPort, username: AMI_USER, secret: "see-options", timeoutMs: 5000 },
        pjsip: { transports: ["transport-udp"] },
        registerTimeoutMs: 3000,
      }),
      { secret: AMI_SECRET },
      "pjsip",
    );
    try {
      await lab.setDefaultRoute("wan2"); // and no conntrack -D: the SIP flow keeps wan1's mapping
      const seen = itsp.requests().length;
      expect((await impatient.setExternalAddress(WAN2)).ok).toBe(true);
      const stuck = await impatient.registerTrunks({ shortExpirySeconds: SHORT });
      expect(stuck.ok).toBe(false);
      expect(stuck.error?.kind).toBe("register");
      expect(stuck.detail).toMatch(/itsp not Registered within 3000 ms/);
      expect(itsp.requests().slice(seen)).toEqual([]); // isp2 dropped them all as spoofed

      await switchTo(lab, "wan2"); // the route step's flush, late
      const retried = await impatient.registerTrunks({ shortExpirySeconds: SHORT });
      expect(retried.ok, retried.detail).toBe(true);
      await locationUntil(itsp, (cs) => cs.some((c) => fromAddress(c, WAN2) && c.expiresIn <= SHORT), `a contact from ${WAN2}`);
    } finally {
      await impatient.close();
    }
  });

  // Why moveTo() exists: Asterisk's own un-REGISTER, sent by the reload after the address changed,
  // carries the new Contact, so the ITSP keeps the binding at the dead link's address.
  test("the two-step way (address, then trunks) leaves the ITSP a binding at the old address", async () => {
    await switchTo(lab, "wan1");
    expect((await pbx.moveTo(WAN1, { restore: saved! })).ok).toBe(true);
    await locationUntil(itsp, (cs) => cs.length === 1 && fromAddress(cs[0]!, WAN1), `only a contact from ${WAN1}`);
    await switchTo(lab, "wan2");
    expect((await pbx.setExternalAddress(WAN2)).ok).toBe(true);
    expect((await pbx.registerTrunks({ shortExpirySeconds: SHORT })).ok).toBe(true);
    const contacts = await locationUntil(itsp, (cs) => cs.some((c) => fromAddress(c, WAN2)), `a contact from ${WAN2}`);
    expect(contacts.find((c) => c.address === `sip:office@${WAN1}:5060`)?.expiresIn).toBeGreaterThan(SHORT);
  });
}, [asteriskAvailability]);
