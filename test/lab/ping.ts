// ping(8) inside a namespace, reduced to counts. Never a timing: tests assert on what arrived.
import { nsExec } from "./netns.js";

export interface PingOptions {
  /** `ping -I`: an interface name (SO_BINDTODEVICE) or a source address. */
  via?: string;
  /** Echo requests to send. Default 3. */
  count?: number;
  /** Gap between requests. Default 200 ms (root may go lower). */
  intervalMs?: number;
  /** How long to wait for each reply, in whole seconds. Default 1. */
  waitSec?: number;
}

export interface PingResult {
  transmitted: number;
  received: number;
  /** ping's exit code: 0 some replies, 1 none, 2 error (e.g. network unreachable). */
  code: number | null;
  output: string;
}

export async function ping(ns: string, dest: string, opts: PingOptions = {}): Promise<PingResult> {
  const count = opts.count ?? 3;
  const intervalMs = opts.intervalMs ?? 200;
  const waitSec = opts.waitSec ?? 1;
  const argv = ["ping", "-n", "-q", "-c", String(count), "-i", String(intervalMs / 1000), "-W", String(waitSec)];
  if (opts.via) argv.push("-I", opts.via);
  argv.push(dest);
  // Bounded: every request's gap plus a reply wait, with room for a slow machine.
  const timeoutMs = count * intervalMs + waitSec * 1000 + 10_000;
  const r = await nsExec(ns, argv, { timeoutMs });
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(r.stdout);
  return {
    transmitted: m ? Number(m[1]) : 0,
    received: m ? Number(m[2]) : 0,
    code: r.code,
    output: (r.stdout + r.stderr).trim(),
  };
}
