import { describe, expect, test } from "vitest";
import { showStatus } from "../../src/cli/commands/status.js";
import { parseConfigText } from "../../src/config/load.js";
import { statusFile, type DaemonStatus } from "../../src/daemon/status-file.js";
import { writeJsonAtomic } from "../../src/lib/json-file.js";
import { recordFingerprint } from "../../src/ddns/index.js";
import { writeDdnsRecords } from "../../src/ddns/state.js";
import { minimalConfig } from "../config/fixtures.js";
import { tempDir } from "../temp-dirs.js";

const now = Date.parse("2026-11-25T12:00:00.000Z");

function sample(updatedAt: string): DaemonStatus {
  return {
    version: 1,
    pid: 1234,
    startedAt: "2026-11-25T11:00:00.000Z",
    updatedAt,
    active: "wan2",
    pin: { mode: "auto" },
    decision: { action: "stay", reason: "failback to wan1 waits for hold-down: 42 s left" },
    links: [
      { name: "wan1", interface: "wan1", priority: 1, state: "up", since: "2026-11-25T11:59:00.000Z", lossPct: 0, latencyMs: 12.34, jitterMs: 1.5, lastRound: { answered: 3, targets: 3 }, reason: "5 rounds in a row passed" },
      { name: "wan2", interface: "wan2", priority: 2, state: "up", since: "2026-11-25T11:00:00.000Z", lossPct: 2.5, latencyMs: 40, jitterMs: null, lastRound: { answered: 2, targets: 3 }, reason: null },
    ],
    switches: 1,
    lastSwitch: {
      kind: "failover",
      from: "wan1",
      to: "wan2",
      reason: "wan1 down for 1.2 s; wan2 up for 1 h",
      startedAt: "2026-11-25T11:30:00.000Z",
      durationMs: 41,
      ok: true,
      steps: [{ step: "route", ok: true, durationMs: 40.6, detail: "default route via wan2; 2 stale SIP/RTP connection-tracking entries deleted" }],
    },
  };
}

function run(status: DaemonStatus, json = false, extra: Record<string, unknown> = {}, stateDir = tempDir()) {
  writeJsonAtomic(statusFile(stateDir), status, 0o644);
  const config = parseConfigText(JSON.stringify({ ...minimalConfig(), stateDir, ...extra }), "c.json");
  let out = "";
  const code = showStatus(config, { out: (t) => void (out += `${t}\n`), err: () => undefined, env: {} }, { json }, now);
  return { code, out };
}

describe("wanctl status", () => {
  test("shows the active link, why, each link's figures and the last switch's steps", () => {
    const { code, out } = run(sample("2026-11-25T11:59:59.000Z"));
    expect(code).toBe(0);
    expect(out).toContain("active link: wan2");
    expect(out).toContain("why: failback to wan1 waits for hold-down: 42 s left");
    expect(out).toMatch(/ {2}wan1 +up +for 60 s .*loss +0\.0% .*latency +12\.3 ms .*jitter +1\.5 ms .*last round 3\/3/);
    expect(out).toMatch(/\* wan2 +up .*loss +2\.5% .*jitter +- /);
    expect(out).toContain("last switch: failover wan1 → wan2 at 2026-11-25T11:30:00.000Z (ok, 41 ms)");
    expect(out).toMatch(/ok +route +41 ms +default route via wan2; 2 stale/);
  });

  test("says plainly what is not done yet, that the trunks run short, and which alerts wait", () => {
    const { out } = run({
      ...sample("2026-11-25T11:59:59.000Z"),
      pending: { link: "wan2", steps: ["asterisk", "trunks"], since: "2026-11-25T11:30:00.000Z" },
      trunksShortened: true,
      alerts: [
        { channel: "email", queued: 2, attempts: 3, lastError: "smtp.example.com:587 timed out" },
        { channel: "slack", queued: 0, attempts: 0 },
      ],
    });
    expect(out).toContain("NOT DONE on wan2 since 2026-11-25T11:30:00.000Z: asterisk, trunks");
    expect(out).toContain("trunks: short registration expiry while off the primary link");
    expect(out).toContain("alerts: 2 waiting for email (last error: smtp.example.com:587 timed out)");
    expect(out).not.toContain("waiting for slack");
  });

  test("a stale status says the daemon is not running and exits 1", () => {
    const { code, out } = run(sample("2026-11-25T11:50:00.000Z"));
    expect(code).toBe(1);
    expect(out).toMatch(/^the daemon is NOT running: this status is 10 min old \(pid 1234\)/);
  });

  test("shows each DNS record, its last known value and the last update's outcome", () => {
    const stateDir = tempDir();
    const dns = {
      providers: [{ id: "cf", type: "cloudflare", token: "cf-secret-token" }],
      records: [{ name: "office.example.com", provider: "cf" }, { name: "sip.example.com", provider: "cf" }],
    };
    const fingerprint = recordFingerprint(dns.records[0] as never, dns.providers[0] as never);
    writeDdnsRecords(stateDir, {
      "office.example.com": {
        provider: "cf",
        fingerprint,
        value: "203.0.113.10",
        confirmedAt: "2026-11-25T11:30:01.000Z",
        failures: 0,
        retryAt: null,
        stopped: null,
        last: { at: "2026-11-25T11:30:01.000Z", outcome: "updated", ok: true, changed: true, value: "203.0.113.10", detail: "updated", durationMs: 210 },
      },
    });
    const { out } = run(sample("2026-11-25T11:59:59.000Z"), false, { dns }, stateDir);
    expect(out).toContain("DNS records:");
    expect(out).toContain("office.example.com (cf) → 203.0.113.10; last updated at 2026-11-25T11:30:01.000Z");
    expect(out).toContain("sip.example.com (cf) → ?; never updated");
    expect(out).not.toContain("cf-secret-token");
  });

  test("shows each link's own name and the SRV records of dns.sip, with what they hold", () => {
    const stateDir = tempDir();
    const dns = {
      providers: [{ id: "bind", type: "rfc2136", server: "192.0.2.53", zone: "example.com", tsig: { name: "k", secret: "tsig-secret-b64" } }],
      sip: { domain: "office.example.com", provider: "bind" },
    };
    const srv = "10 0 5060 wan2.office.example.com, 20 0 5060 wan1.office.example.com";
    const record = { name: "_sip._udp.office.example.com", provider: "bind", ttl: 60, verify: true };
    writeDdnsRecords(stateDir, {
      "_sip._udp.office.example.com": {
        provider: "bind",
        fingerprint: recordFingerprint(record, dns.providers[0] as never),
        value: srv,
        confirmedAt: "2026-11-25T11:30:01.000Z",
        failures: 0,
        retryAt: null,
        stopped: null,
        last: { at: "2026-11-25T11:30:01.000Z", outcome: "updated", ok: true, changed: true, value: srv, detail: "accepted", durationMs: 4 },
      },
    });
    const { out } = run(sample("2026-11-25T11:59:59.000Z"), false, { dns }, stateDir);
    expect(out).toContain("  wan1.office.example.com (bind, wan1's own address) → ?; never updated");
    expect(out).toContain("  wan2.office.example.com (bind, wan2's own address) → ?; never updated");
    expect(out).toContain(`  _sip._udp.office.example.com (bind, SRV) → ${srv}; last updated at 2026-11-25T11:30:01.000Z`);
    expect(out).not.toContain("tsig-secret-b64");
    const json = JSON.parse(run(sample("2026-11-25T11:59:59.000Z"), true, { dns }, stateDir).out);
    expect(json.dns.map((r: { record: string; type: string; link?: string }) => [r.record, r.type, r.link ?? null])).toEqual([
      ["wan1.office.example.com", "A", "wan1"],
      ["wan2.office.example.com", "A", "wan2"],
      ["_sip._udp.office.example.com", "SRV", null],
    ]);
  });

  test("a cleanly stopped daemon is not running, however fresh its last status", () => {
    const { code, out } = run({ ...sample("2026-11-25T11:59:59.000Z"), stoppedAt: "2026-11-25T11:59:59.000Z" });
    expect(code).toBe(1);
    expect(out).toMatch(/^the daemon is NOT running: it stopped at 2026-11-25T11:59:59\.000Z/);
  });

  test("--json prints the status with whether the daemon runs", () => {
    const { out } = run(sample("2026-11-25T11:59:59.000Z"), true);
    expect(JSON.parse(out)).toMatchObject({ active: "wan2", running: true, switches: 1 });
  });
});
