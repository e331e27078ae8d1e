// The config of route.backend "none" (following a router that switches by itself): defaults, and
// every mistake named with its path, in words that say what to write instead.
import { describe, expect, test } from "vitest";
import { ConfigError, parseConfigText } from "../../src/config/load.js";

function followConfig(route: Record<string, unknown> = {}, links?: Record<string, unknown>[]): Record<string, any> {
  return {
    links: links ?? [
      { name: "wan1", interface: "ether1", gateway: "198.51.100.9", priority: 1, publicIp: { method: "static", address: "198.51.100.10" } },
      { name: "wan2", interface: "lte1", gateway: "100.64.0.1", priority: 2 },
    ],
    route: { backend: "none", egress: { method: "stun", servers: [{ host: "192.0.2.80" }] }, links: { wan2: { addresses: ["203.0.113.0/24"] } }, ...route },
  };
}

function problems(config: unknown): string[] {
  try {
    parseConfigText(JSON.stringify(config, null, 2), "c.json");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe("route.backend none", () => {
  test("needs no monitor section; the egress is looked at twice a second, 500 ms each, three failures make no way out", () => {
    const config = parseConfigText(JSON.stringify(followConfig()), "c.json");
    expect(config.monitor.targets).toEqual([]);
    expect(config.route).toEqual({
      backend: "none",
      egress: { method: "stun", servers: [{ host: "192.0.2.80", port: 3478 }], intervalMs: 500, timeoutMs: 500, downAfter: 3 },
      links: { wan2: { addresses: ["203.0.113.0/24"] } },
    });
    const http = parseConfigText(JSON.stringify(followConfig({ egress: { method: "http", urls: ["http://192.0.2.80:8080/"], intervalMs: 2000 } })), "c.json").route;
    expect(http).toMatchObject({ egress: { method: "http", urls: ["http://192.0.2.80:8080/"], intervalMs: 2000, timeoutMs: 500 } });
  });

  test("the other backends still need probe targets", () => {
    const linux = followConfig({ backend: "linux" });
    delete linux.route.egress;
    delete linux.route.links;
    expect(problems(linux)).toEqual(['monitor.targets: route.backend "linux" probes every link: give at least one target (four are recommended)']);
  });

  test("a link's address cannot be learned through it: http and stun are refused with what to write instead", () => {
    const config = followConfig({ links: {} });
    config.links[1].publicIp = { method: "http", urls: ["http://192.0.2.80/"] };
    expect(problems(config)).toEqual([
      'links[1].publicIp.method: route.backend "none": wanctl follows the router and can only ask through the default route, so wan2\'s address cannot be learned through wan2 ("http"): give it as {"method": "static", "address": ...}, or list the addresses its traffic leaves with in route.links.wan2.addresses',
    ]);
  });

  test("every link must be recognisable by an address, and no address may name two links", () => {
    expect(problems(followConfig({ links: {} }))).toEqual([
      'links[1].publicIp: route.backend "none": nothing tells that the office\'s traffic leaves by wan2: give its public address ({"method": "static", "address": ...}) or route.links.wan2.addresses (addresses or CIDR blocks)',
    ]);
    expect(problems(followConfig({ links: { wan2: { addresses: ["198.51.100.0/24"] } } }))).toEqual([
      "route.links.wan2.addresses: 198.51.100.0/24 of wan2 overlaps 198.51.100.10 of wan1: an address seen must name one link",
    ]);
    expect(problems(followConfig({ links: { wan2: { addresses: ["203.0.113.300"] }, wan3: { addresses: ["192.0.2.1"] } } }))).toEqual([
      "route.links.wan2.addresses[0]: expected an IPv4 address or a CIDR block such as 203.0.113.0/24",
      'route.links.wan3: no link named "wan3" (links: wan1, wan2)',
    ]);
  });

  test("probe targets are taken, of every type, to watch the path through the router; the quorum must still be reachable", () => {
    const targets = [
      { type: "icmp", host: "192.0.2.1" },
      { type: "tcp", host: "192.0.2.2", port: 443 },
      { type: "dns", server: "192.0.2.3", name: "example.com" },
      { type: "http", url: "http://192.0.2.4/" },
      { type: "sip", host: "192.0.2.5" },
    ];
    expect(problems({ ...followConfig(), monitor: { targets } })).toEqual([]);
    const config = parseConfigText(JSON.stringify({ ...followConfig(), monitor: { targets } }), "c.json");
    expect(config.monitor).toMatchObject({ targets: [...targets.slice(0, 4), { type: "sip", host: "192.0.2.5", port: 5060 }], intervalMs: 250, downAfter: 3, upAfter: 5 });
    expect(problems({ ...followConfig(), monitor: { targets: targets.slice(0, 1), quorum: 2 } })).toEqual([
      "monitor.quorum: quorum 2 is more than the 1 probe target(s): no round could ever pass",
    ]);
  });

  test("the egress needs a source to ask", () => {
    expect(problems(followConfig({ egress: { method: "stun", servers: [] } }))).toEqual([expect.stringMatching(/^route\.egress\.servers: /)]);
    expect(problems(followConfig({ egress: { method: "smoke" } }))).toEqual([expect.stringMatching(/^route\.egress\.method: /)]);
  });
});
