import { describe, expect, test } from "vitest";
import { parseConntrackList, staleVoiceFlows } from "../../src/wan/route/conntrack.js";

// As conntrack 1.4.7 lists them (`conntrack -L -p udp`) on a gateway with static SNAT.
const listing = [
  "udp      17 119 src=192.168.50.10 dst=192.0.2.60 sport=5060 dport=5060 src=192.0.2.60 dst=198.51.100.10 sport=5060 dport=5060 [ASSURED] mark=0 use=1",
  "udp      17 29 src=192.168.50.10 dst=192.0.2.99 sport=14000 dport=31000 src=192.0.2.99 dst=198.51.100.10 sport=31000 dport=14000 mark=0 use=1",
  "udp      17 25 src=192.168.50.20 dst=192.168.50.10 sport=5060 dport=5060 src=192.168.50.10 dst=192.168.50.20 sport=5060 dport=5060 mark=0 use=1",
  "udp      17 20 src=192.168.50.10 dst=192.0.2.53 sport=40000 dport=53 src=192.0.2.53 dst=198.51.100.10 sport=53 dport=40000 mark=0 use=1",
  "udp      17 28 src=100.64.0.2 dst=192.0.2.60 sport=5060 dport=5060 src=192.0.2.60 dst=100.64.0.2 sport=5060 dport=5060 mark=0 use=1",
  "udp      17 28 src=198.51.100.10 dst=192.0.2.60 sport=5062 dport=5061 [UNREPLIED] src=192.0.2.60 dst=198.51.100.10 sport=5061 dport=5062 mark=0 use=1",
  "conntrack v1.4.7 (conntrack-tools): 6 flow entries have been shown.",
].join("\n");

describe("conntrack listing", () => {
  test("parses original and reply tuples and skips lines that are not entries", () => {
    const entries = parseConntrackList(listing);
    expect(entries).toHaveLength(6);
    expect(entries[0]).toEqual({
      protocol: "udp",
      original: { src: "192.168.50.10", dst: "192.0.2.60", sport: 5060, dport: 5060 },
      reply: { src: "192.0.2.60", dst: "198.51.100.10", sport: 5060, dport: 5060 },
    });
    expect(parseConntrackList("garbage\nudp 17 src=1.2.3.4\n")).toEqual([]);
  });

  test("after leaving wan1, only the SIP and RTP flows tied to wan1's address are stale", () => {
    const stale = staleVoiceFlows(parseConntrackList(listing), {
      sipPorts: [5060, 5061],
      rtpPorts: { from: 10000, to: 20000 },
      staleAddresses: new Set(["198.51.100.10"]),
    });
    expect(stale.map((e) => `${e.original.src}:${e.original.sport}>${e.original.dst}:${e.original.dport}`)).toEqual([
      "192.168.50.10:5060>192.0.2.60:5060", // the trunk, NATed to wan1
      "192.168.50.10:14000>192.0.2.99:31000", // RTP, NATed to wan1
      "198.51.100.10:5062>192.0.2.60:5061", // the gateway's own SIP from wan1's address
    ]);
  });

  test("a flow the ITSP opened to wan1's address (port-forwarded to the PBX) is stale too", () => {
    // The PBX's own packets to the ITSP match this entry's reply tuple and go out as wan1's address.
    const inbound = "udp      17 170 src=192.0.2.60 dst=198.51.100.10 sport=5060 dport=5060 src=192.168.50.10 dst=192.0.2.60 sport=5060 dport=5060 [ASSURED] mark=0 use=1";
    const stale = staleVoiceFlows(parseConntrackList(inbound), { sipPorts: [5060], rtpPorts: { from: 10000, to: 20000 }, staleAddresses: new Set(["198.51.100.10"]) });
    expect(stale).toHaveLength(1);
  });

  test("nothing is stale when no left link is involved", () => {
    const entries = parseConntrackList(listing);
    expect(staleVoiceFlows(entries, { sipPorts: [5060], rtpPorts: { from: 10000, to: 20000 }, staleAddresses: new Set(["203.0.113.99"]) })).toEqual([]);
  });
});
