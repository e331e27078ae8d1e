// The config of route.backend "routeros": defaults, and every mistake named with its path.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig, parseConfigText } from "../../src/config/load.js";
import { minimalConfig, writeTemp } from "./fixtures.js";
import { tempDir } from "../temp-dirs.js";

function routerOsConfig(route: Record<string, unknown> = {}, router: Record<string, unknown> = {}): Record<string, any> {
  return {
    ...minimalConfig(),
    route: { backend: "routeros", router: { host: "192.168.88.1", transport: "api", user: "wanctl", password: "s3cret", ...router }, ...route },
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

describe("route.backend routeros", () => {
  test("the defaults: the port follows the transport, distances 1 and 10, comments wanctl:<link>", () => {
    const config = parseConfigText(JSON.stringify(routerOsConfig()), "c.json");
    expect(config.route).toMatchObject({
      backend: "routeros",
      router: { host: "192.168.88.1", transport: "api", port: 8728, user: "wanctl", timeoutMs: 3000 },
      markPrefix: "wanctl:",
      switchBy: "distance",
      activeDistance: 1,
      standbyDistance: 10,
      flushConntrack: true,
      sipPorts: [5060, 5061],
      links: {},
    });
    const fp = "AB".repeat(32);
    const tls = parseConfigText(JSON.stringify(routerOsConfig({}, { transport: "api-tls", tls: { fingerprint: fp } })), "c.json").route;
    expect(tls.backend === "routeros" && tls.router.port).toBe(8729);
    const rest = parseConfigText(JSON.stringify(routerOsConfig({}, { transport: "rest", tls: { ca: "/etc/wanctl/router.crt" } })), "c.json").route;
    expect(rest.backend === "routeros" && rest.router.port).toBe(443);
  });

  test("TLS transports need a way to check the router; the plain API takes none", () => {
    expect(problems(routerOsConfig({}, { transport: "api-tls" }))).toEqual([
      'route.router.tls: transport "api-tls" needs "tls" ({"ca": ...} or {"fingerprint": ...}) so that the password goes to the router and nobody else',
    ]);
    expect(problems(routerOsConfig({}, { transport: "api", tls: { ca: "/x.pem" } }))).toEqual(['route.router.tls: transport "api" is not encrypted: use "api-tls" with "tls"']);
    expect(problems(routerOsConfig({}, { transport: "rest", tls: { fingerprint: "12:34" } }))).toEqual([
      "route.router.tls.fingerprint: expected the certificate's SHA-256 fingerprint: 64 hex digits, colons allowed",
    ]);
  });

  test("per-link probing must name configured links, and a routing table when it uses one", () => {
    expect(problems(routerOsConfig({ links: { wan3: { probeVia: "interface" }, wan2: { probeVia: "routing-table" } } }))).toEqual(
      expect.arrayContaining([
        'route.links.wan3: no link named "wan3" (links: wan1, wan2)',
        'route.links.wan2.routingTable: probeVia "routing-table" needs "routingTable", the name of the table',
      ]),
    );
  });

  test("the router probes with /ping: other target types are refused, and STUN too", () => {
    const config = routerOsConfig();
    config.monitor.targets.push({ type: "sip", host: "192.0.2.60" });
    config.links[1].publicIp = { method: "stun", servers: [{ host: "stun.example.net" }] };
    expect(problems(config)).toEqual([
      expect.stringMatching(/^links\[1\]\.publicIp\.method: route\.backend "routeros": the router cannot ask STUN/),
      expect.stringMatching(/^monitor\.targets\[1\]\.type: route\.backend "routeros" probes each link with the router's \/ping: use icmp targets/),
    ]);
  });

  test("standby routes must lose to the active one", () => {
    expect(problems(routerOsConfig({ activeDistance: 5, standbyDistance: 5 }))).toEqual(["route.standbyDistance: must be more than activeDistance (5), or the standby routes could win"]);
  });

  test("the router's password is a secret like the others: a file that cannot be read is named", () => {
    const dir = tempDir();
    const file = writeTemp("c.json", JSON.stringify(routerOsConfig({}, { password: { file: join(dir, "missing") } }), null, 2));
    expect(() => loadConfig(file, {})).toThrow(/c\.json:\d+:\d+: route\.router\.password: cannot read the secret file .*missing \(ENOENT\)/);
  });

  test("a CA file that cannot be read is a warning at load (the router cannot be reached until it can)", () => {
    const file = writeTemp("c.json", JSON.stringify(routerOsConfig({}, { transport: "api-tls", tls: { ca: "/nonexistent/router.crt" } })));
    expect(loadConfig(file, {}).warnings).toContain("route.router.tls.ca: cannot read /nonexistent/router.crt (ENOENT): wanctl cannot reach the router until it can");
  });

  test("an inline router password in a file others can read gets the warning", () => {
    const file = writeTemp("c.json", JSON.stringify(routerOsConfig()), 0o644);
    expect(loadConfig(file, {}).warnings.join("\n")).toMatch(/route\.router\.password/);
  });
});
