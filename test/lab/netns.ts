// `ip netns` primitives. Each has an async form (normal teardown) and a sync form
// (process exit handlers, where the event loop no longer runs).
import { existsSync, readdirSync } from "node:fs";
import { exec, execSync, run, sleep, sleepSync, type ExecOptions, type ExecResult } from "./proc.js";

/** Where iproute2 keeps named namespaces. */
const NETNS_DIR = "/run/netns";
/** Bounds for "kill everything inside, then check again". */
const KILL_ROUNDS = 20;
const KILL_ROUND_MS = 50;

export const nsArgv = (ns: string, argv: readonly string[]): string[] => ["ip", "netns", "exec", ns, ...argv];

export function nsExec(ns: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
  return exec(nsArgv(ns, argv), opts);
}

export function nsRun(ns: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
  return run(nsArgv(ns, argv), opts);
}

export function namespaceExists(ns: string): boolean {
  return existsSync(`${NETNS_DIR}/${ns}`);
}

/** Named namespaces, read from the directory `ip netns list` reads. */
export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

const parsePids = (out: string): number[] =>
  out
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);

export async function namespacePids(ns: string): Promise<number[]> {
  if (!namespaceExists(ns)) return [];
  return parsePids((await exec(["ip", "netns", "pids", ns], { timeoutMs: 5_000 })).stdout);
}

function namespacePidsSync(ns: string): number[] {
  if (!namespaceExists(ns)) return [];
  return parsePids(execSync(["ip", "netns", "pids", ns]).stdout);
}

function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    if (pid === process.pid) continue; // never ourselves, even if we setns'd by accident
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * SIGKILL every process inside ns, then delete it. Missing namespaces are fine (teardown after a
 * half-built up). Returns an error text, or null when the namespace is gone.
 */
export async function destroyNamespace(ns: string): Promise<string | null> {
  if (!namespaceExists(ns)) return null;
  for (let i = 0; i < KILL_ROUNDS; i++) {
    const pids = await namespacePids(ns);
    if (pids.length === 0) break;
    killPids(pids);
    await sleep(KILL_ROUND_MS);
  }
  const r = await exec(["ip", "netns", "del", ns], { timeoutMs: 10_000 });
  if (namespaceExists(ns)) return `ip netns del ${ns}: ${r.stderr.trim() || `exit ${r.code}`}`;
  return null;
}

export function destroyNamespaceSync(ns: string): string | null {
  if (!namespaceExists(ns)) return null;
  for (let i = 0; i < KILL_ROUNDS; i++) {
    const pids = namespacePidsSync(ns);
    if (pids.length === 0) break;
    killPids(pids);
    sleepSync(KILL_ROUND_MS);
  }
  const r = execSync(["ip", "netns", "del", ns]);
  if (namespaceExists(ns)) return `ip netns del ${ns}: ${r.stderr.trim() || `exit ${r.code}`}`;
  return null;
}
