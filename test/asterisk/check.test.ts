// `wanctl asterisk check` (checkAsterisk) against the simulator: what it says when all is well, and
// that each thing that can be wrong is said plainly.

import http from "node:http";
import net from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { checkAsterisk } from "../../src/asterisk/check.js";
import { asterisk } from "../../src/config/schema/asterisk.js";
import { AMI_SECRET, AMI_USER, fixtureConfigFiles, startSim, until } from "./sim/harness.js";

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function sim(files = fixtureConfigFiles()) {
  const h = await startSim({ files });
  cleanup.push(() => h.close());
  await until(() => h.sim.registrations().every((r) => r.status === "Registered") && h.sim.chanSipRegistrations().every((r) => r.state === "Registered"), "the trunks to register");
  return h;
}

const config = (port: number, extra: Record<string, unknown> = {}) =>
  asterisk.parse({
    ami: { host: "127.0.0.1", port, username: AMI_USER, secret: AMI_SECRET, timeoutMs: 2000 },
    channelDriver: "pjsip",
    pjsip: { transports: ["transport-udp"] },
    ...extra,
  });

describe("checkAsterisk", () => {
  it("all well (PJSIP): login, privileges, the transport's addresses in the file and live, the trunk's state and expiry", async () => {
    const { sim: s } = await sim();
    const r = await checkAsterisk(config(s.amiPort));
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.lines).toEqual(
      expect.arrayContaining([
        `ok: AMI 127.0.0.1:${s.amiPort}: logged in as manager user 'wanctl' (AMI 9.0.0)`,
        "ok: the manager user receives system events (read=system): wanctl sees each trunk's Registry events",
        "ok: privileges: GetConfig, UpdateConfig, Command, PJSIPRegister and Reload allowed",
        "ok: transport 'transport-udp': external_media_address 198.51.100.10, external_signaling_address 198.51.100.10 in pjsip.conf; live 198.51.100.10 / 198.51.100.10",
        "ok: registration 'itsp' → sip:192.0.2.60:5060: Registered, expiry 3600 s; in pjsip.conf: expiration 3600, max_random_initial_delay 1",
        "note: [itsp] shares its name with 3 other section(s) in pjsip.conf; wanctl changes only the one with type=registration",
      ]),
    );
    // The probes changed nothing.
    expect(s.fileText("pjsip.conf")).toBe(fixtureConfigFiles()["pjsip.conf"]);
  });

  it("a transport that pjsip.conf does not have, and a registration Asterisk does not know", async () => {
    const { sim: s } = await sim();
    const r = await checkAsterisk(config(s.amiPort, { pjsip: { transports: ["transport-udp", "transport-tls"], registrations: ["itsp", "ghost"] } }));
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      "transport 'transport-tls' not found in pjsip.conf",
      "registration 'ghost' (asterisk.pjsip.registrations) is not known to Asterisk: PJSIPShowRegistrationsOutbound does not list it",
    ]);
  });

  it("missing privileges are named: write=config, write=command, read=system", async () => {
    const files = fixtureConfigFiles();
    files["manager.conf"] = files["manager.conf"]!.replace(/^read = .*$/m, "read = call").replace(/^write = .*$/m, "write = system");
    const { sim: s } = await sim(files);
    const r = await checkAsterisk(config(s.amiPort));
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(
      expect.arrayContaining([
        "no system event after login: the manager user needs read=system in manager.conf (wanctl waits for the trunks' Registry events), unless Asterisk is still booting",
        "the manager user lacks write=config in manager.conf (UpdateConfig, to change the external address and the trunks' expiry (and to Reload))",
        "the manager user lacks write=command in manager.conf (Command, for 'pjsip show transport')",
      ]),
    );
    expect(r.problems.join("\n")).not.toContain("GetConfig"); // write=system is enough for GetConfig
  });

  it("AMI down and a refused login: one line naming where, never the secret", async () => {
    const server = net.createServer();
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((res) => server.close(() => res()));
    const down = await checkAsterisk(config(port));
    expect(down.ok).toBe(false);
    expect(down.lines).toHaveLength(1);
    expect(down.problems[0]).toContain(`AMI at 127.0.0.1:${port} unreachable while logging in`);

    const { sim: s } = await sim();
    const bad = await checkAsterisk(config(s.amiPort), { secret: "not-the-secret" });
    expect(bad.problems).toEqual([
      `AMI at 127.0.0.1:${s.amiPort} refused the login of manager user 'wanctl' (Authentication failed): check asterisk.ami.username/secret and the user's permit/deny in manager.conf`,
    ]);
    expect(JSON.stringify(bad)).not.toContain("not-the-secret");
  });

  it("an unreadable secret file is named by its config path", async () => {
    const r = await checkAsterisk(config(1, { ami: { host: "127.0.0.1", port: 1, username: "wanctl", secret: { file: "/nonexistent/ami-secret" } } }));
    expect(r.problems).toEqual(["asterisk.ami.secret: cannot read the secret file /nonexistent/ami-secret (ENOENT)"]);
  });

  it("chan_sip: externip in the file and live, each register line by its key (no password), its state", async () => {
    const { sim: s } = await sim();
    const r = await checkAsterisk(config(s.amiPort, { channelDriver: "chan_sip", chanSip: { configFile: "sip.conf" } }));
    expect(r.problems).toEqual([]);
    expect(r.lines).toEqual(
      expect.arrayContaining([
        "ok: [general] of sip.conf: externip 198.51.100.10; live Externaddr 198.51.100.10:0",
        "ok: register office2@192.0.2.60:5060/office2: expiry 3600; chan_sip: Registered, refresh 3585 s",
      ]),
    );
    expect(JSON.stringify(r)).not.toContain(":secret@");
  });

  it('"auto": ModuleCheck finds both drivers loaded, and both are reported', async () => {
    const { sim: s } = await sim();
    const r = await checkAsterisk(config(s.amiPort, { channelDriver: "auto" }));
    expect(r.problems).toEqual([]);
    expect(r.lines).toEqual(
      expect.arrayContaining([
        'ok: res_pjsip.so is loaded: wanctl manages pjsip if it has trunks or an external address (channelDriver "auto")',
        'ok: chan_sip.so is loaded: wanctl manages chan_sip if it has trunks or an external address (channelDriver "auto")',
        "ok: privileges: GetConfig, UpdateConfig, Command, PJSIPRegister and Reload allowed",
        "ok: transport 'transport-udp': external_media_address 198.51.100.10, external_signaling_address 198.51.100.10 in pjsip.conf; live 198.51.100.10 / 198.51.100.10",
        "ok: registration 'itsp' → sip:192.0.2.60:5060: Registered, expiry 3600 s; in pjsip.conf: expiration 3600, max_random_initial_delay 1",
        "ok: [general] of sip.conf: externip 198.51.100.10; live Externaddr 198.51.100.10:0",
        "ok: register office2@192.0.2.60:5060/office2: expiry 3600; chan_sip: Registered, refresh 3585 s",
      ]),
    );
  });

  it('"auto": a driver that is not loaded is left alone; PJSIP trunks without a pjsip section are a problem', async () => {
    const files = fixtureConfigFiles();
    delete files["sip.conf"];
    const { sim: s } = await sim(files);
    const r = await checkAsterisk(config(s.amiPort, { channelDriver: "auto", pjsip: undefined }));
    expect(r.lines).toContain('note: chan_sip.so is not loaded: wanctl leaves chan_sip alone (channelDriver "auto")');
    expect(r.lines.some((l) => l.includes("[general] of sip.conf"))).toBe(false);
    expect(r.problems).toEqual(['PJSIP has outbound registration(s) itsp, but the config has no asterisk.pjsip section: name the transports whose external address follows the link ("pjsip": { "transports": [...] })']);
  });

  it("ARI: answers with the version, or says it refused the user", async () => {
    const { sim: s } = await sim();
    const seen: string[] = [];
    const ari = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
      if (req.headers.authorization !== `Basic ${Buffer.from("wanctl:aripass").toString("base64")}`) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ system: { version: "20.10.0" }, config: { name: "office-pbx" } }));
    });
    await new Promise<void>((res) => ari.listen(0, "127.0.0.1", () => res()));
    cleanup.push(() => new Promise<void>((res) => ari.close(() => res())));
    const url = `http://127.0.0.1:${(ari.address() as net.AddressInfo).port}/ari`;
    const good = await checkAsterisk(config(s.amiPort, { ari: { url, username: "wanctl", password: "aripass" } }));
    expect(good.lines).toContain(`ok: ARI ${url} answers (Asterisk 20.10.0, office-pbx)`);
    expect(seen[0]).toMatch(/^GET \/ari\/asterisk\/info Basic /);
    const bad = await checkAsterisk(config(s.amiPort, { ari: { url, username: "wanctl", password: "wrong" } }));
    expect(bad.problems).toEqual([`ARI at ${url} refused user 'wanctl' (401): check asterisk.ari.username/password and ari.conf`]);
  });
});
