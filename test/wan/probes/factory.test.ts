import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type AddressInfo, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { monitor } from "../../../src/config/schema/monitor.js";
import { createProbes, DnsProbe, IcmpProbe, runRound, targetLabel, type ProbeTargetConfig } from "../../../src/wan/probes/index.js";
import { handleCounts, LO, noMoreThan, processAlive, settleHandles } from "./helpers.js";

const TIMING = { intervalMs: 200, timeoutMs: 300 };

let tcp: Server;
let http: HttpServer;
let udp: UdpSocket; // answers DNS and SIP alike: it echoes a SIP response or a DNS NXDOMAIN
const port = (s: Server | HttpServer): number => (s.address() as AddressInfo).port;

beforeAll(async () => {
  tcp = createServer((s) => s.on("error", () => undefined));
  http = createHttpServer((_req, res) => res.end("ok"));
  udp = createSocket("udp4");
  udp.on("message", (msg, from) => {
    const text = msg.toString("latin1");
    let out: Buffer;
    if (text.startsWith("OPTIONS ")) {
      const keep = text.split("\r\n").filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
      out = Buffer.from(["SIP/2.0 200 OK", ...keep, "Content-Length: 0", "", ""].join("\r\n"));
    } else {
      out = Buffer.from(msg);
      out.writeUInt16BE(0x8183, 2); // response, NXDOMAIN
    }
    udp.send(out, from.port, from.address);
  });
  await Promise.all([
    new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r)),
    new Promise<void>((r) => http.listen(0, "127.0.0.1", r)),
    new Promise<void>((r) => udp.bind(0, "127.0.0.1", r)),
  ]);
});

afterAll(async () => {
  await Promise.all([
    new Promise<void>((r) => tcp.close(() => r())),
    new Promise<void>((r) => http.close(() => r())),
    new Promise<void>((r) => udp.close(() => r())),
  ]);
});

function targets(): ProbeTargetConfig[] {
  const udpPort = udp.address().port;
  // Through the config schema, as the daemon gets them (defaults applied).
  return monitor.parse({
    targets: [
      { type: "icmp", host: "127.0.0.1" },
      { type: "tcp", host: "127.0.0.1", port: port(tcp) },
      { type: "http", url: `http://127.0.0.1:${port(http)}/` },
      { type: "sip", host: "127.0.0.1", port: udpPort },
    ],
  }).targets;
}

describe("createProbes", () => {
  it("builds one probe per config target, in order, with unique labels", async () => {
    const t = targets();
    const probes = createProbes(t, LO, TIMING);
    expect(probes.map((p) => p.type)).toEqual(["icmp", "tcp", "http", "sip"]);
    expect(probes.map((p) => p.target)).toEqual(t.map(targetLabel));
    for (const p of probes) expect(p.link).toBe(LO);
    await Promise.all(probes.map((p) => p.close()));
    const sip = monitor.parse({ targets: [{ type: "sip", host: "192.0.2.60" }] }).targets;
    expect(createProbes(sip, LO, TIMING)[0]!.target).toBe("sip 192.0.2.60:5060"); // the schema's default port
  });

  it("runs a round of every kind of probe through the loopback link", async () => {
    const before = handleCounts();
    const probes = createProbes(targets(), LO, TIMING);
    // DNS targets are always on port 53 in the config; the fake listens elsewhere.
    probes.push(new DnsProbe(LO, "127.0.0.1", "office.example.com", TIMING, { port: udp.address().port }));
    const round1 = await runRound(probes);
    const round2 = await runRound(probes);
    for (const r of [...round1, ...round2]) {
      expect(r.ok, `${r.target}: ${r.error}`).toBe(true);
      expect(Number.isFinite(r.rttMs)).toBe(true);
      expect(r.rttMs).toBeGreaterThanOrEqual(0);
    }
    expect(round1.map((r) => r.detail)).toEqual([
      expect.stringMatching(/^icmp_seq=\d+$/),
      "connected",
      "HTTP 200 OK",
      "SIP 200 OK",
      "rcode NXDOMAIN, 0 answers",
    ]);
    const pingPid = (probes[0] as IcmpProbe).session.pid!;
    await Promise.all(probes.map((p) => p.close()));
    expect(processAlive(pingPid)).toBe(false);
    expect(await settleHandles(before)).toSatisfy(noMoreThan(before));
  });

  it("refuses what it cannot probe: a target listed twice, a target of the wrong family, a bad timing", () => {
    const t: ProbeTargetConfig = { type: "icmp", host: "127.0.0.1" };
    expect(() => createProbes([t, t], LO, TIMING)).toThrow(/listed twice/);
    expect(() => createProbes([{ type: "tcp", host: "::1", port: 80 }], LO, TIMING)).toThrow(/IPv6/);
    expect(() => createProbes([t], LO, { intervalMs: 0, timeoutMs: 300 })).toThrow(/positive/);
  });
});
