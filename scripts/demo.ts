// The demo: wanctl's main job on the built-in network lab. Brings the lab up, runs wanctl in the
// office gateway's namespace, and always takes the lab down again.
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createLab, labAvailability } from "../test/lab/index.js";
import { writeLabConfig } from "../test/lab/wanctl-config.js";

const wanctl = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function main(): Promise<number> {
  const availability = labAvailability();
  if (!availability.ok) {
    say(`demo: the network lab cannot run here: ${availability.reason}`);
    return 1;
  }
  const lab = createLab();
  const { file, dir } = writeLabConfig();
  try {
    say(`demo: building the lab (run ${lab.runId}): office gateway with wan1 and wan2, two ISPs, the internet, the PBX's LAN`);
    await lab.up();
    say(`demo: default route via ${await lab.defaultRouteLink()}; wan1 public ${lab.links.wan1.publicAddress}, wan2 public ${lab.links.wan2.publicAddress} (behind carrier NAT)`);

    say(`demo: wanctl check-config ${file} (in the office gateway)`);
    const check = await lab.exec("office", [process.execPath, wanctl, "check-config", "--config", file]);
    process.stdout.write(check.stdout);
    process.stderr.write(check.stderr);
    if (check.code !== 0) {
      say(`demo: FAILED: check-config exited ${check.code}`);
      return 1;
    }
    say("demo: OK (the failover itself arrives with link monitoring: see the README)");
    return 0;
  } finally {
    await lab.down();
    rmSync(dir, { recursive: true, force: true });
    say("demo: lab down");
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
