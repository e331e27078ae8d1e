// Test harness around the simulator: the config files the transcripts were recorded with
// (test/fixtures/asterisk/config/), a fake registrar on 127.0.0.1 standing in for 192.0.2.60, fast timers.

import { readFileSync } from "node:fs";
import path from "node:path";

import { FIXTURES_DIR } from "../fixtures.js";
import { PbxSimulator, type PbxSimOptions } from "./pbx-sim.js";
import { FakeRegistrar } from "./registrar.js";

/** The recorded lab's config files (pjsip.conf, sip.conf, manager.conf), as text. */
export function fixtureConfigFiles(): Record<string, string> {
  const dir = path.join(FIXTURES_DIR, "config");
  return Object.fromEntries(["pjsip.conf", "sip.conf", "manager.conf"].map((f) => [f, readFileSync(path.join(dir, f), "utf8")]));
}

/** The lab's AMI account (fixtures/asterisk/config/manager.conf). */
export { AMI_SECRET, AMI_USER } from "../../lab/asterisk.js";

export interface SimHarness {
  sim: PbxSimulator;
  registrar: FakeRegistrar;
  close(): Promise<void>;
}

/** Timers that keep unit tests quick; `secondMs` is one of Asterisk's seconds. */
export const FAST: Pick<PbxSimOptions, "secondMs" | "loginFailDelayMs" | "sipTimers"> = {
  secondMs: 20,
  loginFailDelayMs: 20,
  sipTimers: { t1Ms: 40, t2Ms: 200, timeoutMs: 600 },
};

/** The simulator on 127.0.0.1 with the fixture config, its SIP routed to a fake registrar. */
export async function startSim(options: Partial<PbxSimOptions> & { files?: Record<string, string> } = {}): Promise<SimHarness> {
  const registrar = await FakeRegistrar.start();
  const sim = await PbxSimulator.start({
    files: fixtureConfigFiles(),
    sipBind: { host: "127.0.0.1", port: 0 },
    sipRoute: { "192.0.2.60:5060": registrar.address },
    localAddress: "127.0.0.1",
    ...FAST,
    ...options,
  });
  return {
    sim,
    registrar,
    close: async () => {
      await sim.close();
      await registrar.close();
    },
  };
}

/** Poll `check` until it is true; bounded by `rounds` × `ms` (never a wall-clock assertion). */
export async function until(check: () => boolean | Promise<boolean>, what: string, rounds = 200, ms = 25): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, ms));
  }
  throw new Error(`gave up waiting for ${what} after ${rounds} rounds`);
}
