// Pbx.readTrunks(): each managed trunk as Asterisk runs it (for the converge runs, the metrics and
// the status page), read without changing anything. Against the simulator on 127.0.0.1 and its fake
// registrar.
import { afterEach, describe, expect, it } from "vitest";
import { createPbx } from "../../src/asterisk/pbx/index.js";
import { asterisk } from "../../src/config/schema/asterisk.js";
import { AMI_SECRET, AMI_USER, startSim, until } from "./sim/harness.js";

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(extra: Record<string, unknown> = {}) {
  const h = await startSim();
  cleanup.push(() => h.close());
  const config = asterisk.parse({
    ami: { host: "127.0.0.1", port: h.sim.amiPort, username: AMI_USER, secret: "unused", timeoutMs: 2000 },
    channelDriver: "pjsip",
    pjsip: { configFile: "pjsip.conf", transports: ["transport-udp"], registrations: "auto" },
    registerTimeoutMs: 3000,
    ...extra,
  });
  const pbx = createPbx(config, { secret: AMI_SECRET, reconnect: false });
  cleanup.push(() => pbx.close());
  return { ...h, pbx };
}

describe("trunk registrations", () => {
  it("PJSIP: each registration, whether it is Registered, and its expiry (the short one while on a backup link)", async () => {
    const { sim, pbx } = await setup();
    await until(() => sim.registrations().every((r) => r.status === "Registered"), "the trunks to register at start");
    const now = await pbx.readTrunks();
    expect(now.ok, now.detail).toBe(true);
    expect(now.data?.live).toEqual([{ name: "itsp", status: "Registered", expiration: "3600", maxRandomInitialDelay: "1" }]);
    expect((await pbx.registerTrunks({ shortExpirySeconds: 120 })).ok).toBe(true);
    expect((await pbx.readTrunks()).data?.live).toEqual([{ name: "itsp", status: "Registered", expiration: "120", maxRandomInitialDelay: "0" }]);
  });

  it("PJSIP: a registration the registrar refuses is not registered", async () => {
    const { sim, registrar, pbx } = await setup();
    await until(() => sim.registrations().every((r) => r.status === "Registered"), "the trunks to register at start");
    registrar.mode = { kind: "reject", code: 403, reason: "Forbidden" };
    await pbx.registerTrunks();
    const trunks = (await pbx.readTrunks()).data?.live;
    expect(trunks).toEqual([expect.objectContaining({ name: "itsp" })]);
    expect(trunks?.[0]?.status).not.toBe("Registered");
  });

  it("PJSIP: only the configured registrations", async () => {
    const { sim, pbx } = await setup({ pjsip: { configFile: "pjsip.conf", transports: ["transport-udp"], registrations: ["other"] } });
    await until(() => sim.registrations().every((r) => r.status === "Registered"), "the trunks to register at start");
    expect((await pbx.readTrunks()).data?.live).toEqual([]);
  });

  it("chan_sip: user@host and its state, never the password", async () => {
    const { sim, pbx } = await setup({ channelDriver: "chan_sip", chanSip: { configFile: "sip.conf" } });
    await until(() => sim.chanSipRegistrations().every((r) => r.state === "Registered"), "chan_sip to register at start");
    const r = await pbx.readTrunks();
    expect(r.data?.live).toEqual([{ name: "office2@192.0.2.60:5060/office2", status: "Registered", expiration: "3600" }]);
    expect(JSON.stringify(r)).not.toContain("secret");
  });

  it("Asterisk unreachable: a failed result that says where, not a throw", async () => {
    const { sim, pbx } = await setup();
    await sim.close();
    const r = await pbx.readTrunks();
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/127\.0\.0\.1/);
  });
});
