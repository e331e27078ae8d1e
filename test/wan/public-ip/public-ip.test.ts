import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LinkConfig } from "../../../src/config/schema/links.js";
import { echoConsensus, learnPublicIp, majority, parseEchoBody, publicAddresses } from "../../../src/wan/public-ip/index.js";
import { isPublicIPv4, notPublicReason } from "../../../src/wan/public-ip/address.js";
import type { LinkBinding } from "../../../src/wan/probes/types.js";
import { startStunServer } from "./stun-server.js";

const LO: LinkBinding = { name: "wan2", interface: "lo", sourceAddress: "127.0.0.1" };

/** IP echo services on one server, one path each. */
const ROUTES: Record<string, (res: ServerResponse) => void> = {
  "/a": (res) => res.end("203.0.113.10\n"),
  "/b": (res) => res.end("203.0.113.10"),
  "/c": (res) => res.end("198.51.100.77"),
  "/json": (res) => res.end('{"ip":"203.0.113.10"}'),
  "/private": (res) => res.end("10.1.2.3"),
  "/garbage": (res) => res.end("<html>hello</html>"),
  "/500": (res) => {
    res.statusCode = 500;
    res.end("203.0.113.10");
  },
  "/hang": () => undefined,
};

let server: Server;
let base = "";
const seen: { path: string; from: string | undefined; ua: string | undefined }[] = [];
const hanging: ServerResponse[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ path: req.url ?? "", from: req.socket.remoteAddress, ua: req.headers["user-agent"] });
    const route = ROUTES[req.url ?? ""];
    if (req.url === "/hang") hanging.push(res);
    if (route) route(res);
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const u = (...paths: string[]): string[] => paths.map((p) => `${base}${p}`);

describe("public or not", () => {
  it("rejects RFC 1918, CGNAT, link-local, loopback; keeps documentation ranges (the lab's 'public')", () => {
    for (const a of ["10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1", "100.64.0.2", "100.127.255.255", "169.254.1.1", "127.0.0.1", "0.1.2.3", "224.0.0.1"]) {
      expect(isPublicIPv4(a), a).toBe(false);
    }
    for (const a of ["198.51.100.10", "203.0.113.10", "192.0.2.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "100.63.255.255"]) {
      expect(isPublicIPv4(a), a).toBe(true);
    }
    expect(notPublicReason("100.64.0.2")).toMatch(/carrier-grade NAT/);
  });
});

describe("HTTP echo services", () => {
  it("parses plain text and JSON answers", () => {
    expect(parseEchoBody(" 203.0.113.10\r\n")).toBe("203.0.113.10");
    expect(parseEchoBody('{"ip": "203.0.113.10", "country": "x"}')).toBe("203.0.113.10");
    expect(parseEchoBody("<html>")).toBeNull();
    expect(parseEchoBody("203.0.113.10 extra")).toBeNull();
  });

  it("majority of the valid answers wins; a tie is no answer", () => {
    const A = (source: string, address?: string) => (address ? { source, address } : { source, error: "x" });
    expect(majority([A("1", "1.1.1.1"), A("2", "1.1.1.1"), A("3", "2.2.2.2")])).toMatchObject({ address: "1.1.1.1", votes: 2, valid: 3, disagreement: [A("3", "2.2.2.2")] });
    expect(majority([A("1", "1.1.1.1"), A("2"), A("3")])).toMatchObject({ address: "1.1.1.1", votes: 1, valid: 1, disagreement: [] });
    expect(majority([A("1", "1.1.1.1"), A("2", "2.2.2.2")]).address).toBeUndefined();
    expect(majority([A("1", "1.1.1.1"), A("2", "2.2.2.2")]).disagreement).toHaveLength(2);
    expect(majority([]).address).toBeUndefined();
  });

  it("asks every service from the link's source address, with the User-Agent; the majority wins and the odd one is reported", async () => {
    const before = seen.length;
    const c = await echoConsensus(u("/c", "/a", "/b"), "127.0.0.1", { userAgent: "wanctl/9.9", timeoutMs: 2000 });
    expect(c.address).toBe("203.0.113.10");
    const requests = seen.slice(before);
    expect(requests.every((r) => r.from === "127.0.0.1" && r.ua === "wanctl/9.9")).toBe(true);
    // The early decision may cut /c short; when it answered, it is reported.
    for (const d of c.disagreement) expect(d).toMatchObject({ address: "198.51.100.77" });
  });

  it("reports the disagreement when all answered", async () => {
    const link: LinkConfig = { name: "wan2", interface: "lo", gateway: "127.0.0.1", priority: 2, publicIp: { method: "http", urls: u("/a", "/c", "/500", "/garbage") } };
    const r = await learnPublicIp(link, LO, { timeoutMs: 2000 });
    // valid: /a 203.0.113.10 and /c 198.51.100.77 → no majority
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/no majority/);
    expect(r.disagreement?.map((d) => d.address).sort()).toEqual(["198.51.100.77", "203.0.113.10"]);
    expect(r.answers.find((a) => a.source.endsWith("/500"))?.error).toBe("HTTP 500");
    expect(r.answers.find((a) => a.source.endsWith("/garbage"))?.error).toMatch(/no IP address/);
  });

  it("wins with 2 of 3 and says who disagreed", async () => {
    const link: LinkConfig = { name: "wan2", interface: "lo", gateway: "127.0.0.1", priority: 2, publicIp: { method: "http", urls: u("/c", "/json", "/a", "/b", "/hang") } };
    const r = await learnPublicIp(link, LO, { timeoutMs: 1000 });
    expect(r).toMatchObject({ ok: true, address: "203.0.113.10", link: "wan2", method: "http" });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("a service that hangs costs at most its timeout; one that answers a private address is not believed", async () => {
    const link: LinkConfig = { name: "wan2", interface: "lo", gateway: "127.0.0.1", priority: 2, publicIp: { method: "http", urls: u("/hang", "/private", "/a") } };
    const r = await learnPublicIp(link, LO, { timeoutMs: 300 });
    expect(r).toMatchObject({ ok: true, address: "203.0.113.10" });
    expect(r.answers.find((a) => a.source.endsWith("/hang"))?.error).toMatch(/no answer within 300 ms/);
    expect(r.answers.find((a) => a.source.endsWith("/private"))?.error).toMatch(/10\.1\.2\.3, which is private/);
  });

  it("fails with every reason when nothing valid came back", async () => {
    const link: LinkConfig = { name: "wan2", interface: "lo", gateway: "127.0.0.1", priority: 2, publicIp: { method: "http", urls: ["http://127.0.0.1:1/x?token=SECRET"] } };
    const r = await learnPublicIp(link, LO, { timeoutMs: 500 });
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/no valid answer from 1 echo service; http:\/\/127\.0\.0\.1:1\/x: ECONNREFUSED/);
    expect(JSON.stringify(r)).not.toContain("SECRET");
  });
});

describe("learnPublicIp by method", () => {
  const link = (publicIp: LinkConfig["publicIp"], iface = "wan2"): LinkConfig => ({ name: "wan2", interface: iface, gateway: "100.64.0.1", priority: 2, publicIp });

  it("interface: a public address on it is the answer; CGNAT is refused with a hint", async () => {
    const addrs: Record<string, string[]> = { wan1: ["198.51.100.10"], wan2: ["100.64.0.2"] };
    const interfaceAddresses = (i: string) => addrs[i];
    expect(await learnPublicIp(link({ method: "interface" }, "wan1"), undefined, { interfaceAddresses })).toMatchObject({ ok: true, address: "198.51.100.10" });
    const r = await learnPublicIp(link({ method: "interface" }), undefined, { interfaceAddresses });
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/100\.64\.0\.2 \(carrier-grade NAT/);
    expect(r.detail).toMatch(/use publicIp "stun" or "http"/);
    expect((await learnPublicIp(link({ method: "interface" }, "nope0"), undefined, { interfaceAddresses })).detail).toMatch(/no interface nope0/);
  });

  it("static: the configured address", async () => {
    expect(await learnPublicIp(link({ method: "static", address: "203.0.113.10" }), undefined)).toMatchObject({ ok: true, address: "203.0.113.10" });
  });

  it("stun: the first server with a public answer wins; a dead one does not hold it up", async () => {
    const dead = await startStunServer({ silent: true });
    const good = await startStunServer({ mapped: { address: "203.0.113.10", port: 5 } });
    try {
      const r = await learnPublicIp(link({ method: "stun", servers: [{ host: "127.0.0.1", port: dead.port }, { host: "127.0.0.1", port: good.port }] }), LO, { timeoutMs: 5000 });
      expect(r).toMatchObject({ ok: true, address: "203.0.113.10", method: "stun" });
      expect(r.detail).toContain(`stun 127.0.0.1:${good.port}`);
      // the mapped address must be public: loopback's real source is not
      const real = await startStunServer();
      const r2 = await learnPublicIp(link({ method: "stun", servers: [{ host: "127.0.0.1", port: real.port }] }), LO, { timeoutMs: 1000 });
      expect(r2.ok).toBe(false);
      expect(r2.detail).toMatch(/mapped 127\.0\.0\.1, which is loopback/);
      await real.close();
    } finally {
      await dead.close();
      await good.close();
    }
  });

  it("publicAddresses: every link at once, each from its own binding", async () => {
    const stun = await startStunServer({ mapped: { address: "203.0.113.10", port: 5 } });
    try {
      const config = {
        links: [
          { name: "wan1", interface: "wan1", gateway: "198.51.100.9", priority: 1, publicIp: { method: "static" as const, address: "198.51.100.10" } },
          { name: "wan2", interface: "wan2", gateway: "100.64.0.1", priority: 2, publicIp: { method: "stun" as const, servers: [{ host: "127.0.0.1", port: stun.port }] } },
          { name: "wan3", interface: "wan3", gateway: "100.64.0.1", priority: 3, publicIp: { method: "stun" as const, servers: [{ host: "127.0.0.1", port: stun.port }] } },
        ],
      };
      const r = await publicAddresses(config, [LO, { ...LO, name: "wan1" }]);
      expect(r.map((x) => [x.link, x.ok, x.address])).toEqual([
        ["wan1", true, "198.51.100.10"],
        ["wan2", true, "203.0.113.10"],
        ["wan3", false, undefined],
      ]);
      expect(r[2]!.detail).toMatch(/no source address/);
    } finally {
      await stun.close();
    }
  });
});
