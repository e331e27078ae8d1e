// The night: kill -9 at the audit's points of a switch, a damaged state file, a reboot during an
// outage, a second daemon, signals. The real `wanctl run` in the lab's office, the PBX simulator
// behind the office's NAT (it can be frozen mid-action, which a real Asterisk cannot on demand),
// Kamailio as the ITSP, BIND for DNS, a webhook receiver for the alerts. After each restart wanctl
// must converge to what should be from what is, say what it mended, and alert each switch once.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startSimInLab, type LabSim } from "../asterisk/sim/lab.js";
import { AMI_SECRET, AMI_USER, fixtureConfigFiles } from "../asterisk/sim/harness.js";
import { startBind, type Bind } from "../lab/bind.js";
import { LINK_PLAN, SERVICES, type LabProcess } from "../lab/index.js";
import { currentStatus, startDaemon, switchedTo, waitForStatus, wanctlBin } from "../lab/daemon-harness.js";
import { contactFrom, startItsp, type Itsp } from "../lab/kamailio.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { labConfig, writeLabConfig } from "../lab/wanctl-config.js";

const WAN1 = LINK_PLAN.wan1.publicAddress;
const WAN2 = LINK_PLAN.wan2.publicAddress;
const SHORT = 120;
const TSIG_SECRET = randomBytes(32).toString("base64");

// Prints one JSON line per webhook POST (an alert message).
const RECEIVER = `
require("node:http").createServer((req, res) => {
  let body = ""; req.on("data", (c) => (body += c));
  req.on("end", () => { console.log(JSON.stringify({ post: JSON.parse(body) })); res.end("ok"); });
}).listen(8080, "${SERVICES.http}", () => console.log(JSON.stringify({ listening: true })));
`;

interface WebhookAlert {
  id: string;
  kind: string;
  from?: string;
  to?: string;
  reason: string;
}

describeLab("the night: kill -9, a damaged state file, a reboot during an outage, two daemons, signals", () => {
  const lab = useLab();
  let itsp: Itsp;
  let sim: LabSim;
  let bind: Bind;
  let receiver: LabProcess;
  let daemon: LabProcess;
  let dir = "";
  let stateDir = "";
  let configFile = "";
  let config: ReturnType<typeof labConfig>;

  /** Every alert the webhook received, in order. */
  const alerts = (): WebhookAlert[] =>
    receiver.stdout
      .split("\n")
      .filter((l) => l.startsWith('{"post"'))
      .flatMap((l) => (JSON.parse(l) as { post: { alerts: WebhookAlert[] } }).post.alerts);
  const killDaemon = async (): Promise<void> => {
    process.kill(daemon.pid, "SIGKILL"); // the daemon alone, as `kill -9 <pid>` does: not its process group
    await daemon.exited;
  };
  const restart = async (): Promise<void> => {
    daemon = startDaemon(lab, configFile);
    await waitForStatus(stateDir, "the daemon's first status", (s) => s.pid === daemon.pid, 15_000, daemon);
  };
  const pjsipConf = () => readFileSync(join(sim.configDir, "pjsip.conf"), "utf8");

  beforeAll(async () => {
    itsp = await startItsp(lab);
    receiver = lab.spawn("inet", [process.execPath, "-e", RECEIVER]);
    await receiver.waitFor(/"listening"/, 10_000);
    const files = fixtureConfigFiles();
    delete files["sip.conf"];
    sim = await startSimInLab(lab, { files, sipTimers: { timeoutMs: 8_000 } });
    await contactFrom(itsp, WAN1);
    bind = await startBind(lab, { secret: TSIG_SECRET, records: { office: WAN1 } });
    config = labConfig("");
    config.failover = { holdDownSeconds: 3 };
    config.dns = {
      providers: [{ id: "bind", type: "rfc2136", server: SERVICES.dns, zone: "example.com", tsig: { name: "wanctl-key", secret: TSIG_SECRET } }],
      records: [{ name: "office.example.com", provider: "bind", ttl: 60 }],
    };
    config.asterisk = {
      ami: { host: "192.168.50.10", port: 5038, username: AMI_USER, secret: AMI_SECRET, timeoutMs: 3_000 },
      pjsip: { transports: ["transport-udp"] },
      shortExpirySeconds: SHORT,
      registerTimeoutMs: 10_000,
    };
    config.alerts = { webhook: { url: `http://${SERVICES.http}:8080/alerts` }, coalesceSeconds: 0 };
    ({ file: configFile, dir } = writeLabConfig(config));
    stateDir = join(dir, "state");
    daemon = startDaemon(lab, configFile);
    await waitForStatus(stateDir, "both links up on wan1", (s) => s.active === "wan1" && s.links.every((l) => l.state === "up") && !s.switching, 20_000, daemon);
  });

  afterAll(async () => {
    await daemon?.stop();
    await sim?.stop();
    await itsp?.stop();
    await bind?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("kill -9 after the route moved, with Asterisk mid-action: the restart finishes the switch and its alert arrives once, saying so", async () => {
    process.kill(sim.process.pid, "SIGSTOP"); // Asterisk hangs: the asterisk step waits on it
    try {
      await lab.cut("wan1");
      await waitForStatus(stateDir, "route moved, later steps running", (s) => s.active === "wan2" && s.switching?.to === "wan2", 15_000, daemon);
      await killDaemon();
    } finally {
      process.kill(sim.process.pid, "SIGCONT");
    }
    expect(alerts().filter((a) => a.kind === "failover")).toEqual([]); // the switch had not ended
    await restart();
    const done = await waitForStatus(stateDir, "the switch finished after the restart", (s) => switchedTo(s, "wan2") && s.lastSwitch?.ok === true, 30_000, daemon);
    expect(done.lastSwitch).toMatchObject({ kind: "failover", from: "wan1", to: "wan2" });
    await contactFrom(itsp, WAN2, (c) => c.expiresIn <= SHORT);
    expect(await bind.digA("office.example.com")).toEqual([WAN2]);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !alerts().some((a) => a.kind === "failover")) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1_500)); // and nothing more after it
    const failovers = alerts().filter((a) => a.kind === "failover");
    expect(failovers).toHaveLength(1);
    expect(failovers[0]).toMatchObject({ from: "wan1", to: "wan2", reason: expect.stringContaining("finished after a restart of wanctl") });
  });

  test("state.json damaged while on the backup link: kept aside and said; the failback still puts the trunk's own expiry back", async () => {
    await killDaemon();
    writeFileSync(join(stateDir, "state.json"), '{"version": 2, "journal": [{"id": ');
    await restart();
    const started = await waitForStatus(stateDir, "the damage in the status", (s) => (s.problems ?? []).some((p) => p.includes("state.json")), 10_000, daemon);
    expect(started.problems!.find((p) => p.includes("state.json"))).toMatch(/damaged .* kept as .*state\.json\.damaged-/);
    expect(readdirSync(stateDir).some((f) => f.startsWith("state.json.damaged-"))).toBe(true);
    expect(pjsipConf()).toMatch(/expiration = 120/);

    await lab.heal("wan1");
    await waitForStatus(stateDir, "failback to wan1", (s) => switchedTo(s, "wan1") && s.lastSwitch?.kind === "failback", 30_000, daemon);
    await contactFrom(itsp, WAN1, (c) => c.expiresIn > SHORT);
    expect(pjsipConf()).toMatch(/expiration = 3600/);
    expect(pjsipConf()).toMatch(/max_random_initial_delay = 1/);
    expect(pjsipConf()).not.toMatch(/max_random_initial_delay = 0/);
  });

  test("kill -9 in a failback between the config write and the reload: the restart reloads, and the trunk runs its own expiry", async () => {
    await lab.cut("wan1");
    await waitForStatus(stateDir, "failover to wan2", (s) => switchedTo(s, "wan2"), 30_000, daemon);
    await contactFrom(itsp, WAN2, (c) => c.expiresIn <= SHORT);
    await killDaemon();
    // Where the failback was when it died: the route is back on wan1, pjsip.conf holds the trunk's own
    // expiry, but Asterisk never reloaded it (it still runs 120 s and wan2's address).
    await lab.heal("wan1");
    await lab.setDefaultRoute("wan1");
    writeFileSync(join(sim.configDir, "pjsip.conf"), pjsipConf().replace("expiration = 120", "expiration = 3600").replace("max_random_initial_delay = 0", "max_random_initial_delay = 1"));
    const state = JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8"));
    state.journal.push({ id: "switch-killed-failback", kind: "failback", from: "wan2", to: "wan1", reason: "wan1 back", startedAt: new Date().toISOString(), startedMs: 0, status: "following", steps: [{ step: "route", ok: true, durationMs: 3, detail: "default route via wan1" }], alerted: false, repairs: 0 });
    writeFileSync(join(stateDir, "state.json"), JSON.stringify(state));

    await restart();
    await waitForStatus(stateDir, "the failback finished", (s) => s.active === "wan1" && s.lastSwitch?.to === "wan1" && s.lastSwitch.ok && !s.switching, 30_000, daemon);
    await contactFrom(itsp, WAN1, (c) => c.expiresIn > SHORT);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !alerts().some((a) => a.id === "switch-killed-failback")) await new Promise((r) => setTimeout(r, 100));
    expect(alerts().filter((a) => a.id === "switch-killed-failback")).toEqual([expect.objectContaining({ kind: "failback", reason: expect.stringContaining("finished after a restart") })]);
  });

  test("a reboot during an outage brings the gateway up on wan1: Asterisk, the trunk, DNS and the status follow wan1, and the mends are said", async () => {
    await lab.cut("wan1");
    await waitForStatus(stateDir, "failover to wan2", (s) => switchedTo(s, "wan2"), 30_000, daemon);
    await contactFrom(itsp, WAN2, (c) => c.expiresIn <= SHORT);
    const before = alerts().length;
    await killDaemon();
    // The power comes back: the gateway boots with its own default route on wan1 and an empty
    // connection-tracking table; the PBX (a host of its own) kept wan2's address and the short expiry.
    await lab.heal("wan1");
    await lab.setDefaultRoute("wan1");
    await lab.run("office", ["conntrack", "-F"]);

    await restart();
    const mended = await waitForStatus(stateDir, "mends at start", (s) => (s.mends ?? []).some((m) => m.cause === "start"), 30_000, daemon);
    expect(mended.active).toBe("wan1");
    expect(mended.trunksShortened).toBe(false);
    const what = mended.mends!.find((m) => m.cause === "start")!.what.join("\n");
    expect(what).toMatch(/^asterisk: .*198\.51\.100\.10/m);
    expect(what).toMatch(/^trunks: /m);
    expect(what).toMatch(/^dns: /m);
    await contactFrom(itsp, WAN1, (c) => c.expiresIn > SHORT);
    expect(await bind.digA("office.example.com")).toEqual([WAN1]);
    expect(pjsipConf()).toMatch(new RegExp(`external_signaling_address = ${WAN1.replace(/\./g, "\\.")}`));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !alerts().slice(before).some((a) => a.kind === "repaired")) await new Promise((r) => setTimeout(r, 100));
    expect(alerts().slice(before).filter((a) => a.kind === "repaired")).toEqual([expect.objectContaining({ to: "wan1", reason: expect.stringContaining("asterisk: ") })]);
  });

  test("a second wanctl run on the same state directory exits 2 naming the first; the first goes on", async () => {
    const second = await lab.exec("office", [process.execPath, wanctlBin, "run", "--config", configFile], { timeoutMs: 20_000 });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`another wanctl (pid ${daemon.pid}) is running with the state directory ${stateDir}`);
    expect(daemon.running).toBe(true);
    const fresh = await waitForStatus(stateDir, "a fresh status", (s) => Date.now() - Date.parse(s.updatedAt) < 3_000, 5_000, daemon);
    expect(fresh.pid).toBe(daemon.pid);
  });

  test("SIGHUP: a broken config keeps the old one and says why; a good one is taken without a restart", async () => {
    writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, "utf8")), failover: { holdDownSecnds: 5 } }));
    process.kill(daemon.pid, "SIGHUP");
    const refused = await waitForStatus(stateDir, "the refused reload in the status", (s) => (s.problems ?? []).some((p) => p.startsWith("the config was not reloaded")), 10_000, daemon);
    expect(refused.problems!.find((p) => p.startsWith("the config was not reloaded"))).toContain('failover.holdDownSecnds: unknown key "holdDownSecnds" (did you mean "holdDownSeconds"?)');
    expect(refused.pid).toBe(daemon.pid);

    writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, "utf8")), failover: { holdDownSeconds: 4 } }));
    process.kill(daemon.pid, "SIGHUP");
    await daemon.waitFor(/config reloaded/, 15_000);
    const after = await waitForStatus(stateDir, "the problem gone", (s) => !(s.problems ?? []).some((p) => p.startsWith("the config was not reloaded")), 10_000, daemon);
    expect(after.pid).toBe(daemon.pid);
    expect(after.active).toBe("wan1");
    expect(daemon.running).toBe(true);
  });

  test("SIGTERM: the daemon stops cleanly, says so, removes its socket, and the next start is not blocked", async () => {
    const exit = await daemon.stop();
    expect(exit.code).toBe(0);
    expect(currentStatus(stateDir)?.stoppedAt).toBeDefined();
    expect(readdirSync(stateDir)).not.toContain("control.sock");
    await restart();
    expect(daemon.running).toBe(true);
  });
});
