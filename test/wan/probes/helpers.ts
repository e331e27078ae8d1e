// Shared by the probe tests: the loopback "link", leak checks, bounded waiting, throwaway network
// namespaces (always deleted, also when the test process dies).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type { LinkBinding } from "../../../src/wan/probes/types.js";

/** Loopback stands for a link here: bind 127.0.0.1, ping -I lo. */
export const LO: LinkBinding = { name: "lo", interface: "lo", sourceAddress: "127.0.0.1" };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms, at most `maxMs`; returns whether it became true. */
export async function waitFor(cond: () => boolean, maxMs = 5_000): Promise<boolean> {
  for (let waited = 0; waited <= maxMs; waited += 20) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

/** Handles that a probe could leak. */
const KINDS = ["TCPSocketWrap", "UDPWrap", "ProcessWrap", "PipeWrap", "Timeout"] as const;

export type HandleCounts = Record<(typeof KINDS)[number], number>;

export function handleCounts(): HandleCounts {
  const info = process.getActiveResourcesInfo();
  return Object.fromEntries(KINDS.map((k) => [k, info.filter((i) => i === k).length])) as HandleCounts;
}

/**
 * Waits (bounded) until no more handles of each kind are alive than in `before`; returns the
 * counts seen last (so a failing expect shows what leaked).
 */
export async function settleHandles(before: HandleCounts, maxMs = 3_000): Promise<HandleCounts> {
  let now = handleCounts();
  const ok = (): boolean => KINDS.every((k) => now[k] <= before[k]);
  for (let waited = 0; !ok() && waited < maxMs; waited += 20) {
    await sleep(20);
    now = handleCounts();
  }
  return now;
}

/** Whether no kind has more live handles than in `before`. */
export function noMoreThan(before: HandleCounts): (now: HandleCounts) => boolean {
  return (now) => KINDS.every((k) => now[k] <= before[k]);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A network namespace of this test run: `wpt-<random>p<pid>`. */
export interface Netns {
  readonly name: string;
  exec(argv: readonly string[]): string;
  /** `ip netns exec <name>`, as a spawn prefix. */
  readonly prefix: readonly string[];
  destroy(): void;
}

const live = new Set<string>();
let hooked = false;

function deleteNetns(name: string): void {
  if (!existsSync(`/run/netns/${name}`)) return;
  try {
    const pids = execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" }).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone already
      }
    }
  } catch {
    // no pids to list
  }
  execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
}

/** A namespace with `lo` up; deleted by destroy(), or at the latest when this process exits. */
export function createNetns(): Netns {
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const n of live) {
        try {
          deleteNetns(n);
        } catch {
          // keep going
        }
      }
    });
  }
  const name = `wpt-${randomBytes(3).toString("hex")}p${process.pid}`;
  execFileSync("ip", ["netns", "add", name]);
  live.add(name);
  const exec = (argv: readonly string[]): string =>
    execFileSync("ip", ["netns", "exec", name, ...argv], { encoding: "utf8", timeout: 10_000 });
  exec(["ip", "link", "set", "lo", "up"]);
  return {
    name,
    exec,
    prefix: ["ip", "netns", "exec", name],
    destroy() {
      deleteNetns(name);
      live.delete(name);
    },
  };
}
