// Can the lab run on this machine? Answered synchronously (test files decide at collection
// time whether to skip) and once per process.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { newRunId } from "./names.js";
import { execSync } from "./proc.js";

export type Availability = { ok: true } | { ok: false; reason: string };

/** Binaries the lab runs inside its namespaces (conntrack: tests of the stale-NAT problem). */
export const REQUIRED_BINARIES = ["ip", "iptables", "iptables-restore", "tc", "ping", "sysctl", "conntrack"] as const;

function onPath(bin: string): boolean {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  return dirs.some((d) => {
    try {
      accessSync(join(d, bin), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

let cached: Availability | undefined;

export function labAvailability(): Availability {
  cached ??= check();
  return cached;
}

function check(): Availability {
  if (process.platform !== "linux") return { ok: false, reason: `needs Linux, this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: "needs root (network namespaces)" };
  const missing = REQUIRED_BINARIES.filter((b) => !onPath(b));
  if (missing.length) return { ok: false, reason: `missing on PATH: ${missing.join(", ")}` };
  // Named like a lab namespace, so a sweep removes it if we die right here.
  const ns = `wl-${newRunId()}-avail`;
  const add = execSync(["ip", "netns", "add", ns]);
  if (add.code !== 0) return { ok: false, reason: `ip netns add failed: ${add.stderr.trim() || `exit ${add.code}`}` };
  try {
    const ipt = execSync(["ip", "netns", "exec", ns, "iptables", "-t", "raw", "-n", "-L"]);
    if (ipt.code !== 0) return { ok: false, reason: `iptables in a namespace failed: ${ipt.stderr.trim()}` };
    const veth = execSync(["ip", "-n", ns, "link", "add", "name", "probe0", "type", "veth", "peer", "name", "probe1"]);
    if (veth.code !== 0) return { ok: false, reason: `veth in a namespace failed: ${veth.stderr.trim()}` };
    return { ok: true };
  } finally {
    execSync(["ip", "netns", "del", ns]);
  }
}
