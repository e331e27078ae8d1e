// Builds a link's probes from the config's targets.
import { DnsProbe } from "./dns.js";
import { HttpProbe } from "./http.js";
import { IcmpProbe, type IcmpProbeOptions } from "./icmp.js";
import { SipProbe } from "./sip.js";
import { TcpProbe } from "./tcp.js";
import type { LinkBinding, Probe, ProbeResult, ProbeTargetConfig, ProbeTiming } from "./types.js";

export interface ProbeFactoryOptions {
  /** For ICMP: ping's path, a spawn prefix (network namespaces), restart and staleness bounds. */
  readonly icmp?: IcmpProbeOptions;
  /**
   * TCP "connection refused" and a UDP port-unreachable (DNS, SIP) from the target mean the
   * target's host answered, so the link works. Default true; see tcp.ts for the caveats.
   */
  readonly refusedMeansUp?: boolean;
  /** User part of the SIP OPTIONS From and Contact. Default "wanctl". */
  readonly sipUser?: string;
}

/** One probe of `target` through `link`. Throws on a target it cannot probe (bad name or URL, IPv6 target on an IPv4 link). */
export function createProbe(target: ProbeTargetConfig, link: LinkBinding, timing: ProbeTiming, options: ProbeFactoryOptions = {}): Probe {
  const refused = options.refusedMeansUp === undefined ? {} : { refusedMeansUp: options.refusedMeansUp };
  switch (target.type) {
    case "icmp":
      return new IcmpProbe(link, target.host, timing, options.icmp);
    case "tcp":
      return new TcpProbe(link, target.host, target.port, timing, refused);
    case "dns":
      return new DnsProbe(link, target.server, target.name, timing, refused);
    case "http":
      return new HttpProbe(link, target.url, timing, refused);
    case "sip":
      return new SipProbe(link, target.host, target.port, timing, { ...refused, ...(options.sipUser ? { user: options.sipUser } : {}) });
  }
}

/**
 * The probes of one link, in the order of `targets` (config `monitor.targets`). Nothing starts
 * until the first `run()`; `close()` every probe when done (or when the link's address changes:
 * probes are bound to the address they were built with). If one target cannot be probed, the
 * probes already built are closed and the error is thrown.
 */
export function createProbes(
  targets: readonly ProbeTargetConfig[],
  link: LinkBinding,
  timing: ProbeTiming,
  options: ProbeFactoryOptions = {},
): Probe[] {
  if (!(timing.intervalMs > 0) || !(timing.timeoutMs > 0)) throw new Error("probe interval and timeout must be positive");
  const probes: Probe[] = [];
  try {
    for (const t of targets) probes.push(createProbe(t, link, timing, options));
  } catch (err) {
    for (const p of probes) void p.close();
    throw err;
  }
  const labels = new Set(probes.map((p) => p.target));
  if (labels.size !== probes.length) {
    for (const p of probes) void p.close();
    throw new Error(`link ${link.name}: the same probe target is listed twice`);
  }
  return probes;
}

/** One round: every probe at once; results in the probes' order. Never rejects. */
export function runRound(probes: readonly Probe[], signal?: AbortSignal): Promise<ProbeResult[]> {
  return Promise.all(probes.map((p) => p.run(signal)));
}
