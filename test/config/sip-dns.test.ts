// dns.sip: the short form's defaults, and every mistake named with its path and line:column.
import { describe, expect, test } from "vitest";
import { ConfigError, parseConfigText } from "../../src/config/load.js";
import { sipHosts } from "../../src/config/schema/dns.js";
import { minimalConfig } from "./fixtures.js";

const BIND = { id: "bind", type: "rfc2136", server: "192.0.2.53", zone: "example.com", tsig: { name: "k", secret: "c2VjcmV0" } };
const DUCK = { id: "duck", type: "duckdns", token: "t" };

function withSip(sip: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...minimalConfig(), dns: { providers: [BIND, DUCK], sip, ...extra } }, null, 2);
}

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, "config.json");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.line}:${p.column}: ${p.path}: ${p.message}`);
    throw error;
  }
  throw new Error("expected the config to be rejected");
}

describe("dns.sip", () => {
  test("the short form: a name per link under the domain, _sip._udp on 5060, TTL 60, verified", () => {
    const config = parseConfigText(withSip({ domain: "office.example.com", provider: "bind" }), "c.json");
    expect(config.dns.sip).toEqual({ domain: "office.example.com", provider: "bind", services: [{ service: "_sip._udp", weight: 0 }], ttl: 60, verify: true });
    expect(sipHosts(config.dns.sip!, config.links)).toEqual([
      { link: "wan1", name: "wan1.office.example.com" },
      { link: "wan2", name: "wan2.office.example.com" },
    ]);
  });

  test("hosts chooses the names and the links: a link left out has no name and is no SRV target", () => {
    const config = parseConfigText(withSip({ domain: "office.example.com", provider: "bind", hosts: { wan2: "Backup.Example.com." } }), "c.json");
    expect(sipHosts(config.dns.sip!, config.links)).toEqual([{ link: "wan2", name: "backup.example.com" }]);
  });

  test("mistakes in the block itself: the path and line:column of each", () => {
    const text = withSip({ domain: "office", provider: "bind", services: [{ service: "_sip._tls", port: 70000 }], tll: 5 });
    const problems = problemsOf(text);
    const lines = text.split("\n");
    const at = (needle: string) => `${lines.findIndex((l) => l.includes(needle)) + 1}:`;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${at('"domain": "office"')}\\d+: dns\\.sip\\.domain: expected a fully qualified DNS name`)),
        expect.stringMatching(new RegExp(`^${at('"service": "_sip._tls"')}\\d+: dns\\.sip\\.services\\[0\\]\\.service: expected one of "_sip._udp", "_sip._tcp", "_sips._tcp", got string "_sip._tls"`)),
        expect.stringMatching(new RegExp(`^${at('"port": 70000')}\\d+: dns\\.sip\\.services\\[0\\]\\.port: `)),
        expect.stringMatching(new RegExp(`^${at('"tll": 5')}\\d+: dns\\.sip\\.tll: unknown key "tll" \\(did you mean "ttl"\\?\\)`)),
      ]),
    );
  });

  test("references to the rest of the config: provider, its type and zone, the links, names claimed twice", () => {
    const messages = (sip: unknown, extra?: Record<string, unknown>) => problemsOf(withSip(sip, extra)).map((p) => p.replace(/^\d+:\d+: /, ""));
    expect(messages({ domain: "office.example.com", provider: "nope" })).toEqual(['dns.sip.provider: no provider with id "nope" (known: bind, duck)']);
    expect(messages({ domain: "office.example.com", provider: "duck" })).toEqual([
      'dns.sip.provider: provider "duck" is duckdns, which cannot hold SRV records (use rfc2136 or cloudflare, or "services": [] for the per-link names alone)',
    ]);
    expect(messages({ domain: "office.example.net", provider: "bind", hosts: { wan1: "a.example.com", wan3: "c.example.com" } })).toEqual([
      'dns.sip.provider: office.example.net is not in zone example.com of provider "bind"',
      'dns.sip.hosts.wan3: no link named "wan3" (links: wan1, wan2)',
    ]);
    expect(messages({ domain: "example.com", provider: "bind", hosts: { wan1: "pbx.example.com", wan2: "PBX.example.com" } })).toEqual(["dns.sip.hosts.wan2: host name pbx.example.com is already wan1's"]);
    expect(messages({ domain: "office.example.com", provider: "bind", services: [{ service: "_sip._udp" }, { service: "_sip._udp", port: 5080 }] })).toEqual([
      "dns.sip.services[1].service: service _sip._udp is listed twice",
    ]);
    expect(messages({ domain: "office.example.com", provider: "bind" }, { records: [{ name: "wan1.office.example.com", provider: "bind" }] })).toEqual([
      "dns.sip.domain: host name wan1.office.example.com is also in dns.records, which points it at the active link: one record cannot follow both",
    ]);
  });

  test("per-link names alone (services: []) work with any provider; a link name that is no host label needs hosts", () => {
    expect(() => parseConfigText(withSip({ domain: "office.duckdns.org", provider: "duck", services: [] }), "c.json")).not.toThrow();
    const config = JSON.parse(withSip({ domain: "office.example.com", provider: "bind" })) as { links: { name: string }[] };
    config.links[1]!.name = "wan_2";
    expect(problemsOf(JSON.stringify(config, null, 2)).map((p) => p.replace(/^\d+:\d+: /, ""))).toEqual([
      'dns.sip.domain: link name "wan_2" cannot start a host name (wan_2.office.example.com): name each link\'s host in dns.sip.hosts',
    ]);
  });
});
