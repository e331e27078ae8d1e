// The office's PBX with both SIP channel drivers (OfficePbx), against the simulator running PJSIP and
// chan_sip as the lab's Asterisk does: which drivers "auto" finds, and a converge run that moves
// both, one change and one reload per driver, every trunk registered from the new address.

import { afterEach, describe, expect, it } from "vitest";

import { createOfficePbx } from "../../src/asterisk/pbx/index.js";
import { asterisk } from "../../src/config/schema/asterisk.js";
import { BaselineStore } from "../../src/daemon/baseline.js";
import { convergeSteps } from "../../src/daemon/converge.js";
import type { ConvergeRun } from "../../src/daemon/lifecycle.js";
import { runPipeline } from "../../src/daemon/pipeline.js";
import { tempDir } from "../temp-dirs.js";
import type { SimLogEntry } from "./sim/pbx-sim.js";
import { AMI_SECRET, AMI_USER, fixtureConfigFiles, startSim, until } from "./sim/harness.js";

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const WAN1 = "198.51.100.10";
const WAN2 = "203.0.113.10";

async function setup(options: { files?: Record<string, string>; config?: Record<string, unknown> } = {}) {
  const log: SimLogEntry[] = [];
  const h = await startSim({ files: options.files ?? fixtureConfigFiles(), log: (e) => void log.push(e) });
  cleanup.push(() => h.close());
  await until(() => h.sim.registrations().every((r) => r.status === "Registered") && h.sim.chanSipRegistrations().every((r) => r.state === "Registered"), "the trunks to register at start");
  const config = asterisk.parse({
    ami: { host: "127.0.0.1", port: h.sim.amiPort, username: AMI_USER, secret: "unused-see-options", timeoutMs: 2000 },
    pjsip: { transports: ["transport-udp"] },
    registerTimeoutMs: 3000,
    ...options.config,
  });
  const office = createOfficePbx(config, { secret: AMI_SECRET, reconnect: false });
  cleanup.push(() => office.close());
  return { ...h, office, config, log };
}

describe("OfficePbx", () => {
  it('"auto" (the default) with PJSIP and chan_sip loaded: both managed, both drivers\' trunks listed', async () => {
    const { office, config } = await setup();
    expect(config.channelDriver).toBe("auto");
    const found = await office.managed();
    expect(found.ok, found.detail).toBe(true);
    expect(found.data?.drivers.map((d) => d.driver)).toEqual(["pjsip", "chan_sip"]);
    const trunks = await office.readTrunks();
    expect(trunks.data?.live.map((t) => [t.name, t.status])).toEqual([
      ["itsp", "Registered"],
      ["office2@192.0.2.60:5060/office2", "Registered"],
    ]);
  });

  it('"auto" with chan_sip not loaded: PJSIP alone, and why', async () => {
    const files = fixtureConfigFiles();
    delete files["sip.conf"];
    const { office } = await setup({ files });
    const found = await office.managed();
    expect(found.data?.drivers.map((d) => d.driver)).toEqual(["pjsip"]);
    expect(found.data?.notes).toEqual(["chan_sip: chan_sip.so not loaded"]);
  });

  it('"auto" with a chan_sip that has neither trunks nor externip: left alone', async () => {
    const files = fixtureConfigFiles();
    files["sip.conf"] = files["sip.conf"]!.replace(/^(register|externip)\s*=>?.*$/gm, "");
    const { office } = await setup({ files });
    const found = await office.managed();
    expect(found.data?.drivers.map((d) => d.driver)).toEqual(["pjsip"]);
    expect(found.data?.notes).toEqual(["chan_sip: chan_sip.so loaded; [general] of sip.conf: no register line and no externip: nothing to manage"]);
  });

  it('"auto" with PJSIP trunks but no pjsip section: chan_sip is managed, PJSIP is a problem that names the fix', async () => {
    const { office } = await setup({ config: { pjsip: undefined } });
    const found = await office.managed();
    expect(found.data?.drivers.map((d) => d.driver)).toEqual(["chan_sip"]);
    expect(found.data?.problems).toEqual([expect.stringMatching(/^PJSIP is loaded with outbound registration\(s\) itsp, but the config has no asterisk\.pjsip section .*"pjsip": \{ "transports": \[\.\.\.\] \}/)]);
  });

  it("a failover converges both drivers: one UpdateConfig and one reload each, every trunk registered from the new address with the short expiry; the failback restores each", async () => {
    const { office, sim, registrar, log } = await setup();
    const stateDir = tempDir();
    const run = async (link: "wan1" | "wan2") => {
      const r: ConvergeRun = { id: 1, link, primary: link === "wan1", afterSwitch: true, cause: "switch", switchId: null };
      const { steps, context } = convergeSteps(
        {
          route: { activeLink: async () => link, prepareLink: async () => WAN1, activate: async (l) => ({ active: l, durationMs: 1 }) },
          publicAddress: async (l) => ({ address: l === "wan1" ? WAN1 : WAN2, detail: "" }),
          pbx: { pbx: office, shortExpirySeconds: 120, trunksTimeoutMs: 10_000, baseline: new BaselineStore(stateDir) },
        },
        r,
      );
      return Object.fromEntries((await runPipeline(steps, context)).map((s) => [s.step, s]));
    };
    const changes = () =>
      log.flatMap((e) => (e.kind === "ami" && (e.action === "UpdateConfig" || e.action === "Reload" || e.action === "PJSIPUnregister" || (e.action === "Command" && e.command === "sip reload")) ? [e.command ?? e.action] : []));
    const registers = (from: number) => registrar.seen.slice(from).map((r) => [r.contact?.replace(/:\d+$/, ""), r.expires]);

    let seen = registrar.seen.length;
    const out = await run("wan2");
    expect(out.asterisk, out.asterisk?.detail).toMatchObject({ ok: true });
    expect(out.trunks, out.trunks?.detail).toMatchObject({ ok: true });
    expect(out.asterisk!.detail).toMatch(/^PJSIP: .*; chan_sip: .*/);
    // One UpdateConfig and one reload per driver (the order between the drivers is theirs).
    expect(changes().sort()).toEqual(["PJSIPUnregister", "Reload", "UpdateConfig", "UpdateConfig", "sip reload"].sort());
    expect(registers(seen)).toEqual(
      expect.arrayContaining([
        ["sip:office@198.51.100.10", 0],
        ["sip:office@203.0.113.10", 120],
        ["sip:office2@203.0.113.10", 120],
      ]),
    );
    expect(registers(seen)).toHaveLength(3);
    expect(sim.fileText("pjsip.conf")).toMatch(/external_signaling_address = 203\.0\.113\.10/);
    expect(sim.fileText("sip.conf")).toContain("externip = 203.0.113.10");

    log.length = 0;
    seen = registrar.seen.length;
    const back = await run("wan1");
    expect(back.trunks, back.trunks?.detail).toMatchObject({ ok: true });
    expect(changes().sort()).toEqual(["PJSIPUnregister", "Reload", "UpdateConfig", "UpdateConfig", "sip reload"].sort());
    expect(registers(seen)).toEqual(
      expect.arrayContaining([
        ["sip:office@203.0.113.10", 0],
        ["sip:office@198.51.100.10", 3600],
        ["sip:office2@198.51.100.10", 3600],
      ]),
    );
    expect(sim.fileText("pjsip.conf")).toContain("max_random_initial_delay = 1");
    expect(sim.fileText("sip.conf")).toContain("register => office2:secret@192.0.2.60:5060/office2~3600");
  });
});
