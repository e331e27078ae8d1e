/**
 * What ICMP probing costs in CPU: one persistent ping per (link, target), as IcmpProbe does, versus
 * spawning `ping -c 1` for every probe. Prints figures; asserts nothing (benchmarks live in bench/).
 *
 *   npm run build && node dist/src/wan/probes/cpu-compare.js [seconds=10] [rateHz=2] [iface=lo]
 *
 * Probes 2 links × 3 targets (127.0.0.1-3 through `iface`, both "links" the same here) at
 * `rateHz` rounds a second for `seconds` in each mode, one mode after the other. CPU is counted
 * from /proc/self/stat: utime+stime of this process (the Node side: spawning, pipes, parsing)
 * and cutime+cstime (the ping processes, added by the kernel once each one is reaped; the
 * persistent pings are also sampled from /proc/<pid>/schedstat, in ns, just before they are
 * stopped, since 10 ms ticks are too coarse for them).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { IcmpProbe } from "./icmp.js";
import type { LinkBinding } from "./types.js";

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux architecture but alpha). */
const USER_HZ = 100;

interface ProcTimes {
  selfMs: number;
  childrenMs: number;
}

/** Fields after "(comm)": state is [0], utime [11], stime [12], cutime [13], cstime [14]. */
function statFields(pid: number | "self"): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

function procTimes(): ProcTimes {
  const f = statFields("self").map(Number);
  const ms = (ticks: number): number => (ticks * 1000) / USER_HZ;
  return { selfMs: ms(f[11]! + f[12]!), childrenMs: ms(f[13]! + f[14]!) };
}

/**
 * CPU time of a live process in ms, or 0 if it is gone: /proc/<pid>/schedstat's run time (ns
 * resolution) where the kernel has it, else utime+stime from /proc/<pid>/stat (10 ms ticks).
 */
function pidCpuMs(pid: number): number {
  try {
    const ns = Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
    if (Number.isFinite(ns)) return ns / 1e6;
  } catch {
    // no schedstat: fall back to the ticks
  }
  try {
    const f = statFields(pid).map(Number);
    return ((f[11]! + f[12]!) * 1000) / USER_HZ;
  } catch {
    return 0;
  }
}

export interface CpuFigures {
  readonly mode: "persistent" | "spawn-per-probe";
  readonly seconds: number;
  readonly probes: number;
  readonly okProbes: number;
  /** Node's own CPU (process.cpuUsage), ms. */
  readonly nodeMs: number;
  /** The ping processes' CPU (cutime+cstime once reaped), ms. */
  readonly pingMs: number;
  /** For the persistent mode: the pings' CPU read from /proc/<pid>/schedstat before stopping them. */
  readonly pingSampledMs?: number;
  readonly processesSpawned: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function links(iface: string): LinkBinding[] {
  return [
    { name: "a", interface: iface, sourceAddress: "127.0.0.1" },
    { name: "b", interface: iface, sourceAddress: "127.0.0.1" },
  ];
}
const TARGETS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];

/** Rounds at `rateHz` for `seconds`, each round = `round()`; returns the ok count. */
async function rounds(seconds: number, rateHz: number, round: () => Promise<boolean[]>): Promise<{ probes: number; ok: number }> {
  const intervalMs = 1000 / rateHz;
  const total = Math.round(seconds * rateHz);
  let probes = 0;
  let ok = 0;
  const start = Date.now();
  for (let i = 0; i < total; i++) {
    const results = await round();
    probes += results.length;
    ok += results.filter(Boolean).length;
    await sleep(Math.max(0, start + (i + 1) * intervalMs - Date.now()));
  }
  return { probes, ok };
}

export async function measurePersistent(seconds: number, rateHz: number, iface = "lo"): Promise<CpuFigures> {
  const timing = { intervalMs: 1000 / rateHz, timeoutMs: 1000 / rateHz };
  const t0 = procTimes();
  const cpu0 = process.cpuUsage();
  const probes = links(iface).flatMap((l) => TARGETS.map((t) => new IcmpProbe(l, t, timing)));
  const { probes: n, ok } = await rounds(seconds, rateHz, async () => (await Promise.all(probes.map((p) => p.run()))).map((r) => r.ok));
  const pids = probes.map((p) => p.session.pid).filter((p): p is number => p !== undefined);
  const pingSampledMs = pids.reduce((sum, pid) => sum + pidCpuMs(pid), 0);
  const spawned = probes.reduce((sum, p) => sum + p.session.starts, 0);
  await Promise.all(probes.map((p) => p.close()));
  const cpu = process.cpuUsage(cpu0);
  const t1 = procTimes();
  return {
    mode: "persistent",
    seconds,
    probes: n,
    okProbes: ok,
    nodeMs: (cpu.user + cpu.system) / 1000,
    pingMs: t1.childrenMs - t0.childrenMs,
    pingSampledMs,
    processesSpawned: spawned,
  };
}

function pingOnce(iface: string, target: string, timeoutS: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn("ping", ["-n", "-q", "-c", "1", "-W", String(timeoutS), "-I", iface, target], { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("close", (code) => resolve(code === 0));
  });
}

export async function measureSpawnPerProbe(seconds: number, rateHz: number, iface = "lo"): Promise<CpuFigures> {
  const t0 = procTimes();
  const cpu0 = process.cpuUsage();
  let spawned = 0;
  const pairs = links(iface).flatMap((l) => TARGETS.map((t) => [l.interface, t] as const));
  const { probes, ok } = await rounds(seconds, rateHz, () => {
    spawned += pairs.length;
    return Promise.all(pairs.map(([i, t]) => pingOnce(i, t, 1)));
  });
  const cpu = process.cpuUsage(cpu0);
  const t1 = procTimes();
  return {
    mode: "spawn-per-probe",
    seconds,
    probes,
    okProbes: ok,
    nodeMs: (cpu.user + cpu.system) / 1000,
    pingMs: t1.childrenMs - t0.childrenMs,
    processesSpawned: spawned,
  };
}

function line(f: CpuFigures): string {
  // The live sample (ns resolution) is the better figure for long-lived pings; ticks for the rest.
  const total = f.nodeMs + (f.pingSampledMs ?? f.pingMs);
  const pct = (ms: number): string => `${((ms / (f.seconds * 1000)) * 100).toFixed(2)}%`;
  return (
    `${f.mode.padEnd(16)} ${f.okProbes}/${f.probes} ok, ${f.processesSpawned} processes; ` +
    `node ${f.nodeMs.toFixed(0)} ms, ping ${f.pingMs.toFixed(0)} ms once reaped` +
    (f.pingSampledMs !== undefined ? ` (${f.pingSampledMs.toFixed(1)} ms read live from schedstat)` : "") +
    `; total ${total.toFixed(0)} ms = ${pct(total)} of one core`
  );
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 10);
  const rateHz = Number(process.argv[3] ?? 2);
  const iface = process.argv[4] ?? "lo";
  console.log(`ICMP probing, 2 links x 3 targets at ${rateHz} Hz for ${seconds} s via ${iface}:`);
  console.log(line(await measurePersistent(seconds, rateHz, iface)));
  console.log(line(await measureSpawnPerProbe(seconds, rateHz, iface)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
