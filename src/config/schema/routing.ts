// Failover policy and the backend that moves the default route.
import { z } from "zod";
import { seconds } from "./common.js";

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

export const route = z
  .discriminatedUnion("backend", [
    z.strictObject({
      backend: z.literal("linux").describe("iproute2 on this host."),
      flushConntrack: z
        .boolean()
        .default(true)
        .describe("After a switch, delete the connection-tracking entries of the UDP flows NATed to the link left (SIP, RTP and the rest: their NAT mapping is stale)."),
      tableBase: z
        .int({ error: "expected a whole number" })
        .min(1000)
        .max(30000)
        .default(4200)
        .describe("First routing table and rule priority of the per-link routing that keeps every link testable (link i uses base + i and priorities base + 2i, base + 2i + 1); change it if the host's own policy routing uses these numbers."),
    }),
  ])
  .default({ backend: "linux", flushConntrack: true, tableBase: 4200 })
  .describe("How the active link is changed.");

export type FailoverConfig = z.infer<typeof failover>;
export type RouteConfig = z.infer<typeof route>;
