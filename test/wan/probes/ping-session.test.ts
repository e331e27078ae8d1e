// The persistent ping's bookkeeping, driven by a scripted stand-in for ping(8) so every case
// (late replies, duplicates, ICMP errors, exits, silence) happens on cue. The real ping runs in
// icmp.test.ts.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IcmpProbe, PingSession, type EchoOutcome, type PingSessionOptions } from "../../../src/wan/probes/icmp.js";
import { handleCounts, LO, noMoreThan, processAlive, settleHandles, sleep, waitFor } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "wanctl-fake-ping-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** An executable shell script standing in for ping; it ignores its arguments. */
function fakePing(body: string): string {
  const path = join(dir, `ping${n++}.sh`);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function session(pingPath: string, o: Partial<PingSessionOptions> = {}): PingSession {
  return new PingSession({ target: "192.0.2.1", interface: "wan1", family: 4, intervalMs: 200, timeoutMs: 500, pingPath, ...o });
}

/** Outcomes as they come, until `count` arrived (bounded wait). */
async function collect(s: PingSession, count: number, maxMs = 5_000): Promise<EchoOutcome[]> {
  const got: EchoOutcome[] = [];
  const off = s.subscribe((o) => got.push(o));
  s.start();
  await waitFor(() => got.length >= count, maxMs);
  off();
  return got;
}

describe("persistent ping session", () => {
  it("builds ping's argv: numeric, -O, -D, family, interval in seconds, bound to the interface", () => {
    expect(PingSession.pingArgs({ target: "192.0.2.1", interface: "wan2", family: 4, intervalMs: 350 })).toEqual([
      "-n", "-O", "-D", "-4", "-i", "0.350", "-I", "wan2", "192.0.2.1",
    ]);
  });

  it("turns replies, late replies, duplicates, ICMP errors and send failures into one outcome per echo", async () => {
    const ping = fakePing(`
echo "PING 192.0.2.1 (192.0.2.1) from 198.51.100.10 wan1: 56(84) bytes of data."
echo "[1.0] no answer yet for icmp_seq=1"
sleep 0.1
echo "[1.1] 64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=300 ms"
echo "[1.1] 64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=301 ms (DUP!)"
echo "[1.2] no answer yet for icmp_seq=2"
sleep 0.6
echo "[1.8] 64 bytes from 192.0.2.1: icmp_seq=2 ttl=64 time=900 ms"
echo "[1.9] 64 bytes from 192.0.2.1: icmp_seq=3 ttl=64 time=600 ms"
echo "[2.0] From 192.0.2.9 icmp_seq=4 Destination Host Unreachable"
echo "[2.0] no answer yet for icmp_seq=4"
sleep 0.2
echo "ping: Warning: source address might be selected on device other than: wan1" >&2
echo "ping: sendmsg: Network is unreachable" >&2
exec sleep 30`);
    // timeout 500 > interval 200: "no answer yet" leaves 300 ms more for a reply.
    const s = session(ping);
    const got = await collect(s, 5);
    await s.stop();
    expect(got.map(({ at: _at, ...o }) => o)).toEqual([
      { seq: 1, ok: true, rttMs: 300 },
      { seq: 2, ok: false, error: "timeout: no reply to icmp_seq=2 within 500 ms" },
      { seq: 3, ok: false, error: "timeout: reply to icmp_seq=3 after 600 ms, over 500 ms" },
      { seq: 4, ok: false, error: "Destination Host Unreachable (from 192.0.2.9, icmp_seq=4)" },
      { seq: null, ok: false, error: "ping: sendmsg: Network is unreachable" },
    ]);
  });

  it("with a timeout no longer than the interval, an echo is lost as soon as ping sends the next", async () => {
    const ping = fakePing(`
echo "no answer yet for icmp_seq=1"
sleep 0.1
echo "64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=250 ms"
echo "64 bytes from 192.0.2.1: icmp_seq=2 ttl=64 time=0.5 ms"
exec sleep 30`);
    const s = session(ping, { intervalMs: 200, timeoutMs: 200 });
    const got = await collect(s, 2);
    await s.stop();
    expect(got.map(({ at: _at, ...o }) => o)).toEqual([
      { seq: 1, ok: false, error: "timeout: no reply to icmp_seq=1 within 200 ms" },
      { seq: 2, ok: true, rttMs: 0.5 },
    ]);
  });

  it("restarts ping with growing, bounded delays when it exits, and says why", async () => {
    const ping = fakePing(`echo "ping: SO_BINDTODEVICE wan9: No such device" >&2; exit 2`);
    const s = session(ping, { restartMinMs: 50, restartMaxMs: 200 });
    const got = await collect(s, 1);
    expect(got[0]).toMatchObject({ seq: null, ok: false, error: "ping: SO_BINDTODEVICE wan9: No such device (ping exited with code 2)" });
    expect(s.state).toBe("backoff");
    expect(s.lastError).toMatch(/No such device/);
    expect(await waitFor(() => s.starts >= 4, 5_000)).toBe(true);
    await s.stop();
    const starts = s.starts;
    await sleep(400);
    expect(s.starts).toBe(starts); // stopped means stopped: no restart timer left
    expect(s.state).toBe("stopped");
  });

  it("kills and restarts a ping that prints nothing", async () => {
    const ping = fakePing(`echo "PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data."; exec sleep 30`);
    const s = session(ping, { stallMs: 300, restartMinMs: 10_000 });
    s.start();
    expect(await waitFor(() => s.pid !== undefined, 2_000)).toBe(true);
    const pid = s.pid!;
    expect(await waitFor(() => s.state === "backoff", 3_000)).toBe(true);
    expect(s.lastError).toBe("ping printed nothing for 300 ms; killed");
    expect(processAlive(pid)).toBe(false);
    await s.stop();
  });

  it("reports ping's last error to a run at once while ping waits to restart", async () => {
    const ping = fakePing(`echo "ping: connect: Network is unreachable" >&2; exit 2`);
    const probe = new IcmpProbe(LO, "192.0.2.1", { intervalMs: 200, timeoutMs: 300 }, { pingPath: ping, restartMinMs: 10_000 });
    const first = await probe.run();
    expect(first).toEqual({ target: "icmp 192.0.2.1", ok: false, error: "ping: connect: Network is unreachable (ping exited with code 2)" });
    const second = await probe.run();
    expect(second.ok).toBe(false);
    expect(second.error).toMatch(/^ping is not running: ping: connect: Network is unreachable \(ping exited with code 2\); next start in \d+ ms$/);
    await probe.close();
  });

  it("gives a round the newest echo not older than maxAgeMs, else waits for the next one", async () => {
    const ping = fakePing(`
echo "64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=1.5 ms"
exec sleep 30`);
    // maxAgeMs is the interval by default; a wide one here keeps a slow machine from mattering.
    const probe = new IcmpProbe(LO, "192.0.2.1", { intervalMs: 200, timeoutMs: 300 }, { pingPath: ping, maxAgeMs: 1_000 });
    const r1 = await probe.run(); // waits for the first echo
    expect(r1).toEqual({ target: "icmp 192.0.2.1", ok: true, rttMs: 1.5, detail: "icmp_seq=1" });
    const r2 = await probe.run(); // the same echo is still fresh: reported again, not waited for
    expect(r2).toEqual(r1);
    await sleep(1_100);
    const r3 = await probe.run(); // nothing fresh, and nothing comes
    expect(r3).toEqual({ target: "icmp 192.0.2.1", ok: false, error: "timeout: no echo reply or loss reported by ping within 300 ms" });
    await probe.close();
  });

  it("leaves no process, pipe or timer behind after close()", async () => {
    const before = handleCounts();
    const ping = fakePing(`
i=1
while [ $i -le 1000 ]; do echo "64 bytes from 192.0.2.1: icmp_seq=$i ttl=64 time=0.1 ms"; i=$((i+1)); sleep 0.05; done`);
    const probes = [0, 1, 2].map(() => new IcmpProbe(LO, "192.0.2.1", { intervalMs: 200, timeoutMs: 300 }, { pingPath: ping }));
    for (const r of await Promise.all(probes.map((p) => p.run()))) expect(r.ok).toBe(true);
    const pids = probes.map((p) => p.session.pid!);
    const slow = new IcmpProbe(LO, "192.0.2.1", { intervalMs: 200, timeoutMs: 30_000 }, { pingPath: fakePing("exec sleep 30") });
    const inFlight = slow.run();
    await Promise.all([...probes, slow].map((p) => p.close()));
    expect((await inFlight).error).toBe("probe closed");
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    expect(await settleHandles(before)).toSatisfy(noMoreThan(before));
    expect(await probes[0]!.run()).toMatchObject({ ok: false, error: "probe closed" });
  });
});
