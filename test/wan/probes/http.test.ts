import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HttpProbe } from "../../../src/wan/probes/http.js";
import { handleCounts, LO, noMoreThan, settleHandles, waitFor } from "./helpers.js";

const TIMING = { intervalMs: 350, timeoutMs: 300 };

interface Fake {
  url: string;
  requests: { method: string; url: string; headers: IncomingMessage["headers"]; remote: string; remotePort: number }[];
  closedSockets: () => number;
}

const servers: { server: Server; sockets: Set<Socket> }[] = [];

async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Fake> {
  const sockets = new Set<Socket>();
  let closed = 0;
  const requests: Fake["requests"] = [];
  const server = createServer((req, res) => {
    requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      remote: req.socket.remoteAddress ?? "",
      remotePort: req.socket.remotePort ?? 0,
    });
    handler(req, res);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => {
      sockets.delete(s);
      closed++;
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push({ server, sockets });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, closedSockets: () => closed };
}

afterEach(async () => {
  for (const { server, sockets } of servers.splice(0)) {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

describe("HTTP probe", () => {
  it("is ok on 200 and on 500: any HTTP response proves the path", async () => {
    for (const status of [200, 500]) {
      const srv = await httpServer((_req, res) => res.writeHead(status).end("body"));
      const probe = new HttpProbe(LO, `${srv.url}/health?x=1`, TIMING);
      const r = await probe.run();
      expect(r).toMatchObject({ target: `http ${srv.url}/health?x=1`, ok: true });
      expect(r.detail).toBe(status === 200 ? "HTTP 200 OK" : "HTTP 500 Internal Server Error");
      expect(Number.isFinite(r.rttMs)).toBe(true);
      expect(r.rttMs).toBeGreaterThanOrEqual(0);
      expect(srv.requests[0]).toMatchObject({ method: "GET", url: "/health?x=1", remote: "127.0.0.1" });
      expect(srv.requests[0]!.headers).toMatchObject({ host: srv.url.slice("http://".length), connection: "close" });
      await probe.close();
    }
  });

  it("opens a new connection for every run and never reads the body", async () => {
    // A response whose body never ends: the probe must not wait for it.
    const srv = await httpServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("streaming forever...");
    });
    const probe = new HttpProbe(LO, `${srv.url}/`, TIMING);
    const results = [await probe.run(), await probe.run(), await probe.run()];
    for (const r of results) expect(r).toMatchObject({ ok: true, detail: "HTTP 200 OK" });
    expect(new Set(srv.requests.map((q) => q.remotePort)).size).toBe(3);
    expect(await waitFor(() => srv.closedSockets() === 3)).toBe(true);
    await probe.close();
  });

  it("times out with a clear error when the server never answers", async () => {
    const srv = await httpServer(() => undefined); // accepts, reads the request, never responds
    const probe = new HttpProbe(LO, `${srv.url}/`, TIMING);
    const r = await probe.run();
    expect(r).toEqual({ target: `http ${srv.url}/`, ok: false, error: "timeout: no answer within 300 ms" });
    expect(srv.requests).toHaveLength(1);
    await probe.close();
    expect(await waitFor(() => srv.closedSockets() === 1)).toBe(true); // the probe hung up
  });

  it("fails on a TLS error (no HTTP response), and counts a refused connection as the host answering", async () => {
    const srv = await httpServer((_req, res) => res.end("plain"));
    const tls = new HttpProbe(LO, srv.url.replace("http:", "https:") + "/", TIMING);
    const t = await tls.run();
    expect(t.ok).toBe(false);
    expect(t.error).toBeTruthy();
    expect(t.error).not.toMatch(/^timeout/);
    await tls.close();

    const { server } = servers.pop()!;
    await new Promise<void>((r) => server.close(() => r()));
    const refused = new HttpProbe(LO, srv.url + "/", TIMING);
    expect(await refused.run()).toMatchObject({ ok: true, detail: "connection refused (the host answered)" });
    await refused.close();
    const strict = new HttpProbe(LO, srv.url + "/", TIMING, { refusedMeansUp: false });
    expect((await strict.run()).error).toMatch(/ECONNREFUSED/);
    await strict.close();
  });

  it("rejects what it cannot probe at construction", () => {
    expect(() => new HttpProbe(LO, "ftp://127.0.0.1/", TIMING)).toThrow(/http/);
    expect(() => new HttpProbe(LO, "http://[::1]/", TIMING)).toThrow(/IPv6/);
  });

  it("leaves no socket or timer behind", async () => {
    const ok = await httpServer((_req, res) => res.end("ok"));
    const silent = await httpServer(() => undefined);
    const before = handleCounts();
    const a = new HttpProbe(LO, `${ok.url}/`, TIMING);
    const s = new HttpProbe(LO, `${silent.url}/`, { intervalMs: 350, timeoutMs: 50 });
    const slow = new HttpProbe(LO, `${silent.url}/`, { intervalMs: 350, timeoutMs: 30_000 });
    const inFlight = slow.run();
    const results = await Promise.all([a.run(), s.run(), a.run()]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    await Promise.all([a.close(), s.close(), slow.close()]);
    expect((await inFlight).error).toBe("probe closed");
    // The servers' ends of the connections close once the probes hung up.
    expect(await waitFor(() => ok.closedSockets() === 2 && silent.closedSockets() === 2)).toBe(true);
    expect(await settleHandles(before)).toSatisfy(noMoreThan(before));
  });
});
