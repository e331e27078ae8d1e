// systemd's notify protocol: when READY=1 goes out, what STATUS= says, how the probe rounds feed
// the watchdog; then the real thing, systemd-notify sending to a unix datagram socket this test
// listens on (python3, as Node has none), and the unit checked by systemd-analyze.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { statusLine, systemdNotifier, SystemdNotifier, systemdNotifyCommand } from "../../src/ops/systemd.js";
import type { LinkHealth, LinkState } from "../../src/wan/health.js";
import { tempDir } from "../temp-dirs.js";
import { failover, listenNotifySocket, recordingLogger, quietLogger, statusFixture, type NotifySocket } from "./fixtures.js";
import { describeWithTools } from "./tools.js";

const quiet = quietLogger();
const health = (state: LinkState) => ({ state }) as LinkHealth;
const ok = [{ target: "a", ok: true, rttMs: 1 }];

function recording(options: { watchdogMs?: number } = {}) {
  const sent: Record<string, string>[] = [];
  const clock = { now: 0 };
  const notifier = new SystemdNotifier({ links: ["wan1", "wan2"], judgedAfterRounds: 5, logger: quiet, now: () => clock.now, send: async (f) => void sent.push(f), ...options });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return { sent, clock, notifier, settle };
}

describe("systemd notify", () => {
  test("READY=1 once every link has a verdict, and only once", async () => {
    const { sent, notifier, settle } = recording();
    notifier.round("wan1", ok, health("up"));
    notifier.round("wan2", ok, health("unknown"));
    await settle();
    expect(sent).toEqual([]);
    notifier.round("wan2", ok, health("down"));
    notifier.round("wan1", ok, health("up"));
    await settle();
    expect(sent).toEqual([{ READY: "1" }]);
  });

  test("a link that never settles (flapping) counts as judged after enough rounds: start-up never hangs on it", async () => {
    const { sent, notifier, settle } = recording();
    notifier.round("wan1", ok, health("up"));
    for (let i = 0; i < 4; i++) notifier.round("wan2", ok, health("unknown"));
    await settle();
    expect(sent).toEqual([]);
    notifier.round("wan2", ok, health("unknown"));
    await settle();
    expect(sent).toEqual([{ READY: "1" }]);
  });

  test("STATUS= is one line, sent when it changes", async () => {
    const { sent, notifier, settle } = recording();
    const status = statusFixture({ pending: null, lastSwitch: failover(true) });
    notifier.status(status);
    notifier.status(status);
    await settle();
    expect(sent).toEqual([{ STATUS: statusLine(status) }]);
    const line = statusLine(status);
    expect(line).toMatch(/^on wan2; wan1 down; last switch failover wan1 → wan2 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(line).not.toContain("\n");
    expect(statusLine(statusFixture({ lastSwitch: null, links: statusFixture().links.map((l) => ({ ...l, state: "down" })) }))).toBe(
      "on wan2; wan1 down; ALL LINKS DOWN; NOT DONE on wan2: dns; no switch since start",
    );
    expect(statusLine(statusFixture({ pending: null, active: "wan1", pin: { mode: "pinned", link: "wan1" }, lastSwitch: failover(false) }))).toMatch(/^on wan1 \(pinned\); wan2 degraded; last switch .* \(FAILED\)$/);
  });

  test("the watchdog is fed from the rounds, every third of WATCHDOG_USEC, only while every link's rounds go on", async () => {
    const { sent, clock, notifier, settle } = recording({ watchdogMs: 30_000 });
    const both = () => {
      notifier.round("wan1", ok, health("up"));
      notifier.round("wan2", ok, health("up"));
    };
    // Each second apart, as systemd-notify would be done long before the next.
    for (; clock.now <= 25_000; clock.now += 1_000) both(), await settle();
    const feeds = () => sent.filter((f) => f.WATCHDOG === "1").length;
    expect(feeds()).toBe(2); // at 10 s and 20 s
    // wan2's monitor hangs: wan1 alone does not feed it, and systemd will restart wanctl.
    // (Once more at 30 s: wan2's rounds until 25 s came after the feed at 20 s.)
    for (; clock.now <= 90_000; clock.now += 1_000) notifier.round("wan1", ok, health("up")), await settle();
    expect(feeds()).toBe(3);
    notifier.round("wan2", ok, health("up"));
    await settle();
    expect(feeds()).toBe(4);
  });

  test("following a router (route.backend none): the first egress sample makes it ready, and the egress loop feeds the watchdog", async () => {
    const { sent, clock, notifier, settle } = recording({ watchdogMs: 30_000 });
    for (; clock.now <= 25_000; clock.now += 1_000) notifier.egress(), await settle();
    expect(sent.filter((f) => f.READY === "1")).toHaveLength(1);
    expect(sent.filter((f) => f.WATCHDOG === "1")).toHaveLength(2); // at 10 s and 20 s
    // The loop hangs: nothing feeds it any more.
    clock.now = 90_000;
    await settle();
    expect(sent.filter((f) => f.WATCHDOG === "1")).toHaveLength(2);
  });

  test("messages that come while one is being sent are merged into the next, in order", async () => {
    const sent: Record<string, string>[] = [];
    let release: () => void = () => undefined;
    const notifier = new SystemdNotifier({
      links: ["wan1"],
      judgedAfterRounds: 1,
      logger: quiet,
      send: (f) => (sent.push(f), new Promise<void>((resolve) => (release = resolve))),
    });
    notifier.status(statusFixture({ active: "wan1" }));
    notifier.status(statusFixture({ active: "wan2" }));
    notifier.round("wan1", ok, health("up"));
    notifier.status(statusFixture({ active: null }));
    release();
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    const stopped = notifier.stopping();
    release();
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    await stopped;
    expect(sent.map((f) => Object.keys(f).sort().join("+"))).toEqual(["STATUS", "READY+STATUS", "STATUS+STOPPING"]);
    expect(sent[1]!.STATUS).toMatch(/^on no link/);
  });

  test("only under systemd, with the watchdog only when it is for this process", () => {
    const options = { links: ["wan1"], judgedAfterRounds: 1, logger: quiet };
    expect(systemdNotifier({}, options)).toBeUndefined();
    const watchdogOf = (n: SystemdNotifier | undefined) => (n as unknown as { options: { watchdogMs?: number } }).options.watchdogMs;
    expect(watchdogOf(systemdNotifier({ NOTIFY_SOCKET: "/run/systemd/notify" }, options))).toBeUndefined();
    expect(watchdogOf(systemdNotifier({ NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: "30000000", WATCHDOG_PID: String(process.pid) }, options))).toBe(30_000);
    expect(watchdogOf(systemdNotifier({ NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "1" }, options))).toBeUndefined();
  });

  test("a notifier that cannot send says so once, and the daemon goes on", async () => {
    const { lines, logger } = recordingLogger();
    const notifier = new SystemdNotifier({ links: ["wan1"], judgedAfterRounds: 1, logger, send: systemdNotifyCommand({ NOTIFY_SOCKET: "/nonexistent" }, "/nonexistent/systemd-notify") });
    notifier.round("wan1", ok, health("up"));
    notifier.status(statusFixture());
    await notifier.stopping();
    expect(lines).toEqual([expect.stringMatching(/^cannot tell systemd \(READY\): spawn \/nonexistent\/systemd-notify ENOENT$/)]);
  });
});

describeWithTools("systemd notify, for real", ["python3", "systemd-notify", "systemd-analyze"], () => {
  let socket: NotifySocket | undefined;
  afterEach(() => {
    socket?.close();
    socket = undefined;
  });

  test("READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 reach the notify socket as datagrams", async () => {
    const path = join(tempDir(), "notify.sock");
    socket = await listenNotifySocket(path);
    const clock = { now: 0 };
    const env = { ...process.env, NOTIFY_SOCKET: path, WATCHDOG_USEC: "3000000", WATCHDOG_PID: String(process.pid) };
    const notifier = systemdNotifier(env, { links: ["wan1", "wan2"], judgedAfterRounds: 5, logger: quiet, now: () => clock.now })!;
    notifier.status(statusFixture({ pending: null }));
    notifier.round("wan1", ok, health("up"));
    notifier.round("wan2", ok, health("up"));
    expect(await socket!.received((t) => t.includes("READY=1"))).toContain("READY=1");
    clock.now = 1_500;
    notifier.round("wan1", ok, health("up"));
    notifier.round("wan2", ok, health("up"));
    expect(await socket!.received((t) => t.includes("WATCHDOG=1"))).toBe("WATCHDOG=1");
    const status = await socket!.received((t) => t.startsWith("STATUS="));
    expect(status).toBe(`STATUS=${statusLine(statusFixture({ pending: null }))}`);
    await notifier.stopping();
    expect(await socket!.received((t) => t.includes("STOPPING=1"))).toMatch(/STOPPING=1/);
  });

  test("systemd-analyze verify finds nothing wrong with systemd/wanctl.service", () => {
    const unit = new URL("../../systemd/wanctl.service", import.meta.url).pathname;
    const result = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(`${result.stdout}${result.stderr}`.trim()).toBe("");
    expect(result.status).toBe(0);
    const text = spawnSync("cat", [unit], { encoding: "utf8" }).stdout;
    expect(text).toMatch(/^Type=notify$/m);
    expect(text).toMatch(/^NotifyAccess=all$/m);
    expect(text).toMatch(/^WatchdogSec=\d+$/m);
  });
});
