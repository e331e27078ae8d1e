// The RouterOS route backend against the fake router, over every wire and both RouterOS
// generations: it reads the active link, moves only the marked default routes, removes only the
// stale SIP/RTP connections (in one command), and learns a link's address and an echo through it.
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { RouterOsRouteBackend, RouterOsRouteOptions } from "../../src/wan/route/routeros/backend.js";
import type { Item } from "./fake-router.js";
import { MemoryWorld } from "./fake-worlds.js";
import { officeBackend, officeRouterOptions, startRouter, type RunningRouter, type Transport } from "./harness.js";

const cases: { name: string; transport: Transport; version: string }[] = [
  { name: "API, RouterOS 6.49", transport: "api", version: "6.49.10" },
  { name: "API over TLS, RouterOS 7.18", transport: "api-tls", version: "7.18.2" },
  { name: "REST, RouterOS 7.18", transport: "rest", version: "7.18.2" },
];

describe.each(cases)("$name", ({ transport, version }) => {
  let world: MemoryWorld;
  let running: RunningRouter;

  beforeEach(async () => {
    world = new MemoryWorld();
    running = await startRouter(transport, officeRouterOptions(world, { version }));
  });
  afterEach(() => running.close());

  const backend = (options: Partial<RouterOsRouteOptions> = {}, user?: { user: string; password: string }): RouterOsRouteBackend => officeBackend(running.client(user), options);

  /** The routes that are not wanctl's, as the router lists them (without the computed "active"). */
  const others = (): Item[] =>
    running.router.routeItems().filter((r) => !(r.comment ?? "").startsWith("wanctl:")).map(({ active: _active, ...rest }) => rest);

  test("the active link is read from the router at start", async () => {
    expect(await backend().activeLink()).toBe("wan1");
    expect(world.defaultRoute).toEqual({ gateway: "198.51.100.9", iface: "wan1" });
  });

  test("switching by distance moves only the marked routes, and the router's traffic with them", async () => {
    const before = others();
    const b = backend();
    const result = await b.activate("wan2");
    expect(result.active).toBe("wan2");
    expect(await b.activeLink()).toBe("wan2");
    expect(world.defaultRoute).toEqual({ gateway: "100.64.0.1", iface: "wan2" });
    const marked = await b.markedRoutes();
    expect(marked.map((r) => [r.link, r.distance, r.active])).toEqual([
      ["wan1", 10, false],
      ["wan2", 1, true],
    ]);
    expect(others()).toEqual(before);
    // Every write went to a marked route.
    const markedIds = new Set(marked.map((r) => r.id));
    const writes = running.router.log.filter((c) => c.command === "/ip/route/set");
    expect(writes.length).toBeGreaterThan(0);
    for (const w of writes) for (const id of (w.args[".id"] ?? "").split(",")) expect(markedIds.has(id)).toBe(true);

    await b.activate("wan1");
    expect(await b.activeLink()).toBe("wan1");
    expect((await b.markedRoutes()).map((r) => [r.link, r.distance])).toEqual([
      ["wan1", 1],
      ["wan2", 11],
    ]);
    expect(world.routeChanges.filter((c) => c.startsWith("main"))).toEqual(["main via 198.51.100.9 dev wan1", "main via 100.64.0.1 dev wan2", "main via 198.51.100.9 dev wan1"]);
    expect(others()).toEqual(before);
  });

  test("no two default routes ever tie while switching, either way, and no other link carries the traffic meanwhile", async () => {
    const b = backend();
    await b.activate("wan2");
    await b.activate("wan1");
    await b.activate("wan2");
    expect(running.router.ties).toEqual([]);
    expect(world.routeChanges.filter((c) => c.startsWith("main"))).toEqual([
      "main via 198.51.100.9 dev wan1",
      "main via 100.64.0.1 dev wan2",
      "main via 198.51.100.9 dev wan1",
      "main via 100.64.0.1 dev wan2",
    ]);
    expect((await b.markedRoutes()).map((r) => [r.link, r.distance])).toEqual([
      ["wan1", 10],
      ["wan2", 1],
    ]);
  });

  test("once the distances are wanctl's, a switch to the active link writes nothing", async () => {
    const b = backend();
    await b.activate("wan1"); // wan2's route goes from the admin's 10 to its standby distance 11
    expect(running.router.log.filter((c) => c.command === "/ip/route/set").map((c) => c.args)).toEqual([{ ".id": expect.any(String), distance: "11" }]);
    running.router.log.length = 0;
    await b.activate("wan1");
    expect(running.router.log.filter((c) => c.command === "/ip/route/set")).toEqual([]);
  });

  test("switching by disabling: the new link's routes enabled first, the others disabled", async () => {
    const b = backend({ switchBy: "disable" });
    await b.activate("wan2");
    expect(await b.activeLink()).toBe("wan2");
    const marked = await b.markedRoutes();
    expect(marked.map((r) => [r.link, r.disabled])).toEqual([
      ["wan1", true],
      ["wan2", false],
    ]);
    await b.activate("wan1");
    expect((await b.markedRoutes()).map((r) => [r.link, r.disabled, r.active])).toEqual([
      ["wan1", false, true],
      ["wan2", true, false],
    ]);
  });

  test("no route marked for the link: the error says which comment to add", async () => {
    const b = backend({ markPrefix: "office:" });
    await expect(b.activate("wan2")).rejects.toThrow(/no default route on the router is marked "office:wan2".*comment=office:wan2/);
    expect(await b.activeLink()).toBeUndefined();
  });

  test("a disabled target route is left to the admin when switching by distance", async () => {
    const b = backend({ switchBy: "disable" });
    await b.activate("wan1"); // disables wan2's route
    await expect(backend().activate("wan2")).rejects.toThrow(/is disabled on the router/);
  });

  test("the active default route is not a marked one: no link is active", async () => {
    const b = backend({ switchBy: "disable" });
    await b.activate("wan2");
    const wan2 = (await b.markedRoutes()).find((r) => r.link === "wan2")!;
    await b.client.set("/ip/route", [wan2.id], { disabled: "yes" }); // the admin's fallback (distance 50) takes over
    expect(await b.activeLink()).toBeUndefined();
  });

  test("a link's address is the router's address on its interface; none for an unknown interface", async () => {
    const b = backend();
    expect(await b.linkAddress("wan2")).toBe("100.64.0.2");
    expect(await b.prepareLink("wan1")).toBe("198.51.100.10");
    expect(await b.interfaceAddresses("nope")).toEqual([]);
  });

  test("stale SIP/RTP connections of the link left are removed in one command; the others stay", async () => {
    world.connectionsList = [
      // The PBX's trunk, NATed to wan1's address: stale once the office is on wan2.
      { id: "*A1", protocol: "udp", src: "192.168.50.10:5060", dst: "192.0.2.60:5060", replySrc: "192.0.2.60:5060", replyDst: "198.51.100.10:5060" },
      // RTP of a call through wan1.
      { id: "*A2", protocol: "udp", src: "192.168.50.10:12000", dst: "203.0.113.77:40000", replySrc: "203.0.113.77:40000", replyDst: "198.51.100.10:12000" },
      // Inside the LAN: not tied to a link.
      { id: "*A3", protocol: "udp", src: "192.168.50.10:5060", dst: "192.168.50.20:5060", replySrc: "192.168.50.20:5060", replyDst: "192.168.50.10:5060" },
      // DNS through wan1: not voice.
      { id: "*A4", protocol: "udp", src: "192.168.50.10:40000", dst: "192.0.2.53:53", replySrc: "192.0.2.53:53", replyDst: "198.51.100.10:40000" },
      // SIP over TCP: not a UDP flow.
      { id: "*A5", protocol: "tcp", src: "192.168.50.10:5060", dst: "192.0.2.60:5060", replySrc: "192.0.2.60:5060", replyDst: "198.51.100.10:5060" },
      // Already through wan2.
      { id: "*A6", protocol: "udp", src: "192.168.50.10:5061", dst: "192.0.2.60:5060", replySrc: "192.0.2.60:5060", replyDst: "100.64.0.2:5061" },
    ];
    const removed = await backend().flushStaleFlows("wan2");
    expect(removed).toBe(2);
    expect(world.connectionsList.map((c) => c.id)).toEqual(["*A3", "*A4", "*A5", "*A6"]);
    const removes = running.router.log.filter((c) => c.command.endsWith("/ip/firewall/connection/remove"));
    expect(removes).toHaveLength(1);
    expect(removes[0]!.args[".id"]).toBe("*A1,*A2");
    const listing = running.router.log.find((c) => c.command === "/ip/firewall/connection/print");
    expect(listing?.args[".proplist"]).toContain("reply-dst-address");
  });

  test("a connection that ends between listing and removal: listed again, the rest removed", async () => {
    world.connectionsList = [
      { id: "*B1", protocol: "udp", src: "192.168.50.10:5060", dst: "192.0.2.60:5060", replySrc: "192.0.2.60:5060", replyDst: "198.51.100.10:5060" },
      { id: "*B2", protocol: "udp", src: "192.168.50.10:15000", dst: "192.0.2.9:30000", replySrc: "192.0.2.9:30000", replyDst: "198.51.100.10:15000" },
    ];
    const original = world.connections.bind(world);
    let listings = 0;
    world.connections = async () => {
      const list = await original();
      // The router's own check before removing sees *B2 gone.
      if (++listings === 2) world.connectionsList = world.connectionsList.filter((c) => c.id !== "*B2");
      return list;
    };
    expect(await backend().flushStaleFlows("wan2")).toBe(1);
    expect(world.connectionsList).toEqual([]);
  });

  test("the router fetches an echo through the link, from the link's address", async () => {
    const asked: string[] = [];
    world.fetchBody = (url, src) => {
      asked.push(`${url} from ${src}`);
      return "203.0.113.10\n";
    };
    expect(await backend().fetchThrough("wan2", "http://192.0.2.80/ip", 3000)).toBe("203.0.113.10\n");
    expect(asked).toEqual(["http://192.0.2.80/ip from 100.64.0.2"]);
  });

  test("a user without the write policy cannot switch, and is told so", async () => {
    const b = backend({}, { user: "viewer", password: "v1ew" });
    expect(await b.activeLink()).toBe("wan1");
    await expect(b.activate("wan2")).rejects.toThrow(/not enough permissions/);
  });
});

test("RouterOS 7.18 answers an empty print with !empty, and the backend reads it as nothing found", async () => {
  const world = new MemoryWorld();
  const running = await startRouter("api", officeRouterOptions(world, { version: "7.18.2" }));
  try {
    const b = officeBackend(running.client());
    expect(await b.interfaceAddresses("nope")).toEqual([]);
    expect(await b.flushStaleFlows("wan2")).toBe(0); // no UDP connection at all: !empty
    expect(await b.activeLink()).toBe("wan1"); // and the session goes on
  } finally {
    await running.close();
  }
});
