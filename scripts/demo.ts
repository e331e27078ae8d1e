// The demo: wanctl's main job on the built-in network lab. Brings the lab up, runs the real
// `wanctl run` in the office gateway's namespace, cuts the active link and heals it, and always
// takes the lab down again.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { AMI_SECRET, AMI_USER, asteriskAvailability, type LabAsterisk, startAsterisk } from "../test/lab/asterisk.js";
import { createLab, labAvailability, type Lab, type LabProcess } from "../test/lab/index.js";
import { routeChangedAt, startDaemon, switchedTo, waitForStatus, wanctlBin } from "../test/lab/daemon-harness.js";
import { startItsp, type Itsp } from "../test/lab/kamailio.js";
import { labConfig, writeLabConfig } from "../test/lab/wanctl-config.js";

const HOLD_DOWN_SECONDS = 10;

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function wanctl(lab: Lab, args: string[]): Promise<number> {
  const result = await lab.exec("office", [process.execPath, wanctlBin, ...args]);
  process.stdout.write(result.stdout.replace(/^/gm, "    "));
  process.stderr.write(result.stderr);
  return result.code ?? 1;
}

async function trunk(itsp: Itsp): Promise<string> {
  const contacts = await itsp.contacts();
  return contacts.map((c) => `registered from ${(c.received ?? c.address).replace(/^sip:/, "")}, ${c.expiresIn} s left`).join("; ") || "not registered";
}

async function demo(lab: Lab, itsp: Itsp, file: string, stateDir: string): Promise<number> {
  say(`\n== wanctl check-config (in the office gateway)`);
  if ((await wanctl(lab, ["check-config", "--config", file])) !== 0) return 1;

  say(`\n== wanctl run: probing both links, each through itself`);
  let daemon: LabProcess | undefined = startDaemon(lab, file);
  try {
    await waitForStatus(stateDir, "both links up", (s) => s.active === "wan1" && s.links.every((l) => l.state === "up"), 20_000, daemon);
    await wanctl(lab, ["status", "--config", file]);
    say(`   the ITSP (Kamailio) sees the office's trunk: ${await trunk(itsp)}`);

    say(`\n== cutting wan1 beyond the office (its ISP's uplink dies; the office's port stays up)`);
    const cutAt = Date.now();
    await lab.cut("wan1");
    const after = await waitForStatus(stateDir, "failover to wan2", (s) => switchedTo(s, "wan2"), 15_000, daemon);
    const switched = Math.round(routeChangedAt(after) - cutAt);
    say(`   the office runs on wan2 ${switched} ms after the cut (default route: ${await lab.defaultRouteLink()})`);
    await wanctl(lab, ["status", "--config", file]);
    say(`   the ITSP sees the office's trunk: ${await trunk(itsp)}`);

    say(`\n== healing wan1: wanctl fails back only after ${HOLD_DOWN_SECONDS} s of hold-down`);
    await lab.heal("wan1");
    const back = await waitForStatus(stateDir, "failback to wan1", (s) => switchedTo(s, "wan1"), 30_000, daemon);
    const upSince = Date.parse(back.links.find((l) => l.name === "wan1")!.since);
    say(`   back on wan1, ${Math.round((Date.parse(back.lastSwitch!.startedAt) - upSince) / 1000)} s after it came back up`);
    await wanctl(lab, ["status", "--config", file]);
    say(`   the ITSP sees the office's trunk: ${await trunk(itsp)}`);

    say(`\n== wanctl test: the failover drill, to wan2 and back, every step for real`);
    if ((await wanctl(lab, ["test", "--config", file])) !== 0) return 1;
    say(`   the ITSP sees the office's trunk: ${await trunk(itsp)}`);
    await daemon.stop();
    daemon = undefined;
    say(`\ndemo: OK`);
    return 0;
  } finally {
    if (daemon) {
      say(`\nwanctl run output:\n${daemon.stdout.slice(-4000)}${daemon.stderr.slice(-2000)}`);
      await daemon.stop();
    }
  }
}

async function main(): Promise<number> {
  for (const availability of [labAvailability(), asteriskAvailability()]) {
    if (!availability.ok) {
      say(`demo: the network lab cannot run here: ${availability.reason}`);
      return 1;
    }
  }
  const lab = createLab();
  const config = labConfig("");
  config.failover = { holdDownSeconds: HOLD_DOWN_SECONDS };
  config.asterisk = { ami: { host: "192.168.50.10", port: 5038, username: AMI_USER, secret: AMI_SECRET }, pjsip: { transports: ["transport-udp"] } };
  const { file, dir } = writeLabConfig(config);
  let itsp: Itsp | undefined;
  let labAsterisk: LabAsterisk | undefined;
  try {
    say(`demo: building the lab (run ${lab.runId}): office gateway with wan1 and wan2, two ISPs, the internet, the PBX's LAN`);
    await lab.up();
    say(`demo: wan1 public ${lab.links.wan1.publicAddress}, wan2 public ${lab.links.wan2.publicAddress} (behind carrier NAT); default route via ${await lab.defaultRouteLink()}`);
    say(`demo: the ITSP's registrar (Kamailio) at 192.0.2.60; the PBX (Asterisk 20 with a PJSIP trunk) at 192.168.50.10, behind the office's NAT`);
    itsp = await startItsp(lab);
    labAsterisk = await startAsterisk(lab, { trunks: { chanSip: 0 } });
    return await demo(lab, itsp, file, join(dir, "state"));
  } finally {
    await labAsterisk?.stop();
    await itsp?.stop();
    await lab.down();
    rmSync(dir, { recursive: true, force: true });
    say("demo: lab down");
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`demo: FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
