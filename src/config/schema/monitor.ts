// Probes and link health: how wanctl decides that a link is up, down or degraded.
import { z } from "zod";
import { dnsName, host, httpUrl, milliseconds, port, positiveInt } from "./common.js";

const target = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("icmp"), host: host().describe("Address to ping.") }),
    z.strictObject({ type: z.literal("tcp"), host: host().describe("Host to connect to."), port: port().describe("TCP port.") }),
    z.strictObject({
      type: z.literal("dns"),
      server: host().describe("DNS server to ask over UDP."),
      name: dnsName().describe("Name to look up (any answer, even NXDOMAIN, proves the path)."),
    }),
    z.strictObject({ type: z.literal("http"), url: httpUrl().describe("URL to GET; any HTTP response counts.") }),
    z.strictObject({
      type: z.literal("sip"),
      host: host().describe("The ITSP's SIP proxy; any SIP response to OPTIONS (even 4xx) means reachable."),
      port: port().default(5060).describe("SIP port (UDP)."),
    }),
  ])
  .describe("One probe target.");

export const monitor = z
  .strictObject({
    targets: z
      .array(target)
      .default([])
      .describe('Probe targets; every link probes all of them, each probe leaving through the link it tests. At least one, except with route.backend "none": there they are optional, and probe the office\'s path to the Internet through the router (its default route) as one health state, "gateway".'),
    intervalMs: milliseconds().default(250).describe("Time between probe rounds of a link."),
    standbyIntervalMs: milliseconds()
      .default(1000)
      .describe(
        "Time between probe rounds of a link that does not carry the office, while the one that does is up and its last round passed; they are all probed every intervalMs again from the first round that fails. Less traffic on a metered backup (LTE) and less CPU; the standby's own state is known a little later (down after downAfter, up after upAfter of these rounds). Never shorter than intervalMs: set it equal to probe every link alike.",
      ),
    timeoutMs: milliseconds().default(250).describe("A probe without an answer after this long is lost (raise it for a link whose round trip can exceed it: satellite, a congested LTE uplink)."),
    quorum: positiveInt().default(1).describe("A round passes when at least this many targets answer."),
    downAfter: positiveInt().default(3).describe("Failed rounds in a row that mark a link down."),
    upAfter: positiveInt().default(5).describe("Good rounds in a row that mark a link up."),
    windowRounds: positiveInt().default(80).describe("Rounds over which loss, latency and jitter are measured (80 rounds: 20 s at the default interval)."),
    quality: z
      .strictObject({
        maxLossPct: z.number().min(0).max(100).optional().describe("Loss above this marks the link degraded."),
        maxLatencyMs: z.number().positive().optional().describe("Latency above this marks the link degraded."),
        maxJitterMs: z.number().positive().optional().describe("Jitter above this marks the link degraded."),
      })
      .optional()
      .describe("Optional quality thresholds; a link that is up but worse than these is degraded."),
  })
  .describe("Link monitoring.");

export type MonitorConfig = z.infer<typeof monitor>;
export type ProbeTargetConfig = z.infer<typeof target>;
