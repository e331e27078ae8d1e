// `wanctl router check` against the fake MikroTik: a router ready for wanctl, and one where
// everything that can be missing is (policies, marked routes, interfaces, tables, distances).
import { afterEach, describe, expect, test } from "vitest";
import { certificateFingerprint } from "../../src/wan/route/routeros/client.js";
import { minimalConfig, writeTemp } from "../config/fixtures.js";
import type { FakeRouterOptions } from "../routeros/fake-router.js";
import { MemoryWorld } from "../routeros/fake-worlds.js";
import { officeRouterOptions, startRouter, type RunningRouter, type Transport } from "../routeros/harness.js";
import { cli } from "./run-cli.js";

const running: RunningRouter[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function routerAndConfig(transport: Transport, overrides: (world: MemoryWorld) => Partial<FakeRouterOptions> = () => ({}), route: Record<string, unknown> = {}, password = "s3cret") {
  const world = new MemoryWorld();
  world.fetchBody = () => "203.0.113.10";
  const r = await startRouter(transport, officeRouterOptions(world, overrides(world)));
  running.push(r);
  const tls = r.certificate ? { tls: { fingerprint: certificateFingerprint(r.certificate.cert) } } : {};
  const config = {
    ...minimalConfig(),
    links: [
      { name: "wan1", interface: "wan1", gateway: "198.51.100.9", priority: 1 },
      { name: "wan2", interface: "wan2", gateway: "100.64.0.1", priority: 2, publicIp: { method: "http", urls: ["http://192.0.2.80/ip"] } },
    ],
    route: {
      backend: "routeros",
      router: { host: "127.0.0.1", port: r.server.port, transport, user: "wanctl", password, ...tls },
      links: { wan2: { probeVia: "routing-table", routingTable: "via-wan2" } },
      ...route,
    },
  };
  return { world, router: r.router, file: writeTemp("c.json", JSON.stringify(config)) };
}

describe("wanctl router check", () => {
  test.each<Transport>(["api", "rest"])("a router ready for wanctl (%s): exit 0, what was checked listed", async (transport) => {
    const { file, router } = await routerAndConfig(transport);
    const { code, stdout } = await cli(["router", "check", "-c", file]);
    expect(stdout).toContain(`ok: logged in to 127.0.0.1:`);
    expect(stdout).toContain("RouterOS 7.18.2 (stable)");
    expect(stdout).toMatch(/ok: group wanctl has (api|rest-api), read, write, test/);
    expect(stdout).toMatch(/ok: wan1: route \*\w+ marked wanctl:wan1 via 198\.51\.100\.9 \(enabled, distance 1, active\)/);
    expect(stdout).toContain("ok: wanctl can change routes");
    expect(stdout).toMatch(/ok: wan1: \/ping 192\.0\.2\.1 interface=wan1 answered in 1\.5 ms/);
    expect(stdout).toMatch(/ok: wan2: \/ping 192\.0\.2\.1 routing-table=via-wan2 answered/);
    expect(stdout).toContain("ok: wan2: the router fetched http://192.0.2.80/ip through the link: 203.0.113.10");
    expect(stdout).toMatch(/the router is ready for wanctl\n$/);
    expect(code).toBe(0);
    // The check changed nothing: its one write set a route's distance to what it was.
    const writes = router.log.filter((c) => c.command === "/ip/route/set");
    expect(writes).toHaveLength(1);
    expect(router.routeItems().find((r) => r.comment === "wanctl:wan1")?.distance).toBe("1");
  });

  test("everything missing is said, with the command that fixes it; exit 1", async () => {
    const { file } = await routerAndConfig(
      "api",
      () => ({
        groups: { wanctl: ["read", "api"] },
        routes: [
          { gateway: "198.51.100.9", distance: "1", comment: "wanctl:wan1" },
          { gateway: "100.64.0.1", distance: "10", comment: "somebody's route" },
        ],
        routingTables: [],
      }),
    );
    const { code, stdout } = await cli(["router", "check", "-c", file]);
    expect(code).toBe(1);
    expect(stdout).toContain('problem: group wanctl lacks the "write" policy, needed to change the marked routes\' distance (or disable them) and remove stale connections');
    expect(stdout).toContain('problem: group wanctl lacks the "test" policy, needed to run /ping (the link probes)');
    expect(stdout).toContain("note: to add them: /user group set wanctl policy=read,api,write,test");
    expect(stdout).toContain('problem: wan2: no default route is marked "wanctl:wan2": /ip route add gateway=100.64.0.1 comment=wanctl:wan2 distance=10');
    expect(stdout).toMatch(/problem: default route \*\w+ via 100\.64\.0\.1 \(somebody's route\) has distance 10, which ties with the distances wanctl sets/);
    expect(stdout).toMatch(/problem: wanctl cannot change routes: .*not enough permissions/);
    expect(stdout).toContain("problem: wan2: no routing table via-wan2: /routing table add name=via-wan2 fib");
    expect(stdout).toMatch(/problem: wan1: the router refused \/ping: .*not enough permissions/);
    expect(stdout).toMatch(/\d+ problems found\n$/);
  });

  test("an echo fetched from a standby link's address that comes back with the active link's address: the missing routing rule is said", async () => {
    const { file, world } = await routerAndConfig("api");
    world.fetchBody = () => "198.51.100.10"; // what the echo sees when the fetch leaves through wan1
    const { code, stdout } = await cli(["router", "check", "-c", file]);
    expect(code).toBe(1);
    expect(stdout).toContain("problem: wan2: the echo the router fetched from 100.64.0.2 came back with 198.51.100.10, wan1's address: it left through the active link. Route the link's own address through the link, e.g. /routing rule add src-address=100.64.0.2/32");
  });

  test("an interface the router does not have, and routing tables on RouterOS 6", async () => {
    const { file } = await routerAndConfig("api", () => ({ version: "6.49.10", interfaces: ["wan1", "lan"] }));
    const { code, stdout } = await cli(["router", "check", "-c", file]);
    expect(code).toBe(1);
    expect(stdout).toContain("problem: wan2: the router has no interface wan2");
    expect(stdout).toContain('problem: wan2: probeVia "routing-table" needs RouterOS 7 (this is 6.49.10 (stable)): use "interface" or "src-address"');
  });

  test("a refused login says what to check and never shows the password", async () => {
    const { file } = await routerAndConfig("api", undefined, {}, "hunter2-wrong");
    const { code, stdout, stderr } = await cli(["router", "check", "-c", file]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/problem: router 127\.0\.0\.1:\d+: login as wanctl refused: invalid user name or password \(6\): check the user and password, and that its group has the api policy/);
    expect(stdout + stderr).not.toContain("hunter2-wrong");
  });

  test("with the Linux backend there is no router to check: a usage error", async () => {
    const { code, stderr } = await cli(["router", "check", "-c", writeTemp("c.json", JSON.stringify(minimalConfig()))]);
    expect(code).toBe(2);
    expect(stderr).toContain('route.backend is "linux"');
  });
});
