import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TcpProbe } from "../../../src/wan/probes/tcp.js";
import { handleCounts, LO, noMoreThan, settleHandles } from "./helpers.js";

const TIMING = { intervalMs: 350, timeoutMs: 400 };

let server: Server;
let port: number;
const accepted = new Set<Socket>();

/** A port nothing listens on (bound then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

beforeAll(async () => {
  server = createServer((sock) => {
    accepted.add(sock);
    sock.on("close", () => accepted.delete(sock));
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of accepted) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

describe("TCP connect probe", () => {
  it("is ok with an RTT when the handshake completes, from the link's source address", async () => {
    let peer: string | undefined;
    server.once("connection", (s) => (peer = s.remoteAddress));
    const probe = new TcpProbe(LO, "127.0.0.1", port, TIMING);
    const r = await probe.run();
    expect(r).toMatchObject({ target: `tcp 127.0.0.1:${port}`, ok: true, detail: "connected" });
    expect(Number.isFinite(r.rttMs)).toBe(true);
    expect(r.rttMs).toBeGreaterThanOrEqual(0);
    expect(peer).toBe("127.0.0.1");
    await probe.close();
  });

  it("counts a refused connection as the host answering (the link works), unless told otherwise", async () => {
    const p = await closedPort();
    const probe = new TcpProbe(LO, "127.0.0.1", p, TIMING);
    const r = await probe.run();
    expect(r.ok).toBe(true);
    expect(r.detail).toMatch(/refused/);
    expect(r.rttMs).toBeGreaterThanOrEqual(0);
    await probe.close();

    const strict = new TcpProbe(LO, "127.0.0.1", p, TIMING, { refusedMeansUp: false });
    const s = await strict.run();
    expect(s.ok).toBe(false);
    expect(s.error).toMatch(/ECONNREFUSED/);
    expect(s.rttMs).toBeUndefined();
    await strict.close();
  });

  it("times out when SYNs go unanswered (a listener whose accept queue is full)", async () => {
    // A process that listens with backlog 1 and then never accepts: the first connections fill
    // the queue, later SYNs are dropped, as on a dead path.
    const child: ChildProcess = spawn(
      process.execPath,
      [
        "-e",
        `const s = require("node:net").createServer();
         s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
           process.stdout.write(String(s.address().port) + "\\n");
           setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000), 20);
         });`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const blockedPort = await new Promise<number>((resolve, reject) => {
        child.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
        child.once("exit", () => reject(new Error("listener exited")));
      });
      await new Promise((r) => setTimeout(r, 100)); // let it block
      const probe = new TcpProbe(LO, "127.0.0.1", blockedPort, { intervalMs: 350, timeoutMs: 300 });
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await probe.run());
      // The first ones fill the queue (ok); once it is full, SYNs get no answer.
      expect(results.some((r) => !r.ok)).toBe(true);
      for (const r of results.filter((x) => !x.ok)) {
        expect(r.error).toMatch(/^timeout: no answer within 300 ms/);
        expect(r.rttMs).toBeUndefined();
      }
      await probe.close();
    } finally {
      const gone = new Promise((r) => child.once("close", r));
      child.kill("SIGKILL");
      await gone;
    }
  });

  it("fails at once for an unroutable source/target pair, and after close says so", async () => {
    // A target of another family than the link's source address cannot be probed at all.
    expect(() => new TcpProbe(LO, "::1", port, TIMING)).toThrow(/IPv6/);
    const probe = new TcpProbe(LO, "127.0.0.1", port, TIMING);
    await probe.close();
    expect(await probe.run()).toEqual({ target: `tcp 127.0.0.1:${port}`, ok: false, error: "probe closed" });
  });

  it("ends a run when the signal aborts, and leaves no socket or timer behind", async () => {
    const before = handleCounts();
    const probe = new TcpProbe(LO, "127.0.0.1", port, TIMING);
    const runs = [];
    for (let i = 0; i < 5; i++) runs.push(probe.run());
    const ac = new AbortController();
    ac.abort();
    const aborted = await probe.run(ac.signal);
    expect(aborted).toMatchObject({ ok: false, error: "aborted" });
    for (const r of await Promise.all(runs)) expect(r.ok).toBe(true);
    await probe.close();
    expect(await settleHandles(before)).toSatisfy(noMoreThan(before));
  });
});
