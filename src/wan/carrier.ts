// The carrier of each link's interface, from the kernel: `ip -o monitor link` prints a line for
// every change, so a pulled cable or a modem that died is known at once, long before three probe
// rounds have failed. One long-running process for all links (like the persistent `ping`), started
// again with a pause if it ends. A cut beyond the office keeps the carrier: the probes find that.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

export interface CarrierChange {
  readonly iface: string;
  /** LOWER_UP: the interface has a carrier. */
  readonly up: boolean;
}

/**
 * One line of `ip -o link show` or `ip -o monitor link`:
 * `5: wan1@if4: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 ... state LOWERLAYERDOWN ...`, or
 * `Deleted 5: wan1@if4: <...> ...` when the interface went away.
 */
export function parseLinkLine(line: string): CarrierChange | null {
  const m = /^(Deleted\s+)?\d+:\s+([^:@\s]+)(?:@[^:\s]*)?:\s+<([^>]*)>/.exec(line.trim());
  if (!m) return null;
  const flags = m[3]!.split(",");
  return { iface: m[2]!, up: !m[1] && flags.includes("LOWER_UP") && !flags.includes("NO-CARRIER") };
}

export interface CarrierWatch {
  stop(): Promise<void>;
}

const RESTART_PAUSE_MS = 1_000;

/**
 * Calls `onChange` when the carrier of one of `interfaces` changes (and once per interface at
 * start with its current carrier). Errors (no `ip`) are reported once through `onError` and the
 * monitor is started again after a pause.
 */
export function watchCarrier(interfaces: readonly string[], onChange: (change: CarrierChange) => void, onError: (message: string) => void = () => undefined): CarrierWatch {
  const wanted = new Set(interfaces);
  const last = new Map<string, boolean>();
  let child: ChildProcess | undefined;
  let stopped = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let lastError = "";

  const feed = (line: string): void => {
    const change = parseLinkLine(line);
    if (!change || !wanted.has(change.iface) || last.get(change.iface) === change.up) return;
    last.set(change.iface, change.up);
    onChange(change);
  };
  const run = (argv: string[], keep: boolean): ChildProcess => {
    const proc = spawn("ip", argv, { stdio: ["ignore", "pipe", "pipe"] });
    createInterface({ input: proc.stdout! }).on("line", feed);
    let stderr = "";
    proc.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    proc.once("error", (error: NodeJS.ErrnoException) => {
      const message = error.code === "ENOENT" ? "ip not found: carrier changes are not watched (probe rounds still find a dead link)" : error.message;
      if (message !== lastError) onError(message);
      lastError = message;
    });
    if (keep) {
      proc.once("exit", () => {
        if (stopped) return;
        if (stderr.trim() && stderr.trim() !== lastError) onError((lastError = `ip monitor link ended: ${stderr.trim()}`));
        restartTimer = setTimeout(start, RESTART_PAUSE_MS);
      });
    }
    return proc;
  };
  function start(): void {
    if (stopped) return;
    // The monitor first, then the current state: a change in between is not missed.
    child = run(["-o", "monitor", "link"], true);
    run(["-o", "link", "show"], false);
  }
  start();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(restartTimer);
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child!.once("exit", () => resolve()));
        child.kill();
        await Promise.race([exited, new Promise((r) => setTimeout(r, 1_000))]);
      }
    },
  };
}
