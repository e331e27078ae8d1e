// The REST client against a scripted HTTPS server: the URLs, methods and bodies RouterOS's REST API
// documents, its JSON answers and errors, basic auth, kept-alive TLS checked before anything is sent.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { certificateFingerprint, RouterError } from "../../src/wan/route/routeros/client.js";
import { RestClient, type RestSettings } from "../../src/wan/route/routeros/rest.js";
import { listenOnLoopback, portOf } from "../loopback.js";
import { makeCertificate, type TestCertificate } from "./certs.js";

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  body: string;
}

let certificate: TestCertificate;
let impostor: TestCertificate;
beforeAll(() => {
  certificate = makeCertificate();
  impostor = makeCertificate("impostor.test");
});

const servers: Server[] = [];
const clients: RestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of servers.splice(0)) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function restServer(answer: (seen: Seen, res: ServerResponse) => void, cert = certificate) {
  const seen: Seen[] = [];
  let handshakes = 0;
  const server = createServer({ cert: cert.cert, key: cert.key }, (req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d));
    req.on("end", () => {
      const s: Seen = { method: req.method!, url: req.url!, body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
      seen.push(s);
      answer(s, res);
    });
  });
  server.on("secureConnection", () => handshakes++);
  servers.push(server);
  await listenOnLoopback(server);
  return { port: portOf(server), seen, handshakes: () => handshakes };
}

const json = (res: ServerResponse, status: number, value: unknown): void => {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(value));
};

function client(port: number, overrides: Partial<RestSettings> = {}): RestClient {
  const c = new RestClient({
    host: "127.0.0.1",
    port,
    tls: { fingerprint256: certificateFingerprint(certificate.cert) },
    user: "wanctl",
    password: "s3cret",
    timeoutMs: 1000,
    ...overrides,
  });
  clients.push(c);
  return c;
}

describe("requests", () => {
  test("print is a GET with equality filters and .proplist; basic auth; one kept-alive connection", async () => {
    const server = await restServer((_s, res) => json(res, 200, [{ ".id": "*1", comment: "wanctl:wan1", distance: "1" }]));
    const c = client(server.port);
    const routes = await c.print("/ip/route", { where: { "dst-address": "0.0.0.0/0" }, proplist: [".id", "comment", "distance"] });
    await c.print("/ip/route");
    expect(routes).toEqual([{ ".id": "*1", comment: "wanctl:wan1", distance: "1" }]);
    expect(server.seen[0]).toMatchObject({ method: "GET", url: "/rest/ip/route?dst-address=0.0.0.0%2F0&.proplist=.id%2Ccomment%2Cdistance" });
    expect(server.seen[0]!.authorization).toBe(`Basic ${Buffer.from("wanctl:s3cret").toString("base64")}`);
    expect(server.handshakes()).toBe(1);
  });

  test("a single-item menu answers an object; an empty menu an empty list", async () => {
    const server = await restServer((s, res) => json(res, 200, s.url.startsWith("/rest/system") ? { version: "7.18.2 (stable)" } : []));
    const c = client(server.port);
    expect(await c.print("/system/resource")).toEqual([{ version: "7.18.2 (stable)" }]);
    expect(await c.print("/ip/route", { where: { comment: "nothing" } })).toEqual([]);
  });

  test("set is a PATCH per item with the values as JSON strings", async () => {
    const server = await restServer((_s, res) => json(res, 200, {}));
    await client(server.port).set("/ip/route", ["*1", "*2"], { distance: "11" });
    expect(server.seen.map((s) => [s.method, s.url, JSON.parse(s.body)])).toEqual([
      ["PATCH", "/rest/ip/route/*1", { distance: "11" }],
      ["PATCH", "/rest/ip/route/*2", { distance: "11" }],
    ]);
  });

  test("remove is one POST of the remove command with every id", async () => {
    const server = await restServer((_s, res) => json(res, 200, []));
    await client(server.port).remove("/ip/firewall/connection", ["*A", "*B", "*C"]);
    expect(server.seen).toHaveLength(1);
    expect(server.seen[0]).toMatchObject({ method: "POST", url: "/rest/ip/firewall/connection/remove" });
    expect(JSON.parse(server.seen[0]!.body)).toEqual({ ".id": "*A,*B,*C" });
  });

  test("a command is a POST with its arguments; its records come back", async () => {
    const server = await restServer((_s, res) => json(res, 200, [{ host: "192.0.2.1", seq: "0", time: "1ms", sent: "1", received: "1" }]));
    const records = await client(server.port).call("/ping", { address: "192.0.2.1", count: "1", interface: "wan1" });
    expect(records[0]).toMatchObject({ seq: "0", time: "1ms" });
    expect(server.seen[0]).toMatchObject({ method: "POST", url: "/rest/ping" });
    expect(JSON.parse(server.seen[0]!.body)).toEqual({ address: "192.0.2.1", count: "1", interface: "wan1" });
  });
});

describe("errors", () => {
  test("HTTP 400 with RouterOS's message and detail is a trap", async () => {
    const server = await restServer((_s, res) => json(res, 400, { error: 400, message: "Bad Request", detail: "no such item" }));
    const error = await client(server.port).set("/ip/route", ["*9"], { distance: "1" }).catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "trap" });
    expect((error as Error).message).toBe(`router 127.0.0.1:${server.port} (REST) refused PATCH /rest/ip/route/*9: Bad Request: no such item`);
  });

  test("HTTP 401 is an auth error naming the user and the policy, never the password or its header", async () => {
    const server = await restServer((_s, res) => json(res, 401, { error: 401, message: "Unauthorized" }));
    const error = (await client(server.port).print("/ip/route").catch((e: RouterError) => e)) as RouterError;
    expect(error.kind).toBe("auth");
    expect(error.message).toContain("login as wanctl refused (HTTP 401 Unauthorized)");
    expect(error.message).toContain("rest-api");
    expect(error.message).not.toContain("s3cret");
    expect(error.message).not.toContain(Buffer.from("wanctl:s3cret").toString("base64"));
  });

  test("an answer that is not JSON is a protocol error", async () => {
    const server = await restServer((_s, res) => {
      res.writeHead(200);
      res.end("<html>WebFig</html>");
    });
    expect(await client(server.port).print("/ip/route").catch((e: RouterError) => e)).toMatchObject({ kind: "protocol" });
  });

  test("no answer in time is a timeout", async () => {
    const server = await restServer(() => undefined);
    expect(await client(server.port, { timeoutMs: 200 }).print("/ip/route").catch((e: RouterError) => e)).toMatchObject({
      kind: "timeout",
      message: expect.stringContaining("no answer to GET /rest/ip/route within 200 ms"),
    });
  });

  test("a certificate that is not the pinned one: no request (and no password) is sent", async () => {
    const server = await restServer((_s, res) => json(res, 200, []), impostor);
    const error = await client(server.port).print("/ip/route").catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "protocol", message: expect.stringContaining("is not the pinned one") });
    expect(server.seen).toEqual([]);
  });

  test("against a CA file, the impostor's certificate fails the chain", async () => {
    const server = await restServer((_s, res) => json(res, 200, []), impostor);
    const error = await client(server.port, { tls: { ca: certificate.cert } }).print("/ip/route").catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "protocol", message: expect.stringContaining("certificate not trusted") });
    expect(server.seen).toEqual([]);
  });
});
