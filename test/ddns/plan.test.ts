// What each record should hold for the link that carries the office (pure).
import { describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { managedRecords, planRecords, valueOf } from "../../src/ddns/plan.js";

const config = parseConfigText(
  JSON.stringify({
    links: [
      { name: "fibre", interface: "eth1", gateway: "198.51.100.9", priority: 1 },
      { name: "lte", interface: "wwan0", gateway: "10.64.64.64", priority: 3 },
      { name: "dsl", interface: "ppp0", gateway: "192.0.2.254", priority: 2 },
    ],
    monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }] },
    dns: {
      providers: [{ id: "bind", type: "rfc2136", server: "192.0.2.53", zone: "example.com", tsig: { name: "k", secret: "c2VjcmV0" } }],
      records: [{ name: "office.example.com", provider: "bind" }],
      sip: {
        domain: "Office.example.com.",
        provider: "bind",
        services: [{ service: "_sip._udp" }, { service: "_sips._tcp", weight: 5 }],
        ttl: 120,
        verify: false,
      },
    },
  }),
  "c.json",
);

const FIBRE = "198.51.100.10";
const DSL = "192.0.2.77";
const LTE = "203.0.113.10";

describe("the records wanctl keeps", () => {
  test("dns.records, then each link's own name, then each SRV record, with dns.sip's provider, TTL and verify", () => {
    expect(managedRecords(config).map((m) => [m.type, m.record.name, m.link ?? null, m.record.ttl, m.record.verify])).toEqual([
      ["A", "office.example.com", null, 60, true],
      ["A", "fibre.office.example.com", "fibre", 120, false],
      ["A", "lte.office.example.com", "lte", 120, false],
      ["A", "dsl.office.example.com", "dsl", 120, false],
      ["SRV", "_sip._udp.office.example.com", null, 120, false],
      ["SRV", "_sips._tcp.office.example.com", null, 120, false],
    ]);
  });
});

describe("what they should hold", () => {
  const values = (active: string, addresses: Record<string, string>) =>
    planRecords(config, { active, addresses: new Map(Object.entries(addresses)) }).map((p) => [p.record.name, p.data ? valueOf(p.data) : "kept"]);

  test("on the primary: the office name at its address, each link's name at its own, SRV in link priority order", () => {
    expect(values("fibre", { fibre: FIBRE, dsl: DSL, lte: LTE })).toEqual([
      ["office.example.com", FIBRE],
      ["fibre.office.example.com", FIBRE],
      ["lte.office.example.com", LTE],
      ["dsl.office.example.com", DSL],
      ["_sip._udp.office.example.com", "10 0 5060 fibre.office.example.com, 20 0 5060 dsl.office.example.com, 30 0 5060 lte.office.example.com"],
      ["_sips._tcp.office.example.com", "10 5 5061 fibre.office.example.com, 20 5 5061 dsl.office.example.com, 30 5 5061 lte.office.example.com"],
    ]);
  });

  test("on a backup: the active link's name first in SRV, the others after it by priority; a link whose address is not known keeps its name", () => {
    expect(values("lte", { lte: LTE, dsl: DSL })).toEqual([
      ["office.example.com", LTE],
      ["fibre.office.example.com", "kept"],
      ["lte.office.example.com", LTE],
      ["dsl.office.example.com", DSL],
      ["_sip._udp.office.example.com", "10 0 5060 lte.office.example.com, 20 0 5060 fibre.office.example.com, 30 0 5060 dsl.office.example.com"],
      ["_sips._tcp.office.example.com", "10 5 5061 lte.office.example.com, 20 5 5061 fibre.office.example.com, 30 5 5061 dsl.office.example.com"],
    ]);
  });

  test("the SRV data itself: priority, weight, port and target of each", () => {
    const srv = planRecords(config, { active: "dsl", addresses: new Map([["dsl", DSL]]) }).find((p) => p.type === "SRV")!;
    expect(srv.data).toEqual({
      type: "SRV",
      targets: [
        { priority: 10, weight: 0, port: 5060, target: "dsl.office.example.com" },
        { priority: 20, weight: 0, port: 5060, target: "fibre.office.example.com" },
        { priority: 30, weight: 0, port: 5060, target: "lte.office.example.com" },
      ],
    });
  });

  test("without the active link's address there is no plan", () => {
    expect(() => planRecords(config, { active: "dsl", addresses: new Map([["fibre", FIBRE]]) })).toThrow("the active link dsl's address is not known");
  });
});
