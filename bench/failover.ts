// Failover benchmark on the network lab: detection and route-change times over N hard cuts, false
// switches during a 20 % loss soak, and the daemon's CPU and RSS while probing 2 links × 3
// targets at 2 Hz. Prints its figures and ends with one JSON line. Targets: ≤ 1.5 s p95 to detect,
// 0 false switches, RSS ≤ 80 MB, CPU ≤ 2 % of a core.
//   npm run bench:failover -- --cuts N --soak-seconds S
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { ConfigInput } from "../src/config/schema/index.js";
import { runScriptOnLab, SERVICES, type Lab, type LabProcess } from "../test/lab/index.js";
import { currentStatus, linkState, startDaemon, routeChangedAt, switchedTo, waitForStatus } from "../test/lab/daemon-harness.js";
import { labConfig, writeLabConfig } from "../test/lab/wanctl-config.js";
import { startEchoJitter } from "../test/lab/echo-jitter.js";
import { usageOver } from "./proc-usage.js";
import { percentile, say, sleep } from "./common.js";

const { values } = parseArgs({
  options: {
    cuts: { type: "string", default: "10" },
    "soak-seconds": { type: "string", default: "60" },
    "cpu-seconds": { type: "string", default: "20" },
  },
});
const cuts = Math.max(1, Math.min(200, Number(values.cuts)));
const soakSeconds = Math.max(1, Math.min(3600, Number(values["soak-seconds"])));
const cpuWindowSeconds = Math.max(5, Math.min(600, Number(values["cpu-seconds"])));

const LOSS_EACH_WAY_FOR_20_PCT = 100 * (1 - Math.sqrt(0.8));



async function withDaemon<T>(lab: Lab, config: ConfigInput, work: (stateDir: string, daemon: LabProcess) => Promise<T>): Promise<T> {
  const { file, dir } = writeLabConfig(config);
  const stateDir = join(dir, "state");
  const daemon = startDaemon(lab, file);
  try {
    await waitForStatus(stateDir, "both links up", (s) => s.links.every((l) => l.state === "up") && s.active === "wan1", 20_000, daemon);
    return await work(stateDir, daemon);
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureCuts(lab: Lab): Promise<{ detect: number[]; route: number[] }> {
  const config = labConfig("");
  config.failover = { holdDownSeconds: 2 };
  const detect: number[] = [];
  const route: number[] = [];
  await withDaemon(lab, config, async (stateDir, daemon) => {
    for (let i = 0; i < cuts; i++) {
      // A random phase against the probe rounds, as a real cut has.
      await sleep(Math.random() * 350);
      const cutAt = Date.now();
      await lab.cut("wan1");
      const after = await waitForStatus(stateDir, `failover ${i + 1}`, (s) => switchedTo(s, "wan2"), 15_000, daemon);
      const wan1 = after.links.find((l) => l.name === "wan1")!;
      detect.push(Date.parse(wan1.since) - cutAt);
      route.push(Math.round(routeChangedAt(after) - cutAt));
      say(`cut ${i + 1}/${cuts}: detected after ${detect.at(-1)} ms, route changed after ${route.at(-1)} ms`);
      await lab.heal("wan1");
      await waitForStatus(stateDir, `failback ${i + 1}`, (s) => switchedTo(s, "wan1") && linkState(s, "wan2") === "up", 20_000, daemon);
    }
  });
  return { detect, route };
}

async function soak(lab: Lab): Promise<number> {
  return withDaemon(lab, labConfig(""), async (stateDir) => {
    const before = currentStatus(stateDir)!.switches;
    await lab.impair("wan1", { lossPct: LOSS_EACH_WAY_FOR_20_PCT });
    const jitter = await startEchoJitter(lab, { slowedSources: [lab.links.wan1.publicAddress], delayMs: 50, jitterMs: 50 });
    say(`soak: 20 % round-trip loss and 50 ± 50 ms delay on the active link for ${soakSeconds} s`);
    await sleep(soakSeconds * 1000);
    await jitter.stop();
    await lab.clear("wan1");
    const status = currentStatus(stateDir)!;
    const wan1 = status.links.find((l) => l.name === "wan1");
    say(`soak: wan1 measured ${wan1?.lossPct?.toFixed(1)} % loss and ${wan1?.jitterMs?.toFixed(1)} ms jitter over its window; ${status.switches - before} switches`);
    return status.switches - before;
  });
}

async function usage(lab: Lab): Promise<{ rss: number; cpu: number }> {
  const config = labConfig("");
  config.monitor = {
    targets: [SERVICES.probe1, SERVICES.probe2, SERVICES.probe3].map((host) => ({ type: "icmp" as const, host })),
    intervalMs: 500,
    timeoutMs: 500,
  };
  return withDaemon(lab, config, async (_stateDir, daemon) => {
    await sleep(2000); // past start-up
    const { cpu, rss } = await usageOver(daemon.pid, cpuWindowSeconds);
    say(`probing 2 links × 3 targets at 2 Hz for ${cpuWindowSeconds} s: CPU ${cpu.toFixed(2)} % of a core (daemon and its ping processes), RSS ${rss.toFixed(1)} MB`);
    return { rss, cpu };
  });
}

runScriptOnLab("bench", async (lab) => {
  const { detect, route } = await measureCuts(lab);
  const falseSwitches = await soak(lab);
  const { rss, cpu } = await usage(lab);
  const round = (n: number) => Math.round(n * 10) / 10;
  const figures = {
    cuts,
    detect_ms_p50: percentile(detect, 50),
    detect_ms_p95: percentile(detect, 95),
    route_ms_p50: percentile(route, 50),
    route_ms_p95: percentile(route, 95),
    soak_seconds: soakSeconds,
    false_switches: falseSwitches,
    rss_mb: round(rss),
    cpu_pct: round(cpu),
  };
  say(`targets: detect p95 ≤ 1500 ms, 0 false switches, RSS ≤ 80 MB, CPU ≤ 2 %`);
  say(JSON.stringify(figures));
});
