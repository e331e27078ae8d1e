// What route.backend "routeros" builds from the config, against the fake router: the client with
// the password from its secret, probes that ping through the link the config names, each link's
// public address as the router sees it (its interface, or an echo it fetches through the link).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema/index.js";
import { RouterPingProbe } from "../../src/wan/probes/routeros-ping.js";
import { certificateFingerprint } from "../../src/wan/route/routeros/client.js";
import { createRouterOsGateway, routerClient, type RouterOsGateway } from "../../src/wan/route/routeros/gateway.js";
import { tempDir } from "../temp-dirs.js";
import { MemoryWorld } from "./fake-worlds.js";
import { officeRouterOptions, startRouter, type RunningRouter, type Transport } from "./harness.js";

const running: RunningRouter[] = [];
const gateways: RouterOsGateway[] = [];
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
  await Promise.all(running.splice(0).map((r) => r.close()));
});

function config(r: RunningRouter, transport: Transport, password: unknown = "s3cret", extra: Record<string, unknown> = {}): Config {
  const tls = r.certificate ? { tls: { fingerprint: certificateFingerprint(r.certificate.cert) } } : {};
  return parseConfigText(
    JSON.stringify({
      links: [
        { name: "wan1", interface: "wan1", gateway: "198.51.100.9", priority: 1, publicIp: { method: "interface" } },
        { name: "wan2", interface: "wan2", gateway: "100.64.0.1", priority: 2, publicIp: { method: "http", urls: ["http://192.0.2.80/ip", "http://192.0.2.81/ip"] } },
      ],
      monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }, { type: "icmp", host: "192.0.2.2" }] },
      route: {
        backend: "routeros",
        router: { host: "127.0.0.1", port: r.server.port, transport, user: "wanctl", password, ...tls },
        links: { wan2: { probeVia: "routing-table", routingTable: "via-wan2" } },
        ...extra,
      },
    }),
    "c.json",
  );
}

async function setUp(transport: Transport = "api") {
  const world = new MemoryWorld();
  const r = await startRouter(transport, officeRouterOptions(world));
  running.push(r);
  return { world, r };
}

describe("createRouterOsGateway", () => {
  test("a link whose router interface has a public address: that address", async () => {
    const { r } = await setUp();
    const g = createRouterOsGateway(config(r, "api"));
    gateways.push(g);
    expect(await g.publicAddress("wan1")).toMatchObject({ ok: true, address: "198.51.100.10", detail: "198.51.100.10 is on wan1" });
  });

  test("an echo fetched by the router through the link, from the link's address; the majority wins", async () => {
    const { r, world } = await setUp("rest");
    const asked: string[] = [];
    world.fetchBody = (url, src) => {
      asked.push(`${url} from ${src}`);
      return "203.0.113.10\n";
    };
    const g = createRouterOsGateway(config(r, "rest"));
    gateways.push(g);
    const learned = await g.publicAddress("wan2");
    expect(learned).toMatchObject({ ok: true, address: "203.0.113.10", method: "http" });
    expect(asked.sort()).toEqual(["http://192.0.2.80/ip from 100.64.0.2", "http://192.0.2.81/ip from 100.64.0.2"]);
  });

  test("echoes that fail or answer nonsense: not learned, every answer said", async () => {
    const { r, world } = await setUp();
    world.fetchBody = (url) => {
      if (url.includes(".80")) throw new Error("connection timeout");
      return "<html>hello</html>";
    };
    const g = createRouterOsGateway(config(r, "api"));
    gateways.push(g);
    const learned = await g.publicAddress("wan2");
    expect(learned.ok).toBe(false);
    expect(learned.detail).toContain("failure: connection timeout");
    expect(learned.detail).toContain("no IP address in the answer");
  });

  test("a NATed link with publicIp interface: the router's address is not public, and that is said", async () => {
    const { r } = await setUp();
    const c = config(r, "api");
    c.links[1]!.publicIp = { method: "interface" };
    const g = createRouterOsGateway(c);
    gateways.push(g);
    const learned = await g.publicAddress("wan2");
    expect(learned.ok).toBe(false);
    expect(learned.detail).toMatch(/wan2 has 100\.64\.0\.2 \(.*\), no public address/);
  });

  test("probes ping through the way the config names for each link", async () => {
    const { r } = await setUp();
    const g = createRouterOsGateway(config(r, "api"));
    gateways.push(g);
    const timing = { intervalMs: 100, timeoutMs: 150 };
    const wan1 = g.makeProbes({ name: "wan1", interface: "wan1", sourceAddress: "198.51.100.10" }, timing);
    const wan2 = g.makeProbes({ name: "wan2", interface: "wan2", sourceAddress: "100.64.0.2" }, timing);
    expect(wan1.map((p) => p.target)).toEqual(["icmp 192.0.2.1", "icmp 192.0.2.2"]);
    expect(wan1[0]).toBeInstanceOf(RouterPingProbe);
    expect((wan1[0] as RouterPingProbe).session.options.via).toEqual({ interface: "wan1" });
    expect((wan2[0] as RouterPingProbe).session.options.via).toEqual({ "routing-table": "via-wan2" });
    const results = await Promise.all([...wan1, ...wan2].map((p) => p.run()));
    await Promise.all([...wan1, ...wan2].map((p) => p.close()));
    expect(results.map((res) => res.ok)).toEqual([true, true, true, true]);
  });

  test("wanctl's own requests leave from this host's address toward the router", async () => {
    const { r } = await setUp();
    const g = createRouterOsGateway(config(r, "api"));
    gateways.push(g);
    expect(await g.sourceAddress()).toBe("127.0.0.1");
  });
});

describe("routerClient", () => {
  test("the password comes from its secret file; a wrong one is an auth error without it", async () => {
    const { r } = await setUp("api-tls");
    const dir = tempDir();
    writeFileSync(join(dir, "router"), "s3cret\n");
    const c = config(r, "api-tls", { file: join(dir, "router") });
    const client = routerClient(c.route.backend === "routeros" ? c.route : (undefined as never));
    expect(client.transport).toBe("api-tls");
    expect((await client.print("/system/resource"))[0]?.version).toBe("7.18.2 (stable)");
    await client.close();

    writeFileSync(join(dir, "router"), "not-the-password\n");
    const wrong = routerClient(c.route.backend === "routeros" ? c.route : (undefined as never));
    const error = await wrong.print("/system/resource").catch((e: Error) => e);
    expect((error as Error).message).toMatch(/login as wanctl refused/);
    expect((error as Error).message).not.toContain("not-the-password");
    await wrong.close();
  });

  test("a CA file that cannot be read is named", async () => {
    const { r } = await setUp("rest");
    const c = config(r, "rest");
    if (c.route.backend !== "routeros") throw new Error("not routeros");
    const route = { ...c.route, router: { ...c.route.router, tls: { ca: "/nonexistent/router.crt" } } };
    expect(() => routerClient(route)).toThrow("route.router.tls.ca: cannot read /nonexistent/router.crt (ENOENT)");
  });
});
