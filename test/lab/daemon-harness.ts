// Runs the real `wanctl run` inside the lab's office namespace and reads what it reports.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readStatus, type DaemonStatus } from "../../src/daemon/status-file.js";
import type { Lab, LabProcess } from "./index.js";

/** The built CLI, whether this module runs from the sources (vitest) or from dist/ (bench, demo). */
export const wanctlBin = fileURLToPath(
  new URL(import.meta.url.includes("/dist/test/") ? "../../src/cli/main.js" : "../../dist/src/cli/main.js", import.meta.url),
);

/**
 * The daemon as systemd starts it: node with the flags of the executable's own `#!/usr/bin/env -S
 * node …` line (they set the memory the benches measure), then the executable.
 */
export function wanctlCommand(): string[] {
  const first = readFileSync(wanctlBin, "utf8").split("\n", 1)[0] ?? "";
  const flags = /^#!\/usr\/bin\/env -S node((?: \S+)*)$/.exec(first)?.[1]?.trim().split(" ").filter(Boolean) ?? [];
  return [process.execPath, ...flags, wanctlBin];
}

export function startDaemon(lab: Lab, configFile: string): LabProcess {
  return lab.spawn("office", [...wanctlCommand(), "run", "--config", configFile]);
}

export function currentStatus(stateDir: string): DaemonStatus | undefined {
  const result = readStatus(stateDir);
  return result.ok ? result.value : undefined;
}

/** Polls the status file until `predicate` holds; bounded by `timeoutMs`. */
export async function waitForStatus(
  stateDir: string,
  what: string,
  predicate: (status: DaemonStatus) => boolean,
  timeoutMs = 15_000,
  daemon?: LabProcess,
): Promise<DaemonStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: DaemonStatus | undefined;
  while (Date.now() < deadline) {
    last = currentStatus(stateDir);
    if (last && predicate(last)) return last;
    if (daemon && !daemon.running) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const output = daemon ? `\ndaemon output:\n${daemon.stdout.slice(-3000)}\n${daemon.stderr.slice(-2000)}` : "";
  throw new Error(`timed out waiting for: ${what}\nlast status: ${JSON.stringify(last, null, 1)?.slice(0, 3000)}${output}`);
}

export const linkState = (status: DaemonStatus, link: string) => status.links.find((l) => l.name === link)?.state;

/** The office is on `link` and the switch there has finished all its steps (its report is in). */
export const switchedTo = (status: DaemonStatus, link: string): boolean =>
  status.active === link && status.lastSwitch?.to === link && !status.switching;

/** When the last switch's route step ended (the daemon's clock, ms since the epoch). */
export function routeChangedAt(status: DaemonStatus): number {
  const route = status.lastSwitch?.steps.find((s) => s.step === "route");
  if (!route || route.startedAtMs === undefined) throw new Error("the last switch has no timed route step");
  return route.startedAtMs + route.durationMs;
}
