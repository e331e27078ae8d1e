// The office's Internet links and how each learns its public address.
import { z } from "zod";
import { httpUrl, host, ipv4, port, positiveInt } from "./common.js";

const publicIp = z
  .discriminatedUnion("method", [
    z
      .strictObject({ method: z.literal("interface") })
      .describe("The address on the interface is public (no NAT beyond the office)."),
    z.strictObject({
      method: z.literal("http"),
      urls: z
        .array(httpUrl())
        .min(1)
        .describe("IP echo services that answer with the caller's address as plain text; the answer most of them agree on wins."),
    }),
    z.strictObject({
      method: z.literal("stun"),
      servers: z
        .array(z.strictObject({ host: host().describe("STUN server."), port: port().default(3478).describe("STUN port.") }))
        .min(1)
        .describe("STUN servers (RFC 5389 binding request, XOR-MAPPED-ADDRESS)."),
    }),
    z.strictObject({
      method: z.literal("static"),
      address: ipv4().describe("The link's fixed public address."),
    }),
  ])
  .describe("How to learn the link's public address, always through the link itself.");

export const link = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,31}$/, { error: "expected a short lower-case name such as wan1" })
    .describe("Name used in logs, status, alerts and `wanctl use <link>`."),
  interface: z
    .string()
    .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, { error: "expected a Linux interface name (at most 15 characters)" })
    .describe("The office's interface toward this link's ISP."),
  gateway: ipv4().describe("The ISP's next hop on this link."),
  priority: positiveInt()
    .describe("Lower is preferred: the office runs on the lowest-priority-number link that is up."),
  publicIp: publicIp.default({ method: "interface" }),
});

export type LinkConfig = z.infer<typeof link>;
export type PublicIpConfig = z.infer<typeof publicIp>;
