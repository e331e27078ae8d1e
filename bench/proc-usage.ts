// CPU time and memory of a process and its descendants, from /proc (Linux).
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface ProcStat {
  pid: number;
  ppid: number;
  cpuTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { pid, ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** The process and everything below it (e.g. the daemon's ping children). */
export function processTree(root: number): number[] {
  const stats = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((s): s is ProcStat => s !== undefined);
  const tree = new Set([root]);
  for (let changed = true, rounds = 0; changed && rounds < 32; rounds++) {
    changed = false;
    for (const s of stats) if (tree.has(s.ppid) && !tree.has(s.pid)) (tree.add(s.pid), (changed = true));
  }
  return [...tree];
}

/** CPU seconds used so far by the processes. */
export function cpuSeconds(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (readStat(pid)?.cpuTicks ?? 0), 0) / TICKS_PER_SECOND;
}

export function rssMegabytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/**
 * The CPU (% of one core, the process and every descendant) and the highest RSS (MB) of `pid`
 * over the next `seconds`, sampled once a second.
 */
export async function usageOver(pid: number, seconds: number): Promise<{ cpu: number; rss: number }> {
  const cpuBefore = cpuSeconds(processTree(pid));
  const started = Date.now();
  let rss = 0;
  while (Date.now() - started < seconds * 1000) {
    rss = Math.max(rss, rssMegabytes(pid));
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const cpu = (100 * (cpuSeconds(processTree(pid)) - cpuBefore)) / ((Date.now() - started) / 1000);
  return { cpu, rss };
}
