/**
 * Probes: one request to one target, leaving through one given link.
 *
 * A monitor runs a *round* per link every `intervalMs` (config `monitor.intervalMs`, ~350 ms): it
 * calls {@link Probe.run} on each of the link's probes at once and hands the results to the link's
 * health state machine (src/wan/health.ts). Every probe has a timeout, never rejects, and leaves
 * nothing behind once `close()` resolved.
 *
 * Binding to a link ({@link LinkBinding}): sockets (TCP, DNS, HTTP, SIP) are bound to the link's
 * source address; ICMP uses `ping -I <interface>` (SO_BINDTODEVICE). What the gateway's routing
 * must provide so that they leave through that link whichever link holds the main default route:
 * - one routing table per link with that link's own default route
 *   (`ip route replace default via <gateway> dev <interface> table <T>`), and
 * - `ip rule add from <source address>/32 lookup <T>`: sockets bound to the address use it. It
 *   also serves `ping -I <interface>`: the kernel takes the device's address as the source before
 *   the rule lookup (checked in network namespaces: with the main default route on the other
 *   link and only this rule, `ping -I wan2` went out and came back through wan2). An extra
 *   `ip rule add oif <interface> lookup <T>` does no harm.
 * Without them a bound socket still follows the main table (or fails: a source address that
 * is not on the outgoing interface gets dropped by the ISP's BCP 38 filter).
 * The source address is the one the probes were built with: when a link's address changes
 * (DHCP, PPP), close its probes and build new ones.
 */
import type { ProbeTargetConfig } from "../../config/schema/monitor.js";

export type { ProbeTargetConfig };

/** The link a probe tests. */
export interface LinkBinding {
  /** The link's name (config `links[].name`), used in messages. */
  readonly name: string;
  /** The office's interface toward this link's ISP, e.g. `wan1` (for `ping -I`). */
  readonly interface: string;
  /** The office's address on that interface; sockets bind to it (policy routing `from` it). */
  readonly sourceAddress: string;
}

/** One probe's outcome: what health.ts judges (target, ok, rttMs), plus words for humans. */
export interface ProbeResult {
  /** The probe's label ({@link targetLabel}), unique within a link. */
  readonly target: string;
  /** The path through the link works: the target (or the host behind it) answered in time. */
  readonly ok: boolean;
  /** Round-trip time in ms (finite, ≥ 0). Present when ok. */
  readonly rttMs?: number;
  /** Why the probe failed (timeout, unreachable, ...). Present when not ok. */
  readonly error?: string;
  /** What answered, when ok: "HTTP 500", "SIP 404 Not Found", "rcode NXDOMAIN", "icmp_seq=12", ... */
  readonly detail?: string;
}

export type ProbeType = ProbeTargetConfig["type"];

export interface Probe {
  /** Label of the target, e.g. `icmp 192.0.2.1`, `tcp 192.0.2.1:443`, `sip 192.0.2.60:5060`. */
  readonly target: string;
  readonly type: ProbeType;
  readonly link: LinkBinding;
  /**
   * One probe, answered within the probe's timeout. Never rejects: failures are results with
   * `ok: false` and an `error`. An aborted signal ends it at once (`error: "aborted"`).
   * After `close()` it resolves at once with `error: "probe closed"`.
   */
  run(signal?: AbortSignal): Promise<ProbeResult>;
  /** Stops everything the probe runs (processes, sockets, timers); idempotent. */
  close(): Promise<void>;
}

/** Timing shared by the probes of a monitor (config `monitor.intervalMs` / `timeoutMs`). */
export interface ProbeTiming {
  /** Time between rounds of a link; the persistent ping sends one echo request per interval. */
  readonly intervalMs: number;
  /** A probe without an answer after this long is lost. */
  readonly timeoutMs: number;
}

/** A short label for a target, unique for distinct targets of one link. */
export function targetLabel(t: ProbeTargetConfig): string {
  switch (t.type) {
    case "icmp":
      return `icmp ${t.host}`;
    case "tcp":
      return `tcp ${hostPort(t.host, t.port)}`;
    case "dns":
      return `dns ${t.name} @${t.server}`;
    case "http":
      return `http ${t.url}`;
    case "sip":
      return `sip ${hostPort(t.host, t.port)}`;
  }
}

export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
