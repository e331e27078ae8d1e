// Failover policy and the backend that moves the default route.
import { z } from "zod";
import { parseBlock } from "../../wan/public-ip/address.js";
import { normalizeFingerprint } from "../../wan/route/routeros/client.js";
import { host, httpUrl, milliseconds, port, positiveInt, seconds, secret } from "./common.js";

export const failover = z
  .strictObject({
    holdDownSeconds: seconds()
      .default(180)
      .describe("A better link must stay up this long before the office fails back to it."),
    waitForIdleCalls: z
      .boolean()
      .default(false)
      .describe("Fail back only when no call is up (counted over AMI)."),
    maxCallWaitSeconds: seconds()
      .default(900)
      .describe("With waitForIdleCalls, fail back anyway after waiting this long."),
  })
  .describe("When to fail over and back.");

const portRange = z
  .strictObject({
    from: port().describe("First port."),
    to: port().describe("Last port."),
  })
  .refine((range) => range.from <= range.to, { error: "from must not be greater than to" });

const flushConntrack = z
  .boolean()
  .default(true)
  .describe("After a switch, delete the connection-tracking entries of the flows tied to the link left (their NAT mapping is stale).");
const sipPorts = z.array(port()).default([5060, 5061]).describe("UDP ports of SIP flows to flush.");
const rtpPorts = portRange.default({ from: 10000, to: 20000 }).describe("UDP port range of RTP flows to flush.");

const linux = z.strictObject({
  backend: z.literal("linux").describe("iproute2 on this host."),
  flushConntrack: flushConntrack.describe("After a switch, delete the connection-tracking entries of the UDP flows NATed to the link left (SIP, RTP and the rest: their NAT mapping is stale)."),
  // Older configs named the ports to flush; every UDP flow NATed to the link left goes now.
  sipPorts: z.array(port()).optional().describe("No longer used (every UDP flow NATed to the link left is flushed); accepted so that older configs still load."),
  rtpPorts: portRange.optional().describe("No longer used, like sipPorts."),
  tableBase: z
    .int({ error: "expected a whole number" })
    .min(1000)
    .max(30000)
    .default(4200)
    .describe("First routing table and rule priority of the per-link routing that keeps every link testable (link i uses base + i and priorities base + 2i, base + 2i + 1); change it if the host's own policy routing uses these numbers."),
});

const routerTls = z.union(
  [
    z.strictObject({
      ca: z.string().min(1).describe("PEM file of the CA that signed the router's certificate (a self-signed certificate is its own CA)."),
      serverName: host()
        .optional()
        .describe("The name the certificate must carry, when the router is reached by an address its certificate does not name."),
    }),
    z.strictObject({
      fingerprint: z
        .string()
        .refine((value) => normalizeFingerprint(value) !== null, { error: "expected the certificate's SHA-256 fingerprint: 64 hex digits, colons allowed" })
        .describe("The router certificate's SHA-256 fingerprint (pinned: no CA needed), e.g. from `openssl x509 -noout -fingerprint -sha256`."),
    }),
  ],
  { error: 'expected {"ca": "/path/to/ca.pem"} or {"fingerprint": "sha256 hex"}' },
);

const DEFAULT_ROUTER_PORTS = { api: 8728, "api-tls": 8729, rest: 443 } as const;

const router = z
  .strictObject({
    host: host().describe("The router's address (or name) on the LAN."),
    transport: z
      .enum(["api", "api-tls", "rest"])
      .default("api-tls")
      .describe('"api-tls": the API over TLS (service api-ssl, 8729); "api": the API in clear (service api, 8728: the password crosses the LAN unencrypted); "rest": REST over HTTPS (service www-ssl, RouterOS 7.1+; probes cost a request per echo).'),
    port: port().optional().describe("Port of the service; default 8729 (api-tls), 8728 (api), 443 (rest)."),
    user: z.string().min(1).describe("The RouterOS user wanctl logs in as (see the README for its group's policies)."),
    password: secret().describe("Its password."),
    tls: routerTls.optional().describe("How to check the router's certificate (api-tls and rest): a CA file or a pinned fingerprint."),
    timeoutMs: milliseconds().default(3000).describe("Connect, login and each command's answer."),
  })
  .superRefine((r, ctx) => {
    if (r.transport !== "api" && !r.tls) {
      ctx.addIssue({ code: "custom", path: ["tls"], message: `transport "${r.transport}" needs "tls" ({"ca": ...} or {"fingerprint": ...}) so that the password goes to the router and nobody else` });
    }
    if (r.transport === "api" && r.tls) ctx.addIssue({ code: "custom", path: ["tls"], message: 'transport "api" is not encrypted: use "api-tls" with "tls"' });
  })
  .transform((r) => ({ ...r, port: r.port ?? DEFAULT_ROUTER_PORTS[r.transport] }))
  .describe("The router and how wanctl logs in to it.");

const routerLink = z
  .strictObject({
    probeVia: z
      .enum(["interface", "routing-table", "src-address"])
      .default("interface")
      .describe('How the router\'s /ping leaves through this link: "interface" (interface=, for point-to-point links such as PPPoE or LTE), "routing-table" (routing-table=, RouterOS 7: a table holding the link\'s own default route), "src-address" (the link\'s address, for a routing rule that sends it through the link).'),
    routingTable: z.string().min(1).optional().describe('With probeVia "routing-table": the table\'s name.'),
  })
  .superRefine((l, ctx) => {
    if (l.probeVia === "routing-table" && !l.routingTable) ctx.addIssue({ code: "custom", path: ["routingTable"], message: 'probeVia "routing-table" needs "routingTable", the name of the table' });
    if (l.probeVia !== "routing-table" && l.routingTable) ctx.addIssue({ code: "custom", path: ["routingTable"], message: `routingTable is used only with probeVia "routing-table"` });
  });

const distance = () => z.int({ error: "expected a whole number" }).min(1).max(254);

const routeros = z
  .strictObject({
    backend: z.literal("routeros").describe("A MikroTik RouterOS router, driven over its API (or REST) from this host on the LAN."),
    router,
    markPrefix: z
      .string()
      .regex(/^\S+$/, { error: "expected a comment prefix without spaces" })
      .default("wanctl:")
      .describe("The default routes wanctl manages carry the comment <markPrefix><link name>, e.g. wanctl:wan1; no other route is touched."),
    switchBy: z
      .enum(["distance", "disable"])
      .default("distance")
      .describe('"distance": the active link\'s routes get activeDistance and the others standbyDistance + their rank by priority (distinct, so no two tie; they stay usable, in priority order, should wanctl stop); "disable": the others are disabled.'),
    activeDistance: distance().default(1).describe("Distance of the active link's marked routes."),
    standbyDistance: distance().default(10).describe("Distance of a standby link's marked routes: this plus the link's rank by priority (0 for the first)."),
    flushConntrack,
    sipPorts,
    rtpPorts,
    links: z
      .record(z.string(), routerLink)
      .default({})
      .describe('Per link (by name): how the router probes it, e.g. {"wan2": {"probeVia": "routing-table", "routingTable": "via-wan2"}}; a link not listed is probed with interface=.'),
  })
  .superRefine((r, ctx) => {
    if (r.standbyDistance <= r.activeDistance) ctx.addIssue({ code: "custom", path: ["standbyDistance"], message: `must be more than activeDistance (${r.activeDistance}), or the standby routes could win` });
  });

/** An IPv4 address or block: "203.0.113.10" or "203.0.113.0/24". */
const addressBlock = () =>
  z.string().refine((v) => parseBlock(v) !== null, { error: "expected an IPv4 address or a CIDR block such as 203.0.113.0/24" });

// How often and how patiently the office's egress is looked at; common to both methods.
const egressTiming = {
  intervalMs: milliseconds()
    .max(10_000, { error: "at most 10000 ms: the looks are what feeds the systemd watchdog, and how soon a switch is seen" })
    .default(500)
    .describe("One look at the office's public address this often (one STUN request, or one echo request, through the default route): a switch of the router's is seen within this (plus a round trip)."),
  timeoutMs: milliseconds().default(500).describe("A look that gets no answer within this long has failed (the next source is tried)."),
  downAfter: positiveInt()
    .default(3)
    .describe("Failed looks in a row after which the office is said to have no way out (shown as the active link down); from then on the looks back off, up to 4 intervals."),
};

const egress = z
  .discriminatedUnion("method", [
    z.strictObject({
      method: z.literal("stun"),
      servers: z
        .array(z.strictObject({ host: host().describe("STUN server."), port: port().default(3478).describe("STUN port.") }))
        .min(1)
        .describe("STUN servers (RFC 5389 Binding request), asked one at a time: the next only when one fails."),
      ...egressTiming,
    }),
    z.strictObject({
      method: z.literal("http"),
      urls: z
        .array(httpUrl())
        .min(1)
        .describe("IP echo services that answer with the caller's address (plain text or {\"ip\": ...}), asked one at a time: the next only when one fails. Ask only your own at a short interval."),
      ...egressTiming,
    }),
  ])
  .describe("How wanctl sees which link carries the office: the public address its traffic leaves with, through the default route (the router's choice).");

const followedLink = z.strictObject({
  addresses: z
    .array(addressBlock())
    .min(1)
    .describe('The public addresses the office\'s traffic can leave with through this link: addresses or CIDR blocks, e.g. ["203.0.113.0/24"] for an ISP whose carrier NAT hands out any address of that block.'),
});

const none = z.strictObject({
  backend: z.literal("none").describe("A router that switches by itself: wanctl (on the PBX host) owns no routes, sees the router's switch in the office's public address, and follows it (public-ip, DNS, Asterisk, trunks)."),
  egress,
  links: z
    .record(z.string(), followedLink)
    .default({})
    .describe('Per link (by name): the addresses its traffic leaves with, when its publicIp is not "static" (a dynamic address, carrier NAT), e.g. {"wan2": {"addresses": ["203.0.113.0/24"]}}.'),
});

export const route = z
  .discriminatedUnion("backend", [linux, routeros, none])
  .default({ backend: "linux", flushConntrack: true, tableBase: 4200 })
  .describe("How the active link is changed.");

export type FailoverConfig = z.infer<typeof failover>;
export type RouteConfig = z.infer<typeof route>;
export type RouterOsRouteConfig = Extract<RouteConfig, { backend: "routeros" }>;
export type NoneRouteConfig = Extract<RouteConfig, { backend: "none" }>;
export type EgressConfig = NoneRouteConfig["egress"];
export type RouterConnectionConfig = RouterOsRouteConfig["router"];
