// The fakes the daemon's tests share: a route backend that records what it was asked, probes whose
// answers a test sets per link, and a logger that says nothing.
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/log.js";
import type { LinkBinding, Probe, ProbeResult } from "../../src/wan/probes/types.js";
import type { RouteBackend, SwitchResult } from "../../src/wan/route/backend.js";

/** Moves `active` when asked (or fails once, as the kernel would, when `failNext` is set). */
export class FakeRoute implements RouteBackend {
  active: string | undefined = "wan1";
  failNext = false;
  calls: string[] = [];
  addresses: Record<string, string> = { wan1: "198.51.100.10", wan2: "100.64.0.2" };
  /** Entries the flush reports deleted. */
  flushed = 2;
  async activeLink() {
    return this.active;
  }
  async prepareLink(name: string) {
    return this.addresses[name]!;
  }
  async linkAddress(name: string) {
    return this.addresses[name];
  }
  async flushStaleFlows(): Promise<number> {
    return this.flushed;
  }
  async activate(link: string): Promise<SwitchResult> {
    this.calls.push(link);
    if (this.failNext) {
      this.failNext = false;
      throw new Error("RTNETLINK answers: Network is unreachable");
    }
    this.active = link;
    return { active: link, durationMs: 1 };
  }
}

/** One ICMP-like probe per link that answers while `answering` says so for its link. */
export function answeringProbes(answering: ReadonlyMap<string, boolean>): (link: LinkBinding) => Probe[] {
  return (link) => [
    {
      target: "icmp 192.0.2.1",
      type: "icmp",
      link,
      run: async (): Promise<ProbeResult> => (answering.get(link.name) ? { target: "icmp 192.0.2.1", ok: true, rttMs: 1 } : { target: "icmp 192.0.2.1", ok: false, error: "timeout" }),
      close: async () => undefined,
    },
  ];
}

/** A logger that says nothing. */
export const quietLogger = (): Logger => createLogger({ pretty: false, level: "silent", destination: new Writable({ write: (_c, _e, done) => done() }) as never });
