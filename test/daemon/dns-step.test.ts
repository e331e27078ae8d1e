// The DNS step of a converge run against a fake primary (RFC 2136 + TSIG on 127.0.0.1): each
// link's own name at that link's address, the SRV records with the active link first, a link that
// cannot be reached keeping its name, and nothing sent while all holds.
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema/index.js";
import { ddnsStatus } from "../../src/ddns/index.js";
import { dnsStep } from "../../src/daemon/dns-step.js";
import { createLogger } from "../../src/log.js";
import { minimalConfig } from "../config/fixtures.js";
import { startFakeDns, type FakeDns } from "../ddns/fake-dns.js";
import { tempDir } from "../temp-dirs.js";

const KEY_B64 = Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");
const KEY = { name: "wanctl-key", algorithm: "hmac-sha256" as const, secret: Buffer.from(KEY_B64, "base64") };
const WAN1 = "198.51.100.10";
const WAN2 = "203.0.113.10";
const quiet = createLogger({ pretty: false, level: "silent", destination: new Writable({ write: (_c, _e, done) => done() }) as never });
const route = { sourceAddress: async () => "127.0.0.1" };

let dns: FakeDns;
let config: Config;
beforeEach(async () => {
  dns = await startFakeDns({ zone: "example.com", records: { "office.example.com": [WAN1] }, key: KEY });
  config = parseConfigText(
    JSON.stringify({
      ...minimalConfig(),
      stateDir: tempDir(),
      dns: {
        providers: [{ id: "bind", type: "rfc2136", server: "127.0.0.1", port: dns.port, zone: "example.com", tsig: { name: "wanctl-key", secret: KEY_B64 } }],
        records: [{ name: "office.example.com", provider: "bind", verify: false }],
        sip: { domain: "office.example.com", provider: "bind", services: [{ service: "_sip._udp" }, { service: "_sip._tcp" }], verify: false },
      },
    }),
    "c.json",
  );
});
afterEach(async () => {
  await dns.close();
});

/** Learns a link's address as compose.ts does; `down` links cannot be reached. */
const learner = (addresses: Record<string, string>, down: string[] = []) => async (link: string) => {
  if (down.includes(link)) throw new Error(`${link}: no STUN server answered`);
  return { address: addresses[link]! };
};

describe("the dns step", () => {
  test("on wan1: every name at its own link's address and SRV with wan1 first; then, with nothing changed, nothing is sent", async () => {
    const step = dnsStep(config, route, quiet, () => undefined, learner({ wan2: WAN2 }));
    const first = await step(WAN1, "wan1");
    expect(first).toEqual({
      changed: true,
      detail:
        "office.example.com unchanged; wan1.office.example.com updated; wan2.office.example.com updated; " +
        "_sip._udp.office.example.com updated (wan1.office.example.com first); _sip._tcp.office.example.com updated (wan1.office.example.com first)",
    });
    expect(dns.options.records["wan1.office.example.com"]).toEqual([WAN1]);
    expect(dns.options.records["wan2.office.example.com"]).toEqual([WAN2]);
    expect(dns.options.srv!["_sip._udp.office.example.com"]).toEqual([
      { priority: 10, weight: 0, port: 5060, target: "wan1.office.example.com" },
      { priority: 20, weight: 0, port: 5060, target: "wan2.office.example.com" },
    ]);

    const sent = dns.updates.length + dns.srvUpdates.length;
    const again = await step(WAN1, "wan1");
    expect(again.changed).toBe(false);
    expect(again.detail).not.toMatch(/updated/);
    expect(dns.updates.length + dns.srvUpdates.length).toBe(sent);
  });

  test("after a failover to wan2 with wan1 unreachable: SRV swaps, wan1's name keeps its address, and the step succeeds", async () => {
    await dnsStep(config, route, quiet, () => undefined, learner({ wan2: WAN2 }))(WAN1, "wan1");
    const step = dnsStep(config, route, quiet, () => undefined, learner({}, ["wan1"]));
    const result = await step(WAN2, "wan2");
    expect(result.changed).toBe(true);
    expect(result.detail).toBe(
      `office.example.com updated; wan1.office.example.com kept at ${WAN1}: wan1's public address cannot be learned through it (wan1: no STUN server answered); ` +
        "wan2.office.example.com unchanged; _sip._udp.office.example.com updated (wan2.office.example.com first); _sip._tcp.office.example.com updated (wan2.office.example.com first)",
    );
    expect(dns.options.records["wan1.office.example.com"]).toEqual([WAN1]);
    expect(dns.options.srv!["_sip._tcp.office.example.com"]!.map((t) => `${t.priority} ${t.target}`)).toEqual(["10 wan2.office.example.com", "20 wan1.office.example.com"]);
    // The status shows every record with its value; the kept name its last known one.
    const status = ddnsStatus(config, config.stateDir).records.map((r) => [r.record, r.type, r.link ?? null, r.value]);
    expect(status).toEqual([
      ["office.example.com", "A", null, WAN2],
      ["wan1.office.example.com", "A", "wan1", WAN1],
      ["wan2.office.example.com", "A", "wan2", WAN2],
      ["_sip._udp.office.example.com", "SRV", null, "10 0 5060 wan2.office.example.com, 20 0 5060 wan1.office.example.com"],
      ["_sip._tcp.office.example.com", "SRV", null, "10 0 5060 wan2.office.example.com, 20 0 5060 wan1.office.example.com"],
    ]);
  });

  test("a refused SRV update fails the step with the record named, and stops that record with an alert", async () => {
    const alerts: string[] = [];
    const step = dnsStep(config, route, quiet, (a) => alerts.push(a.record), learner({ wan2: WAN2 }));
    dns.options.refuseNames = ["_sip._tcp.office.example.com"];
    await expect(step(WAN1, "wan1")).rejects.toThrow(/_sip\._tcp\.office\.example\.com stopped \(_sip\._tcp\.office\.example\.com: update refused by 127\.0\.0\.1:\d+ \(REFUSED\)/);
    expect(alerts).toEqual(["_sip._tcp.office.example.com"]);
  });
});
