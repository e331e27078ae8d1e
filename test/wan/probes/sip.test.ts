import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { SipProbe } from "../../../src/wan/probes/sip.js";
import { buildOptions, matchOptionsResponse } from "../../../src/wan/probes/sip-message.js";
import { handleCounts, LO, noMoreThan, settleHandles } from "./helpers.js";

const TIMING = { intervalMs: 350, timeoutMs: 300 };

/** Headers of a SIP message, lower-cased names, in order. */
function parse(text: string): { start: string; headers: [string, string][]; body: string } {
  const [head = "", body = ""] = text.split("\r\n\r\n");
  const [start = "", ...lines] = head.split("\r\n");
  return { start, headers: lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]), body };
}
const header = (m: ReturnType<typeof parse>, name: string): string | undefined => m.headers.find(([n]) => n === name)?.[1];

/** A response to `req` as a proxy sends it: Via, From, To (+tag), Call-ID and CSeq copied. */
function respond(req: string, status: string, from: RemoteInfo, opts: { compact?: boolean; callId?: string } = {}): Buffer {
  const m = parse(req);
  const via = `${header(m, "via")!.replace(";rport", `;rport=${from.port}`)};received=${from.address}`;
  const lines = [
    `SIP/2.0 ${status}`,
    `${opts.compact ? "v" : "Via"}: ${via}`,
    `From: ${header(m, "from")}`,
    `To: ${header(m, "to")};tag=as1234`,
    `${opts.compact ? "i" : "Call-ID"}: ${opts.callId ?? header(m, "call-id")}`,
    `CSeq: ${header(m, "cseq")}`,
    "Server: fake-itsp",
    "Content-Length: 0",
  ];
  return Buffer.from(lines.join("\r\n") + "\r\n\r\n");
}

type Behaviour = (req: string, from: RemoteInfo) => Buffer[];

const servers: Socket[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function sipServer(behaviour: Behaviour): Promise<{ port: number; requests: { text: string; from: RemoteInfo }[] }> {
  const socket = createSocket("udp4");
  const requests: { text: string; from: RemoteInfo }[] = [];
  socket.on("message", (msg, from) => {
    const text = msg.toString("latin1");
    requests.push({ text, from });
    for (const out of behaviour(text, from)) socket.send(out, from.port, from.address);
  });
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  servers.push(socket);
  return { port: socket.address().port, requests };
}

describe("SIP OPTIONS message", () => {
  it("is a well-formed RFC 3261 request", () => {
    const req = buildOptions({ host: "192.0.2.60", port: 5060, localAddress: "198.51.100.10", localPort: 40000 });
    const m = parse(req.text);
    expect(req.text.endsWith("\r\n\r\n")).toBe(true);
    expect(m.start).toBe("OPTIONS sip:192.0.2.60:5060 SIP/2.0");
    expect(header(m, "via")).toBe(`SIP/2.0/UDP 198.51.100.10:40000;branch=${req.branch};rport`);
    expect(req.branch).toMatch(/^z9hG4bK[0-9a-f]{20}$/);
    expect(header(m, "max-forwards")).toBe("70");
    expect(header(m, "from")).toBe(`<sip:wanctl@198.51.100.10>;tag=${req.tag}`);
    expect(header(m, "to")).toBe("<sip:192.0.2.60:5060>");
    expect(header(m, "call-id")).toBe(req.callId);
    expect(header(m, "cseq")).toBe("1 OPTIONS");
    expect(header(m, "contact")).toBe("<sip:wanctl@198.51.100.10:40000>");
    expect(header(m, "content-length")).toBe("0");
    expect(m.body).toBe("");
    // Each request is its own transaction and dialog.
    const again = buildOptions({ host: "192.0.2.60", port: 5060, localAddress: "198.51.100.10", localPort: 40000 });
    expect(again.branch).not.toBe(req.branch);
    expect(again.callId).not.toBe(req.callId);
  });

  it("matches a response by Call-ID and top Via branch, compact forms too, and nothing else", () => {
    const req = buildOptions({ host: "127.0.0.1", port: 5060, localAddress: "127.0.0.1", localPort: 40000 });
    const from = { address: "127.0.0.1", port: 40000, family: "IPv4", size: 0 } as RemoteInfo;
    const ok = respond(req.text, "200 OK", from);
    expect(matchOptionsResponse(req, ok)).toEqual({ status: 200, reason: "OK" });
    expect(matchOptionsResponse(req, respond(req.text, "404 Not Found", from, { compact: true }))).toEqual({ status: 404, reason: "Not Found" });
    expect(matchOptionsResponse(req, respond(req.text, "200 OK", from, { callId: "other@x" }))).toBeNull();
    expect(matchOptionsResponse(req, ok.toString().replace(req.branch, "z9hG4bKother"))).toBeNull();
    expect(matchOptionsResponse(req, ok.toString().replace("1 OPTIONS", "1 INVITE"))).toBeNull();
    expect(matchOptionsResponse(req, req.text)).toBeNull(); // a request, not a response
    expect(matchOptionsResponse(req, "\u0000\u0001garbage")).toBeNull();
    expect(matchOptionsResponse(req, "SIP/2.0 200 OK\r\n")).toBeNull();
  });
});

describe("SIP OPTIONS probe over UDP", () => {
  it("is ok on 200 and on 404: any SIP response proves the path", async () => {
    for (const status of ["200 OK", "404 Not Found"]) {
      const srv = await sipServer((req, from) => [respond(req, status, from)]);
      const probe = new SipProbe(LO, "127.0.0.1", srv.port, TIMING);
      const r = await probe.run();
      expect(r).toMatchObject({ target: `sip 127.0.0.1:${srv.port}`, ok: true, detail: `SIP ${status}` });
      expect(Number.isFinite(r.rttMs)).toBe(true);
      expect(r.rttMs).toBeGreaterThanOrEqual(0);
      // Sent from the link's source address, and Via names the port it came from.
      const { text, from } = srv.requests[0]!;
      expect(from.address).toBe("127.0.0.1");
      expect(parse(text).start).toBe(`OPTIONS sip:127.0.0.1:${srv.port} SIP/2.0`);
      expect(header(parse(text), "via")).toMatch(new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${from.port};branch=z9hG4bK\\w+;rport$`));
      await probe.close();
    }
  });

  it("ignores garbage and other transactions' responses, and takes its own after them", async () => {
    const srv = await sipServer((req, from) => [
      Buffer.from("\x00\x01\x02 not sip at all"),
      Buffer.from("\r\n\r\n"), // a keep-alive
      respond(req, "200 OK", from, { callId: "someone-else@192.0.2.1" }),
      respond(req, "503 Service Unavailable", from, { compact: true }),
    ]);
    const probe = new SipProbe(LO, "127.0.0.1", srv.port, TIMING);
    expect(await probe.run()).toMatchObject({ ok: true, detail: "SIP 503 Service Unavailable" });
    await probe.close();
  });

  it("times out with a clear error when the proxy is silent or sends only what is not ours", async () => {
    const behaviours: Behaviour[] = [() => [], (req, from) => [Buffer.from("garbage"), respond(req, "200 OK", from, { callId: "x@y" })]];
    for (const b of behaviours) {
      const srv = await sipServer(b);
      const probe = new SipProbe(LO, "127.0.0.1", srv.port, TIMING);
      expect(await probe.run()).toEqual({ target: `sip 127.0.0.1:${srv.port}`, ok: false, error: "timeout: no answer within 300 ms" });
      expect(srv.requests).toHaveLength(1); // no retransmission inside one probe
      await probe.close();
    }
  });

  it("does not take an answer to an earlier run for the current one", async () => {
    // The proxy answers each request only when the next one comes: every answer is late.
    let previous: { req: string; from: RemoteInfo } | undefined;
    const srv = await sipServer((req, from) => {
      const out = previous ? [respond(previous.req, "200 OK", previous.from)] : [];
      previous = { req, from };
      return out;
    });
    const probe = new SipProbe(LO, "127.0.0.1", srv.port, { intervalMs: 350, timeoutMs: 150 });
    const results = [await probe.run(), await probe.run(), await probe.run()];
    for (const r of results) expect(r).toMatchObject({ ok: false, error: "timeout: no answer within 150 ms" });
    await probe.close();
  });

  it("keeps one socket from run to run, each run a new transaction from that port", async () => {
    const srv = await sipServer((req, from) => [respond(req, "200 OK", from)]);
    const probe = new SipProbe(LO, "127.0.0.1", srv.port, TIMING);
    for (let i = 0; i < 3; i++) expect((await probe.run()).ok).toBe(true);
    const ports = new Set(srv.requests.map((r) => r.from.port));
    expect(ports.size).toBe(1);
    const [port] = [...ports];
    for (const r of srv.requests) expect(header(parse(r.text), "via")).toContain(`127.0.0.1:${port}`);
    expect(new Set(srv.requests.map((r) => header(parse(r.text), "call-id"))).size).toBe(3);
    await probe.close();
  });

  it("leaves no socket or timer behind", async () => {
    const answering = await sipServer((req, from) => [respond(req, "200 OK", from)]);
    const silent = await sipServer(() => []);
    const before = handleCounts();
    const a = new SipProbe(LO, "127.0.0.1", answering.port, TIMING);
    const s = new SipProbe(LO, "127.0.0.1", silent.port, { intervalMs: 350, timeoutMs: 50 });
    const slow = new SipProbe(LO, "127.0.0.1", silent.port, { intervalMs: 350, timeoutMs: 30_000 });
    const inFlight = slow.run();
    expect((await Promise.all([a.run(), s.run(), a.run()])).map((r) => r.ok)).toEqual([true, false, true]);
    await Promise.all([a.close(), s.close(), slow.close()]);
    expect((await inFlight).error).toBe("probe closed");
    expect(await settleHandles(before)).toSatisfy(noMoreThan(before));
  });
});
