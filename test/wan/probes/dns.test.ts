import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { DnsProbe } from "../../../src/wan/probes/dns.js";
import { encodeQuery, matchResponse } from "../../../src/wan/probes/dns-wire.js";
import { handleCounts, LO, noMoreThan, settleHandles } from "./helpers.js";

const TIMING = { intervalMs: 350, timeoutMs: 300 };

type Reply = (query: Buffer, from: RemoteInfo) => Buffer[];

/** A DNS server on 127.0.0.1 that answers each query with what `reply` returns (maybe nothing). */
async function dnsServer(reply: Reply): Promise<{ port: number; socket: Socket; queries: { from: RemoteInfo; msg: Buffer }[] }> {
  const socket = createSocket("udp4");
  const queries: { from: RemoteInfo; msg: Buffer }[] = [];
  socket.on("message", (msg, from) => {
    queries.push({ from, msg });
    for (const out of reply(msg, from)) socket.send(out, from.port, from.address);
  });
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  servers.push(socket);
  return { port: socket.address().port, socket, queries };
}

const servers: Socket[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** The question section of a query (after the 12-byte header). */
const questionOf = (q: Buffer): Buffer => q.subarray(12);

/** A response to `q`: same ID and question, QR+RD+RA, `rcode`, and one A record when NOERROR. */
function response(q: Buffer, rcode: number, opts: { id?: number } = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? q.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8180 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rcode === 0 ? 1 : 0, 6);
  const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
  return Buffer.concat([header, questionOf(q), ...(rcode === 0 ? [answer] : [])]);
}

describe("DNS wire format", () => {
  it("asks one question with recursion desired", () => {
    const q = encodeQuery(0x1234, "Example.COM.");
    expect(q.readUInt16BE(0)).toBe(0x1234);
    expect(q.readUInt16BE(2)).toBe(0x0100);
    expect(q.readUInt16BE(4)).toBe(1);
    expect(q.subarray(12).toString("latin1")).toBe("\x07Example\x03COM\x00\x00\x01\x00\x01");
    expect(() => encodeQuery(1, "a..b")).toThrow(/bad DNS name/);
  });

  it("matches only the response to our question", () => {
    const q = encodeQuery(7, "office.example.com");
    expect(matchResponse(q, response(q, 3))).toMatchObject({ rcodeName: "NXDOMAIN", answers: 0 });
    expect(matchResponse(q, response(q, 0))).toMatchObject({ rcodeName: "NOERROR", answers: 1 });
    expect(matchResponse(q, response(q, 0, { id: 8 }))).toBeNull(); // another ID
    expect(matchResponse(q, q)).toBeNull(); // a query, not a response
    expect(matchResponse(q, Buffer.from("garbage"))).toBeNull();
    const other = encodeQuery(7, "other.example.com");
    expect(matchResponse(q, response(other, 0))).toBeNull(); // another question
    // Case may differ (0x20 randomisation by resolvers).
    const upper = response(encodeQuery(7, "OFFICE.example.COM"), 0);
    expect(matchResponse(q, upper)).not.toBeNull();
  });
});

describe("DNS probe over UDP", () => {
  it("is ok with an RTT on a valid answer, sent from the link's source address", async () => {
    const srv = await dnsServer((q) => [response(q, 0)]);
    const probe = new DnsProbe(LO, "127.0.0.1", "office.example.com", TIMING, { port: srv.port });
    const r = await probe.run();
    expect(r).toMatchObject({ target: "dns office.example.com @127.0.0.1", ok: true, detail: "rcode NOERROR, 1 answer" });
    expect(Number.isFinite(r.rttMs)).toBe(true);
    expect(r.rttMs).toBeGreaterThanOrEqual(0);
    expect(srv.queries).toHaveLength(1);
    expect(srv.queries[0]!.from.address).toBe("127.0.0.1");
    await probe.close();
  });

  it("counts NXDOMAIN (and SERVFAIL) as an answer: the path works", async () => {
    for (const rcode of [3, 2]) {
      const srv = await dnsServer((q) => [response(q, rcode)]);
      const probe = new DnsProbe(LO, "127.0.0.1", "nothing.example.com", TIMING, { port: srv.port });
      const r = await probe.run();
      expect(r.ok).toBe(true);
      expect(r.detail).toMatch(rcode === 3 ? /^rcode NXDOMAIN/ : /^rcode SERVFAIL/);
      expect(r.rttMs).toBeGreaterThanOrEqual(0);
      await probe.close();
    }
  });

  it("ignores datagrams that are not the answer, and takes the real one after them", async () => {
    const srv = await dnsServer((q) => [Buffer.from("not dns"), response(q, 0, { id: (q.readUInt16BE(0) + 1) & 0xffff }), response(q, 3)]);
    const probe = new DnsProbe(LO, "127.0.0.1", "office.example.com", TIMING, { port: srv.port });
    const r = await probe.run();
    expect(r).toMatchObject({ ok: true, detail: "rcode NXDOMAIN, 0 answers" });
    await probe.close();
  });

  it("times out with a clear error when the server never answers (or answers only garbage)", async () => {
    for (const reply of [(): Buffer[] => [], (q: Buffer): Buffer[] => [Buffer.from("x"), response(q, 0, { id: (q.readUInt16BE(0) + 1) & 0xffff })]]) {
      const srv = await dnsServer(reply);
      const probe = new DnsProbe(LO, "127.0.0.1", "office.example.com", TIMING, { port: srv.port });
      const r = await probe.run();
      expect(r).toEqual({ target: "dns office.example.com @127.0.0.1", ok: false, error: "timeout: no answer within 300 ms" });
      expect(srv.queries).toHaveLength(1); // one try: no retries inside a probe
      await probe.close();
    }
  });

  it("counts a port-unreachable from the server's host as an answer, unless told otherwise", async () => {
    const srv = await dnsServer(() => []);
    const port = srv.port;
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const probe = new DnsProbe(LO, "127.0.0.1", "office.example.com", TIMING, { port });
    expect(await probe.run()).toMatchObject({ ok: true, detail: "port unreachable (the host answered)" });
    await probe.close();
    const strict = new DnsProbe(LO, "127.0.0.1", "office.example.com", TIMING, { port, refusedMeansUp: false });
    const r = await strict.run();
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/ECONNREFUSED/);
    await strict.close();
  });

  it("keeps one socket from run to run (one flow, not one per round), each run with its own ID", async () => {
    const srv = await dnsServer((q) => [response(q, 0)]);
    const probe = new DnsProbe(LO, "127.0.0.1", "office.example.com", TIMING, { port: srv.port });
    for (let i = 0; i < 4; i++) expect((await probe.run()).ok).toBe(true);
    expect(new Set(srv.queries.map((q) => q.from.port)).size).toBe(1);
    expect(new Set(srv.queries.map((q) => q.msg.readUInt16BE(0))).size).toBeGreaterThan(1); // random IDs: 4 alike would be 1 in 2^48
    await probe.close();
  });

  it("after a socket error (port unreachable) the next run works again once the server is back", async () => {
    const first = await dnsServer(() => []);
    const port = first.port;
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const probe = new DnsProbe(LO, "127.0.0.1", "office.example.com", TIMING, { port, refusedMeansUp: false });
    expect((await probe.run()).error).toMatch(/ECONNREFUSED/);
    const back = createSocket("udp4");
    const seen: RemoteInfo[] = [];
    back.on("message", (q, from) => (seen.push(from), back.send(response(q, 0), from.port, from.address)));
    await new Promise<void>((r) => back.bind(port, "127.0.0.1", r));
    servers.push(back);
    expect(await probe.run()).toMatchObject({ ok: true, detail: "rcode NOERROR, 1 answer" });
    expect(seen).toHaveLength(1);
    await probe.close();
  });

  it("leaves no socket or timer behind, after answers, timeouts and aborts", async () => {
    const answering = await dnsServer((q) => [response(q, 0)]);
    const silent = await dnsServer(() => []);
    const before = handleCounts();
    const a = new DnsProbe(LO, "127.0.0.1", "office.example.com", TIMING, { port: answering.port });
    const s = new DnsProbe(LO, "127.0.0.1", "office.example.com", { intervalMs: 350, timeoutMs: 50 }, { port: silent.port });
    const slow = new DnsProbe(LO, "127.0.0.1", "office.example.com", { intervalMs: 350, timeoutMs: 30_000 }, { port: silent.port });
    const ac = new AbortController();
    const pending = slow.run(ac.signal);
    const results = await Promise.all([a.run(), a.run(), s.run()]);
    expect(results.map((r) => r.ok)).toEqual([true, true, false]);
    ac.abort();
    expect((await pending).error).toBe("aborted");
    const closing = slow.run(); // in flight while the probe closes
    await Promise.all([a.close(), s.close(), slow.close()]);
    expect((await closing).error).toBe("probe closed");
    expect(await settleHandles(before)).toSatisfy(noMoreThan(before));
  });
});
