// The persistent ping against the real kernel: lo toward 127.0.0.1, and a throwaway network
// namespace whose echo replies are dropped by iptables (the host's own firewall is never touched).
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IcmpProbe, PingSession } from "../../../src/wan/probes/icmp.js";
import type { ProbeResult } from "../../../src/wan/probes/types.js";
import { createNetns, handleCounts, LO, noMoreThan, processAlive, settleHandles, sleep, waitFor, type Netns } from "./helpers.js";

const TIMING = { intervalMs: 200, timeoutMs: 200 };

/** `count` rounds, one per interval, as the link monitor runs them. */
async function rounds(probe: IcmpProbe, count: number): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  for (let i = 0; i < count; i++) {
    out.push(await probe.run());
    await sleep(TIMING.intervalMs);
  }
  return out;
}

/** Rounds until `pred` holds for a result (at most `max` rounds); returns that result or undefined. */
async function roundsUntil(probe: IcmpProbe, pred: (r: ProbeResult) => boolean, max = 25): Promise<ProbeResult | undefined> {
  for (let i = 0; i < max; i++) {
    const r = await probe.run();
    if (pred(r)) return r;
    await sleep(TIMING.intervalMs);
  }
  return undefined;
}

function expectRtt(r: ProbeResult): void {
  expect(r.ok).toBe(true);
  expect(typeof r.rttMs).toBe("number");
  expect(Number.isFinite(r.rttMs)).toBe(true);
  expect(r.rttMs).toBeGreaterThanOrEqual(0);
  expect(r.detail).toMatch(/^icmp_seq=\d+$/);
}

describe("ICMP probe with one persistent ping per target", () => {
  it("is ok with an RTT on lo toward 127.0.0.1, every round from the same ping process", async () => {
    const probe = new IcmpProbe(LO, "127.0.0.1", TIMING);
    const results = await rounds(probe, 6);
    for (const r of results) {
      expect(r.target).toBe("icmp 127.0.0.1");
      expectRtt(r);
    }
    // Rounds report new echoes as ping sends them (seq numbers go up).
    const seqs = results.map((r) => Number(r.detail!.slice("icmp_seq=".length)));
    expect(seqs.at(-1)!).toBeGreaterThan(seqs[0]!);
    expect(probe.session.starts).toBe(1);
    const pid = probe.session.pid!;
    expect(processAlive(pid)).toBe(true);
    await probe.close();
    expect(processAlive(pid)).toBe(false);
  });

  it("fails at once with ping's own words when the interface does not exist, and keeps retrying within bounds", async () => {
    const link = { name: "ghost", interface: "wanctlnosuch0", sourceAddress: "127.0.0.1" };
    const probe = new IcmpProbe(link, "127.0.0.1", TIMING, { restartMinMs: 50, restartMaxMs: 100 });
    const r = await probe.run();
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/wanctlnosuch0: No such device/);
    expect(await waitFor(() => probe.session.starts >= 3, 5_000)).toBe(true);
    await probe.close();
  });

  it("comes back with a new ping when its ping is killed", async () => {
    const probe = new IcmpProbe(LO, "127.0.0.1", TIMING, { restartMinMs: 50 });
    expectRtt(await probe.run());
    const pid = probe.session.pid!;
    process.kill(pid, "SIGKILL");
    const back = await roundsUntil(probe, (r) => r.ok && probe.session.starts === 2);
    expect(back).toBeDefined();
    expect(probe.session.pid).not.toBe(pid);
    await probe.close();
  });

  it("leaves no process, pipe or timer behind", async () => {
    const before = handleCounts();
    const probes = ["127.0.0.1", "127.0.0.2", "127.0.0.3"].map((t) => new IcmpProbe(LO, t, TIMING));
    for (const r of await Promise.all(probes.map((p) => p.run()))) expectRtt(r);
    const pids = probes.map((p) => p.session.pid!);
    await Promise.all(probes.map((p) => p.close()));
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    expect(await settleHandles(before)).toSatisfy(noMoreThan(before));
  });

  it("dies by itself once nobody reads its output (what happens to it if the daemon is SIGKILLed)", async () => {
    const args = PingSession.pingArgs({ target: "127.0.0.1", interface: "lo", family: 4, intervalMs: 100 });
    const child = spawn("ping", args, { stdio: ["ignore", "pipe", "ignore"] });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once("exit", (_code, signal) => r(signal)));
    await new Promise((r) => child.stdout!.once("data", r));
    child.stdout!.destroy(); // the read end of the pipe goes away, as when our process dies
    const signal = await Promise.race([exited, sleep(5_000).then(() => "still running" as const)]);
    if (signal === "still running") child.kill("SIGKILL");
    expect(signal).toBe("SIGPIPE");
  });
});

describe("ICMP probe through a link whose replies are lost (throwaway netns)", () => {
  let ns: Netns;
  // Inside the namespace only: echo requests go out, their replies never come back.
  const RULE = ["INPUT", "-p", "icmp", "--icmp-type", "echo-reply", "-j", "DROP"];
  const dropReplies = (): string => ns.exec(["iptables", "-w", "5", "-A", ...RULE]);
  const passReplies = (): string => ns.exec(["iptables", "-w", "5", "-D", ...RULE]);

  beforeAll(() => {
    ns = createNetns();
  });
  afterAll(() => {
    ns?.destroy();
  });

  it("turns not ok with a timeout error while replies are dropped, and ok again after, with one ping throughout", async () => {
    const probe = new IcmpProbe(LO, "127.0.0.1", TIMING, { spawnPrefix: ns.prefix });
    try {
      expectRtt((await roundsUntil(probe, (r) => r.ok))!);
      const pid = probe.session.pid!;

      dropReplies();
      const lost = await roundsUntil(probe, (r) => !r.ok);
      expect(lost).toBeDefined();
      expect(lost!.error).toMatch(/^timeout: /);
      expect(lost!.rttMs).toBeUndefined();
      for (const r of await rounds(probe, 4)) {
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/^timeout: /);
      }

      passReplies();
      expectRtt((await roundsUntil(probe, (r) => r.ok))!);
      expect(probe.session.pid).toBe(pid);
      expect(probe.session.starts).toBe(1);
    } finally {
      await probe.close();
    }
  });

  it("is not ok from the first round when the target never answers", async () => {
    dropReplies();
    const probe = new IcmpProbe(LO, "127.0.0.1", TIMING, { spawnPrefix: ns.prefix });
    try {
      for (const r of await rounds(probe, 5)) {
        expect(r).toMatchObject({ target: "icmp 127.0.0.1", ok: false });
        expect(r.error).toMatch(/^timeout: /);
      }
    } finally {
      await probe.close();
    }
  });
});
