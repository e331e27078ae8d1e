// The kernel's news about the links' interfaces: `ip -o monitor link address` prints a line for
// every change, so a pulled cable or a modem that died is known at once, long before three probe
// rounds have failed, and a new address (DHCP, PPP) as soon as it is set, without asking `ip` every
// few seconds. One long-running process for all links (like the persistent `ping`), started again
// with a pause if it ends. A cut beyond the office keeps the carrier: the probes find that.
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

/**
 * One IPv4 address line of `ip -o monitor address`: `3: wan1    inet 198.51.100.10/24 scope global
 * wan1\ …`, or `Deleted 3: wan1    inet …` when it went away. The interface's name, or null.
 */
export function parseAddressLine(line: string): string | null {
  return /^(?:Deleted\s+)?\d+:\s+([^:\s]+)\s+inet\s/.exec(line.trim())?.[1] ?? null;
}

export interface CarrierWatch {
  stop(): Promise<void>;
}

export interface CarrierWatchEvents {
  /** A link's carrier changed (and once per interface at start with its current carrier). */
  onChange(change: CarrierChange): void;
  /** An IPv4 address was added to or deleted from one of the interfaces. */
  onAddress?(iface: string): void;
  /** No `ip`, or its monitor ended: said once per distinct message; it is started again after a pause. */
  onError?(message: string): void;
}

const RESTART_PAUSE_MS = 1_000;

/** Watches `interfaces` for carrier and address changes (see CarrierWatchEvents). */
export function watchCarrier(interfaces: readonly string[], events: CarrierWatchEvents): CarrierWatch {
  const { onChange, onAddress, onError = () => undefined } = events;
  const wanted = new Set(interfaces);
  const last = new Map<string, boolean>();
  let child: ChildProcess | undefined;
  let stopped = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let lastError = "";

  const feed = (line: string): void => {
    const addressOf = onAddress && parseAddressLine(line);
    if (addressOf) {
      if (wanted.has(addressOf)) onAddress(addressOf);
      return;
    }
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
        if (stderr.trim() && stderr.trim() !== lastError) onError((lastError = `ip monitor ended: ${stderr.trim()}`));
        restartTimer = setTimeout(start, RESTART_PAUSE_MS);
      });
    }
    return proc;
  };
  function start(): void {
    if (stopped) return;
    // The monitor first, then the current state: a change in between is not missed.
    child = run(["-o", "monitor", "link", ...(onAddress ? ["address"] : [])], true);
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
