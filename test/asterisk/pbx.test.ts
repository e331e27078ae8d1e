// The PBX adapter against the simulator on 127.0.0.1 (its SIP going to a fake registrar on
// 127.0.0.1): external address, trunks with a short expiry and back, calls, health, and every way
// it can fail, each with a message that names what and where and never the secret.

import http from "node:http";
import net from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { AmiClient } from "../../src/asterisk/ami/client.js";
import { createPbx, describeFailure } from "../../src/asterisk/pbx/index.js";
import { asterisk, type AsteriskConfig } from "../../src/config/schema/asterisk.js";
import { parseConf } from "./sim/conf.js";
import type { SimLogEntry } from "./sim/pbx-sim.js";
import { AMI_SECRET, AMI_USER, fixtureConfigFiles, type SimHarness, startSim, until } from "./sim/harness.js";
import { TranscriptServer } from "./transcript-server.js";

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(options: { files?: Record<string, string>; config?: Record<string, unknown>; secret?: string; logs?: unknown[]; simLog?: (entry: SimLogEntry) => void; chanSipReloadLagMs?: number } = {}) {
  const h: SimHarness = await startSim({
    ...(options.files ? { files: options.files } : {}),
    ...(options.simLog ? { log: options.simLog } : {}),
    ...(options.chanSipReloadLagMs ? { chanSipReloadLagMs: options.chanSipReloadLagMs } : {}),
  });
  cleanup.push(() => h.close());
  await until(() => h.sim.registrations().every((r) => r.status === "Registered"), "the PJSIP trunks to register at start");
  const config = pbxConfig(h.sim.amiPort, options.config);
  const pbx = createPbx(config, {
    secret: options.secret ?? AMI_SECRET,
    reconnect: false,
    ...(options.logs ? { logger: captureLogger(options.logs) } : {}),
  });
  cleanup.push(() => pbx.close());
  return { ...h, pbx, config };
}

function pbxConfig(port: number, extra: Record<string, unknown> = {}): AsteriskConfig {
  return asterisk.parse({
    ami: { host: "127.0.0.1", port, username: AMI_USER, secret: "unused-see-options", timeoutMs: 2000 },
    channelDriver: "pjsip",
    pjsip: { configFile: "pjsip.conf", transports: ["transport-udp"], registrations: "auto" },
    shortExpirySeconds: 120,
    registerTimeoutMs: 3000,
    ...extra,
  });
}

function captureLogger(lines: unknown[]) {
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Sections of a config text as [name, type, variables] for comparisons. */
const sections = (text: string) => parseConf(text).map((c) => ({ name: c.name, vars: c.variables.map((v) => `${v.name}=${v.value}`) }));

describe("PJSIP: external address", () => {
  it("updates both variables of the transport, reloads res_pjsip.so, reads the live values back and returns the old ones", async () => {
    const { sim, pbx } = await setup();
    const before = sections(sim.fileText("pjsip.conf")!);
    const r = await pbx.setExternalAddress("203.0.113.10");
    expect(r.ok, r.detail).toBe(true);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.data).toMatchObject({
      address: "203.0.113.10",
      fileChanged: true,
      reloaded: true,
      saved: { driver: "pjsip", file: "pjsip.conf", transports: { "transport-udp": { external_media_address: "198.51.100.10", external_signaling_address: "198.51.100.10" } } },
      targets: [{ name: "transport-udp", live: { external_media_address: "203.0.113.10", external_signaling_address: "203.0.113.10" } }],
    });
    expect(sim.transport("transport-udp")?.get("external_signaling_address")).toBe("203.0.113.10");
    // Only those two values changed in the file.
    const after = sections(sim.fileText("pjsip.conf")!);
    expect(after).toEqual(before.map((s) => (s.name === "transport-udp" ? { ...s, vars: s.vars.map((v) => v.replace(/^(external_(media|signaling)_address)=.*/, "$1=203.0.113.10")) } : s)));
  });

  it("does nothing but check when the address is already there (file and live)", async () => {
    const { pbx } = await setup();
    await pbx.setExternalAddress("203.0.113.10");
    const again = await pbx.setExternalAddress("203.0.113.10");
    expect(again.ok, again.detail).toBe(true);
    expect(again.data).toMatchObject({ fileChanged: false, reloaded: false });
    expect(again.detail).toContain("already on 203.0.113.10");
  });

  it("appends absent variables (Append) and deletes them again on restore, touching no other section", async () => {
    const files = fixtureConfigFiles();
    files["pjsip.conf"] = files["pjsip.conf"]!.replace(/^external_(media|signaling)_address.*\n/gm, "");
    const { sim, pbx } = await setup({ files });
    const before = sim.fileText("pjsip.conf")!;
    const r = await pbx.setExternalAddress("203.0.113.10");
    expect(r.ok, r.detail).toBe(true);
    expect(r.data?.saved).toEqual({ driver: "pjsip", file: "pjsip.conf", transports: { "transport-udp": { external_media_address: null, external_signaling_address: null } } });
    expect(sim.transport("transport-udp")?.get("external_media_address")).toBe("203.0.113.10");
    const back = await pbx.restoreExternalAddress(r.data!.saved);
    expect(back.ok, back.detail).toBe(true);
    expect(sections(sim.fileText("pjsip.conf")!)).toEqual(sections(before));
    expect(sim.transport("transport-udp")?.get("external_media_address")).toBe("");
  });

  it("refuses an address that is not an IP, and a transport the file does not have, saying which", async () => {
    const { pbx } = await setup({ config: { pjsip: { transports: ["itsp"] } } });
    const bad = await pbx.setExternalAddress("not-an-ip");
    expect(bad).toMatchObject({ ok: false, error: { kind: "config" } });
    expect(bad.detail).toContain('not an IP address: "not-an-ip"');
    const missing = await pbx.setExternalAddress("203.0.113.10");
    expect(missing).toMatchObject({ ok: false, error: { kind: "config" } });
    expect(missing.detail).toBe("transport 'itsp' not found in pjsip.conf (sections named 'itsp' there: registration, aor, endpoint, identify)");
  });
});

describe("PJSIP: trunks", () => {
  it("shortens the expiry of the registration section only, lets the reload re-register it, and reads 120 back", async () => {
    const { sim, registrar, pbx } = await setup();
    await pbx.setExternalAddress("203.0.113.10");
    const before = sections(sim.fileText("pjsip.conf")!);
    const seen = registrar.seen.length;
    const r = await pbx.registerTrunks({ shortExpirySeconds: 120 });
    expect(r.ok, r.detail).toBe(true);
    expect(r.data?.trunks).toEqual([expect.objectContaining({ name: "itsp", ok: true, status: "Registered", expirySeconds: 120 })]);
    expect(r.data?.saved).toEqual({ driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "3600", max_random_initial_delay: "1" } } });
    expect(r.data?.fileChanged).toBe(true);
    // The REGISTER that reached the registrar: the new public address, the short expiry.
    const fresh = registrar.registrations().slice(0);
    const last = fresh[fresh.length - 1]!;
    expect(registrar.seen.length).toBeGreaterThan(seen);
    expect(last.expires).toBe(120);
    expect(last.contact).toMatch(/^sip:office@203\.0\.113\.10:\d+$/);
    expect(last.via).toMatch(/^SIP\/2\.0\/UDP 203\.0\.113\.10:\d+;rport;branch=z9hG4bK/);
    // [itsp] the registration changed; [itsp] the aor, endpoint and identify did not.
    const after = sections(sim.fileText("pjsip.conf")!);
    const reg = (s: ReturnType<typeof sections>) => s.find((x) => x.name === "itsp" && x.vars.includes("type=registration"))!;
    expect(reg(after).vars).toContain("expiration=120");
    expect(reg(after).vars).toContain("max_random_initial_delay=0");
    expect(after.filter((x) => !x.vars.includes("type=registration"))).toEqual(before.filter((x) => !x.vars.includes("type=registration")));
  });

  it("puts the originals back on restore and registers with them", async () => {
    const { sim, registrar, pbx } = await setup();
    const short = await pbx.registerTrunks({ shortExpirySeconds: 120 });
    expect(short.ok, short.detail).toBe(true);
    const back = await pbx.restoreTrunks(short.data!.saved);
    expect(back.ok, back.detail).toBe(true);
    expect(back.data?.trunks[0]).toMatchObject({ name: "itsp", status: "Registered", expirySeconds: 3600 });
    expect(registrar.registrations().at(-1)?.expires).toBe(3600);
    expect(sim.fileText("pjsip.conf")).toMatch(/expiration = 3600\nretry_interval/);
    expect(sim.fileText("pjsip.conf")).toContain("max_random_initial_delay = 1");
  });

  it("reads the trunks' settings in the file and as Asterisk runs them, changing nothing", async () => {
    const { sim, pbx } = await setup();
    const before = sim.fileText("pjsip.conf");
    const r = await pbx.readTrunks();
    expect(r.ok, r.detail).toBe(true);
    expect(r.data).toEqual({
      settings: { driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "3600", max_random_initial_delay: "1" } } },
      live: [{ name: "itsp", status: "Registered", expiration: "3600", maxRandomInitialDelay: "1" }],
    });
    expect(sim.fileText("pjsip.conf")).toBe(before);
  });

  it("a file that already holds the wanted values while Asterisk runs others (killed before the reload) is reloaded", async () => {
    const { sim, pbx } = await setup();
    expect((await pbx.registerTrunks({ shortExpirySeconds: 120 })).ok).toBe(true);
    // The file gets the originals back, but the reload never came.
    sim.setFile("pjsip.conf", sim.fileText("pjsip.conf")!.replace("expiration = 120", "expiration = 3600").replace("max_random_initial_delay = 0", "max_random_initial_delay = 1"));
    const live = await pbx.readTrunks();
    expect(live.data?.live[0]).toMatchObject({ expiration: "120", maxRandomInitialDelay: "0" });
    const back = await pbx.restoreTrunks({ driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "3600", max_random_initial_delay: "1" } } });
    expect(back.ok, back.detail).toBe(true);
    expect(back.data?.fileChanged).toBe(false);
    expect(back.data?.trunks[0]).toMatchObject({ status: "Registered", expirySeconds: 3600 });
  });

  it("re-registers as is with PJSIPRegister (unregister, then register) when no expiry is asked", async () => {
    const { registrar, pbx, sim } = await setup();
    const seen = registrar.seen.length;
    const r = await pbx.registerTrunks();
    expect(r.ok, r.detail).toBe(true);
    expect(r.data?.fileChanged).toBe(false);
    const mine = registrar.seen.slice(seen);
    expect(mine.map((m) => m.expires)).toEqual([0, 3600]);
    expect(sim.registryLog.slice(-2).map((e) => e.status)).toEqual(["Unregistered", "Registered"]);
  });

  it("adds a missing expiration to the registration only, even though three other sections are named [itsp] (catfilter)", async () => {
    const files = fixtureConfigFiles();
    files["pjsip.conf"] = files["pjsip.conf"]!.replace(/^expiration = 3600\n/m, "").replace(/^max_random_initial_delay = 1\n/m, "");
    const { sim, pbx } = await setup({ files });
    const r = await pbx.registerTrunks({ shortExpirySeconds: 120 });
    expect(r.ok, r.detail).toBe(true);
    expect(r.data?.saved).toEqual({ driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: null, max_random_initial_delay: null } } });
    const itsp = parseConf(sim.fileText("pjsip.conf")!).filter((c) => c.name === "itsp");
    expect(itsp.map((c) => c.variables.filter((v) => v.name === "expiration").length)).toEqual([1, 0, 0, 0]);
    const back = await pbx.restoreTrunks(r.data!.saved);
    expect(back.ok, back.detail).toBe(true);
    expect(back.data?.trunks[0]?.expirySeconds).toBe(3600); // Asterisk's default again
    expect(sim.fileText("pjsip.conf")).not.toMatch(/^expiration/m);
  });

  it("reports a configured registration that Asterisk does not know, and still registers the others", async () => {
    const { pbx } = await setup({ config: { pjsip: { transports: ["transport-udp"], registrations: ["itsp", "ghost"] } } });
    const r = await pbx.registerTrunks();
    expect(r.ok).toBe(false);
    expect(r.error?.kind).toBe("register");
    expect(r.data?.trunks).toEqual([
      expect.objectContaining({ name: "itsp", ok: true, status: "Registered" }),
      expect.objectContaining({ name: "ghost", ok: false, status: "Unknown", detail: "registration 'ghost' is not known to Asterisk (PJSIPShowRegistrationsOutbound does not list it)" }),
    ]);
  });

  it("still registers the trunks again when the expiry cannot be changed (file missing): the step fails, saying why", async () => {
    const { pbx, registrar } = await setup({ config: { pjsip: { configFile: "nope.conf", transports: ["transport-udp"] } } });
    const seen = registrar.seen.length;
    const r = await pbx.registerTrunks({ shortExpirySeconds: 120 });
    expect(r.ok).toBe(false);
    expect(r.error?.kind).toBe("refused");
    expect(r.detail).toContain("nope.conf not found in Asterisk's config directory (GetConfig: Config file not found)");
    expect(r.data?.trunks).toEqual([expect.objectContaining({ name: "itsp", ok: true, status: "Registered", expirySeconds: 3600 })]);
    expect(registrar.seen.slice(seen).map((m) => m.expires)).toEqual([0, 3600]);
  });

  it("fails a trunk whose registrar does not answer, within registerTimeoutMs, with the last status", async () => {
    const { registrar, pbx } = await setup({ config: { registerTimeoutMs: 1500 } });
    registrar.mode = { kind: "silent" };
    const r = await pbx.registerTrunks({ shortExpirySeconds: 120 });
    expect(r.ok).toBe(false);
    expect(r.error?.kind).toBe("register");
    expect(r.data?.trunks[0]).toMatchObject({ name: "itsp", ok: false, timedOut: true });
    expect(r.detail).toMatch(/itsp not Registered within 1500 ms \((last status (Rejected|Unregistered)|no Registry event for it)\)/);
    // The saved originals come back even so: the file was changed.
    expect(r.data?.saved).toEqual({ driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "3600", max_random_initial_delay: "1" } } });
  });

  it("reports Rejected when the registrar refuses", async () => {
    const { registrar, pbx } = await setup({ config: { registerTimeoutMs: 1500 } });
    registrar.mode = { kind: "reject", code: 403, reason: "Forbidden" };
    const r = await pbx.registerTrunks();
    expect(r.ok).toBe(false);
    expect(r.data?.trunks[0]).toMatchObject({ status: "Rejected" });
    expect(r.detail).toContain("last status Rejected");
  });
});

describe("chan_sip", () => {
  const chanSip = { channelDriver: "chan_sip", chanSip: { configFile: "sip.conf" } };

  it("sets externip, reloads, reads Externaddr back", async () => {
    const { sim, pbx } = await setup({ config: chanSip });
    const r = await pbx.setExternalAddress("203.0.113.10");
    expect(r.ok, r.detail).toBe(true);
    expect(r.data?.saved).toEqual({ driver: "chan_sip", file: "sip.conf", general: { externip: "198.51.100.10", externaddr: null } });
    expect(r.data?.targets[0]?.live).toEqual({ externaddr: "203.0.113.10" });
    expect(sim.fileText("sip.conf")).toContain("externip = 203.0.113.10");
  });

  it("a reload that chan_sip carries out later (in its monitor thread) is waited for, not reported as a mismatch", async () => {
    const { sim, pbx } = await setup({ config: chanSip, chanSipReloadLagMs: 300 });
    await until(() => sim.chanSipRegistrations().every((r) => r.state === "Registered"), "chan_sip to register at start");
    const set = await pbx.setExternalAddress("203.0.113.10");
    expect(set.ok, set.detail).toBe(true);
    expect(set.data?.targets[0]?.live).toEqual({ externaddr: "203.0.113.10" });
    const moved = await pbx.moveTo("198.51.100.10", { shortExpirySeconds: 120 });
    expect(moved.ok, moved.detail).toBe(true);
    expect((await pbx.readAddress()).data?.targets[0]?.media).toBe("198.51.100.10");
  });

  it("puts ~120 on the register line (Match- on the old line), waits for Registered, restores ~3600, and never shows the password", async () => {
    const logs: unknown[] = [];
    const { sim, registrar, pbx } = await setup({ config: chanSip, logs });
    await until(() => sim.chanSipRegistrations().every((r) => r.state === "Registered"), "chan_sip to register at start");
    const r = await pbx.registerTrunks({ shortExpirySeconds: 120 });
    expect(r.ok, r.detail).toBe(true);
    expect(r.data?.saved).toEqual({ driver: "chan_sip", file: "sip.conf", registers: [{ key: "office2@192.0.2.60:5060/office2", expiry: "3600" }] });
    expect(r.data?.trunks).toEqual([expect.objectContaining({ name: "office2@192.0.2.60:5060/office2", ok: true, status: "Registered", expirySeconds: 120 })]);
    expect(sim.fileText("sip.conf")).toContain("register => office2:secret@192.0.2.60:5060/office2~120");
    expect(registrar.registrations().at(-1)?.expires).toBe(120);
    const back = await pbx.restoreTrunks(r.data!.saved);
    expect(back.ok, back.detail).toBe(true);
    expect(sim.fileText("sip.conf")).toContain("register => office2:secret@192.0.2.60:5060/office2~3600");
    expect(registrar.registrations().at(-1)?.expires).toBe(3600);
    // The trunk password ("secret") is in sip.conf; it must not be in results or logs.
    for (const text of [JSON.stringify(r), JSON.stringify(back), JSON.stringify(logs)]) expect(text).not.toContain(":secret@");
  });
});

describe("the whole move (moveTo): one change, one reload, the old binding removed first", () => {
  /** AMI actions that change something, in the order the simulator got them. */
  const changing = (actions: string[]) => actions.filter((a) => ["PJSIPUnregister", "PJSIPRegister", "UpdateConfig", "Reload"].includes(a));
  const registers = (seen: { contact: string | undefined; expires: number | undefined }[]) => seen.map((r) => [r.contact?.replace(/:\d+$/, ""), r.expires]);

  it("PJSIP: un-REGISTERs the old Contact, then address and expiry in one UpdateConfig and one reload; the trunk registers with the new Contact", async () => {
    const actions: string[] = [];
    const { sim, registrar, pbx } = await setup({ simLog: (e) => void (e.kind === "ami" && actions.push(e.action)) });
    const seen = registrar.seen.length;
    const r = await pbx.moveTo("203.0.113.10", { shortExpirySeconds: 120 });
    expect(r.ok, r.detail).toBe(true);
    expect(r.data?.unregistered).toEqual(["itsp"]);
    expect(r.data?.address.targets[0]?.live).toEqual({ external_media_address: "203.0.113.10", external_signaling_address: "203.0.113.10" });
    expect(r.data?.trunks.trunks).toEqual([expect.objectContaining({ name: "itsp", ok: true, status: "Registered", expirySeconds: 120 })]);
    expect(r.data?.trunks.saved).toEqual({ driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "3600", max_random_initial_delay: "1" } } });
    expect(changing(actions)).toEqual(["PJSIPUnregister", "UpdateConfig", "Reload"]);
    expect(registers(registrar.seen.slice(seen))).toEqual([
      ["sip:office@198.51.100.10", 0],
      ["sip:office@203.0.113.10", 120],
    ]);
    expect(sim.fileText("pjsip.conf")).toMatch(/external_signaling_address = 203\.0\.113\.10/);

    // And back: the saved expiry restored in the same single change.
    actions.length = 0;
    const back = await pbx.moveTo("198.51.100.10", { restore: r.data!.trunks.saved });
    expect(back.ok, back.detail).toBe(true);
    expect(changing(actions)).toEqual(["PJSIPUnregister", "UpdateConfig", "Reload"]);
    expect(back.data?.trunks.trunks[0]).toMatchObject({ status: "Registered", expirySeconds: 3600 });
    expect(registrar.registrations().at(-1)).toMatchObject({ expires: 3600, contact: expect.stringMatching(/^sip:office@198\.51\.100\.10:/) });
    expect(sim.fileText("pjsip.conf")).toContain("max_random_initial_delay = 1");
  });

  it("PJSIP, following a router (primeFirst): one PJSIPQualify of the trunk's endpoint is the first packet of its flow, before the un-REGISTER", async () => {
    const actions: string[] = [];
    const { pbx } = await setup({ simLog: (e) => void (e.kind === "ami" && actions.push(e.action)) });
    const r = await pbx.moveTo("203.0.113.10", { shortExpirySeconds: 120, primeFirst: true });
    expect(r.ok, r.detail).toBe(true);
    expect(actions.filter((a) => ["PJSIPQualify", "PJSIPUnregister", "UpdateConfig", "Reload"].includes(a))).toEqual(["PJSIPQualify", "PJSIPUnregister", "UpdateConfig", "Reload"]);
  });

  it("PJSIP: already on the address (a repeated step), nothing is unregistered and the trunks register once more", async () => {
    const actions: string[] = [];
    const { pbx } = await setup({ simLog: (e) => void (e.kind === "ami" && actions.push(e.action)) });
    expect((await pbx.moveTo("203.0.113.10", { shortExpirySeconds: 120 })).ok).toBe(true);
    const first = await pbx.moveTo("203.0.113.10", { shortExpirySeconds: 120 });
    actions.length = 0;
    const again = await pbx.moveTo("203.0.113.10", { shortExpirySeconds: 120 });
    expect(again.ok, again.detail).toBe(true);
    expect(again.data?.unregistered).toEqual([]);
    expect(changing(actions)).toEqual(["PJSIPRegister"]);
    expect(again.data?.trunks.saved).toEqual(first.data?.trunks.saved);
  });

  it("chan_sip: externip and ~expiry in one UpdateConfig and one sip reload, one REGISTER, no password anywhere", async () => {
    const logs: unknown[] = [];
    const { sim, registrar, pbx } = await setup({ config: { channelDriver: "chan_sip", chanSip: {} }, logs });
    await until(() => sim.chanSipRegistrations().every((r) => r.state === "Registered"), "chan_sip to register at start");
    const seen = registrar.seen.length;
    const r = await pbx.moveTo("203.0.113.10", { shortExpirySeconds: 120 });
    expect(r.ok, r.detail).toBe(true);
    expect(r.data?.address.targets[0]?.live).toEqual({ externaddr: "203.0.113.10" });
    expect(r.data?.unregistered).toEqual([]);
    expect(sim.fileText("sip.conf")).toContain("externip = 203.0.113.10");
    expect(sim.fileText("sip.conf")).toContain("register => office2:secret@192.0.2.60:5060/office2~120");
    expect(registers(registrar.seen.slice(seen))).toEqual([["sip:office2@203.0.113.10", 120]]);
    for (const text of [JSON.stringify(r), JSON.stringify(logs)]) expect(text).not.toContain(":secret@");
  });
});

describe("calls and health", () => {
  it("counts calls by Linkedid: a Local channel's two halves and a bridged pair are one call each", async () => {
    const { sim, pbx } = await setup();
    expect((await pbx.activeCalls()).data).toEqual({ calls: 0, channels: 0, localChannels: 0 });
    const a = sim.addChannel({ channel: "PJSIP/itsp-00000001" });
    sim.addChannel({ channel: "PJSIP/100-00000002", linkedid: sim.channels().find((c) => c.channel === a)!.linkedid });
    const raw = new AmiClient({ host: "127.0.0.1", port: sim.amiPort, username: AMI_USER, secret: AMI_SECRET, reconnect: false });
    await raw.connect();
    await raw.action("Originate", { Channel: "Local/100@from-itsp", Application: "Wait", Data: "100", Async: "true" });
    await raw.close();
    const r = await pbx.activeCalls();
    expect(r.ok, r.detail).toBe(true);
    expect(r.data).toEqual({ calls: 2, channels: 4, localChannels: 2 });
  });

  it("answers a health check with the versions", async () => {
    const { pbx } = await setup();
    const r = await pbx.health();
    expect(r.ok, r.detail).toBe(true);
    expect(r.data).toMatchObject({ amiVersion: "9.0.0", asteriskVersion: "GIT-20-pbxsim" });
  });

  it("asks ARI too when it is configured (basic auth), and fails the check when ARI does not answer", async () => {
    const auth: string[] = [];
    const ari = http.createServer((req, res) => {
      auth.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ system: { version: "20.10.0" } }));
    });
    await new Promise<void>((r) => ari.listen(0, "127.0.0.1", () => r()));
    cleanup.push(() => new Promise<void>((r) => ari.close(() => r())));
    const url = `http://127.0.0.1:${(ari.address() as net.AddressInfo).port}/ari`;
    const { sim } = await setup();
    const pbx = createPbx(pbxConfig(sim.amiPort, { ari: { url, username: "wanctl", password: "unused" } }), { secret: AMI_SECRET, ariPassword: "aripass", reconnect: false });
    cleanup.push(() => pbx.close());
    const r = await pbx.health();
    expect(r.ok, r.detail).toBe(true);
    expect(r.data?.ari).toEqual({ ok: true, version: "20.10.0", detail: "ARI answers (Asterisk 20.10.0)" });
    expect(auth).toEqual([`GET /ari/asterisk/info Basic ${Buffer.from("wanctl:aripass").toString("base64")}`]);
    await new Promise<void>((r) => ari.close(() => r()));
    const down = await pbx.health();
    expect(down.ok).toBe(false);
    expect(down.detail).toContain(`ARI GET ${url}/asterisk/info failed: ECONNREFUSED`);
  });
});

describe("failures: each a clear message naming what and where, never the secret; a later call can succeed", () => {
  it("AMI down", async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const pbx = createPbx(pbxConfig(port), { secret: AMI_SECRET, reconnect: false });
    cleanup.push(() => pbx.close());
    for (const result of [await pbx.setExternalAddress("203.0.113.10"), await pbx.registerTrunks(), await pbx.activeCalls()]) {
      expect(result).toMatchObject({ ok: false, error: { kind: "connect" } });
      expect(result.detail).toContain(`AMI at 127.0.0.1:${port} unreachable`);
      expect(result.detail).toContain("ECONNREFUSED");
    }
  });

  it("a refused login names the user and the AMI, not the secret", async () => {
    const logs: unknown[] = [];
    const { pbx, sim } = await setup({ secret: "wrong-secret-xyz", logs });
    const r = await pbx.setExternalAddress("203.0.113.10");
    expect(r).toMatchObject({ ok: false, error: { kind: "login" } });
    expect(r.detail).toBe(
      `AMI at 127.0.0.1:${sim.amiPort} refused the login of manager user 'wanctl' (Authentication failed): check asterisk.ami.username/secret and the user's permit/deny in manager.conf`,
    );
    expect(JSON.stringify(logs)).not.toContain("wrong-secret-xyz");
  });

  it("a manager user without write=config gets 'Permission denied' explained", async () => {
    const files = fixtureConfigFiles();
    files["manager.conf"] = files["manager.conf"]!.replace(/^write = .*$/m, "write = system,command");
    const { pbx, sim } = await setup({ files });
    const r = await pbx.setExternalAddress("203.0.113.10");
    expect(r).toMatchObject({ ok: false, error: { kind: "refused" } });
    // GetConfig passes (write=system is enough for it); UpdateConfig needs write=config.
    expect(r.detail).toBe(
      `Asterisk (AMI 127.0.0.1:${sim.amiPort}) refused UpdateConfig while changing external_media_address/external_signaling_address in pjsip.conf: Permission denied (the manager user lacks write=config in manager.conf)`,
    );
    expect(r.data?.fileChanged).toBe(false);
  });

  it("after the PBX dropped the connection, the next operation reconnects and succeeds", async () => {
    const { sim } = await setup();
    const pbx = createPbx(pbxConfig(sim.amiPort), { secret: AMI_SECRET }); // default: reconnect on
    cleanup.push(() => pbx.close());
    expect((await pbx.activeCalls()).ok).toBe(true);
    sim.dropConnections();
    const again = await pbx.setExternalAddress("203.0.113.10");
    expect(again.ok, again.detail).toBe(true);
  });

  it("Asterisk's recorded refusals (errors.jsonl) read as plain sentences", async () => {
    // Replay the recorded conversation with a plain client and describe each refusal as the adapter would.
    const server = await TranscriptServer.start("errors");
    const client = new AmiClient({ host: "127.0.0.1", port: server.port, username: AMI_USER, secret: AMI_SECRET, reconnect: false });
    cleanup.push(async () => {
      await client.close();
      await server.close();
    });
    await client.connect();
    const target = client.target;
    const tryIt = async (what: string, p: Promise<unknown>) => describeFailure(await p.then(() => new Error("no error"), (e: unknown) => e), target, what).message;
    const update = (cat: string, v: string, value: string, file = "pjsip.conf") =>
      client.action("UpdateConfig", { SrcFilename: file, DstFilename: file, "Action-000000": "Update", "Cat-000000": cat, "Var-000000": v, "Value-000000": value });
    expect(await tryIt("setting x", update("transport-udp", "no_such_option", "x"))).toBe(
      `Asterisk (AMI ${target}) refused UpdateConfig while setting x: Update did not complete successfully`,
    );
    expect(await tryIt("setting y", update("no-such-transport", "external_media_address", "1.2.3.4"))).toContain("refused UpdateConfig while setting y: Given category does not exist");
    expect(await tryIt("z", update("x", "y", "z", "nosuchfile.conf"))).toContain(
      "File requires escalated privileges (the file is outside Asterisk's config directory or does not exist)",
    );
    expect(await tryIt("z", update("x", "y", "z", "../../etc/passwd"))).toContain("File requires escalated privileges");
    expect(await tryIt("reloading", client.action("Reload", { Module: "res_no_such_module.so" }))).toContain("refused Reload while reloading: No such module");
    expect(await tryIt("registering 'no-such-trunk' again", client.action("PJSIPRegister", { Registration: "no-such-trunk" }))).toBe(
      `Asterisk (AMI ${target}) refused PJSIPRegister while registering 'no-such-trunk' again: Unable to retrieve registration entry`,
    );
    expect(await tryIt("reading back", client.command("no such command here"))).toContain(
      "refused Command while reading back: No such command 'no such command here' (type 'core show help no such' for other possible commands)",
    );
    await expect(client.action("NoSuchAction")).rejects.toThrow("Invalid/unknown command: NoSuchAction");
    await expect(client.action("GetConfig", { Filename: "nosuchfile.conf" })).rejects.toThrow("Config file not found");
    await client.action("UpdateConfig", { SrcFilename: "pjsip.conf", DstFilename: "pjsip.conf", "Action-000000": "Append", "Cat-000000": "transport-udp", "Var-000000": "external_signaling_port", "Value-000000": "5060" });
    await client.action("UpdateConfig", { SrcFilename: "pjsip.conf", DstFilename: "pjsip.conf", "Action-000000": "Delete", "Cat-000000": "transport-udp", "Var-000000": "external_signaling_port" });
    await server.finished;
  });
});

