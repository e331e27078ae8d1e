// Prometheus metrics from the daemon's events: values in base units, every series a rule asks
// increase() of present from the start, and an exposition that promtool's linter accepts.
import { spawnSync } from "node:child_process";
import { describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { OpsMetrics } from "../../src/ops/metrics.js";
import type { LinkHealth } from "../../src/wan/health.js";
import { minimalConfig } from "../config/fixtures.js";
import { failover, parseExposition, statusFixture } from "./fixtures.js";
import { describeWithTools } from "./tools.js";

const config = () => parseConfigText(JSON.stringify({ ...minimalConfig(), dns: { providers: [{ id: "duck", type: "duckdns", token: "t0k" }], records: [{ name: "office.duckdns.org", provider: "duck" }] } }), "c.json");

describe("metrics", () => {
  test("say each link's state, figures in base units, the active link and what is pending", async () => {
    const metrics = new OpsMetrics(config(), {
      version: "9.9.9",
      dnsRecords: () => [{ record: "office.duckdns.org", provider: "duck", type: "A", value: "203.0.113.10", confirmedAt: null, last: { at: "2025-01-06T09:00:05.000Z", outcome: "updated", ok: true, changed: true, value: "203.0.113.10", detail: "OK", durationMs: 80 }, stopped: null, retryAt: null, failures: 0 }],
      trunks: () => [
        { name: "itsp", registered: true, expirySeconds: 120 },
        { name: "backup-itsp", registered: false, expirySeconds: null },
      ],
      lastDrill: () => ({ at: Date.parse("2025-01-05T03:00:00.000Z"), ok: false, refused: "wan2 is down" }),
    });
    metrics.status(statusFixture());
    const s = parseExposition((await metrics.text()).body);
    expect(s.get('wanctl_build_info{version="9.9.9"}')).toBe(1);
    expect(s.get('wanctl_link_state{link="wan1",state="down"}')).toBe(1);
    expect(s.get('wanctl_link_state{link="wan1",state="up"}')).toBe(0);
    expect(s.get('wanctl_link_state{link="wan2",state="degraded"}')).toBe(1);
    expect(s.get('wanctl_link_up{link="wan1"}')).toBe(0);
    expect(s.get('wanctl_link_up{link="wan2"}')).toBe(1);
    expect(s.get('wanctl_link_loss_ratio{link="wan2"}')).toBe(0.025);
    expect(s.get('wanctl_link_latency_seconds{link="wan2"}')).toBe(0.048);
    expect(s.get('wanctl_link_jitter_seconds{link="wan2"}')).toBe(0.004);
    // Unknown figures are absent, not zero.
    expect(s.has('wanctl_link_latency_seconds{link="wan1"}')).toBe(false);
    expect(s.get('wanctl_link_state_since_timestamp_seconds{link="wan1"}')).toBe(Date.parse("2025-01-06T09:00:00.000Z") / 1000);
    expect(s.get('wanctl_link_active{link="wan2"}')).toBe(1);
    expect(s.get('wanctl_link_active{link="wan1"}')).toBe(0);
    expect(s.get('wanctl_link_priority{link="wan2"}')).toBe(2);
    expect(s.get("wanctl_on_backup_link")).toBe(1);
    expect(s.get("wanctl_pinned")).toBe(0);
    expect(s.get("wanctl_switch_pending_steps")).toBe(1);
    expect(s.get("wanctl_trunks_short_expiry")).toBe(1);
    expect(s.get('wanctl_alerts_queued{channel="email"}')).toBe(3);
    expect(s.get('wanctl_dns_record_ok{record="office.duckdns.org",provider="duck"}')).toBe(1);
    expect(s.get('wanctl_dns_record_last_update_timestamp_seconds{record="office.duckdns.org",provider="duck"}')).toBe(Date.parse("2025-01-06T09:00:05.000Z") / 1000);
    expect(s.get('wanctl_trunk_registered{trunk="itsp"}')).toBe(1);
    expect(s.get('wanctl_trunk_registered{trunk="backup-itsp"}')).toBe(0);
    expect(s.get('wanctl_trunk_expiry_seconds{trunk="itsp"}')).toBe(120);
    expect(s.has('wanctl_trunk_expiry_seconds{trunk="backup-itsp"}')).toBe(false);
    expect(s.get("wanctl_drill_last_success")).toBe(0);
    expect(s.get("wanctl_drill_last_timestamp_seconds")).toBe(Date.parse("2025-01-05T03:00:00.000Z") / 1000);
    // Process metrics come with it.
    expect([...s.keys()].some((k) => k.startsWith("process_resident_memory_bytes"))).toBe(true);
    expect([...s.keys()].some((k) => k.startsWith("nodejs_eventloop_lag_seconds"))).toBe(true);
  });

  test("count probes and switches, and time each switch and step (skipped steps are not timed)", async () => {
    const metrics = new OpsMetrics(config());
    const before = parseExposition((await metrics.text()).body);
    // Every switch series exists at 0 before the first switch: increase() then sees the first one.
    expect(before.get('wanctl_switches_total{kind="failover",from="wan1",to="wan2",result="failed"}')).toBe(0);
    expect(before.get('wanctl_switches_total{kind="drill",from="wan2",to="wan1",result="ok"}')).toBe(0);
    expect(before.get('wanctl_switches_total{kind="repair",from="none",to="wan2",result="failed"}')).toBe(0);
    expect(before.get('wanctl_probes_total{link="wan1",result="lost"}')).toBe(0);
    // Nothing known yet is absent, not 0 ("failed").
    expect(before.has("wanctl_last_switch_success")).toBe(false);
    expect(before.has("wanctl_drill_last_success")).toBe(false);

    const up = { state: "up" } as LinkHealth;
    metrics.round("wan1", [{ target: "a", ok: true, rttMs: 12 }, { target: "b", ok: false }, { target: "c", ok: true, rttMs: 600 }], up);
    metrics.switched(failover(false), "decision");
    metrics.switched({ ...failover(true), kind: "manual" }, "drill");
    const s = parseExposition((await metrics.text()).body);
    expect(s.get('wanctl_probes_total{link="wan1",result="answered"}')).toBe(2);
    expect(s.get('wanctl_probes_total{link="wan1",result="lost"}')).toBe(1);
    expect(s.get('wanctl_probe_rtt_seconds_bucket{le="0.02",link="wan1"}')).toBe(1);
    expect(s.get('wanctl_probe_rtt_seconds_bucket{le="0.5",link="wan1"}')).toBe(1);
    expect(s.get('wanctl_probe_rtt_seconds_bucket{le="1",link="wan1"}')).toBe(2);
    expect(s.get('wanctl_probe_rtt_seconds_sum{link="wan1"}')).toBeCloseTo(0.612);
    expect(s.get('wanctl_switches_total{kind="failover",from="wan1",to="wan2",result="failed"}')).toBe(1);
    expect(s.get('wanctl_switches_total{kind="drill",from="wan1",to="wan2",result="ok"}')).toBe(1);
    expect(s.get('wanctl_switch_duration_seconds_count{kind="failover",result="failed"}')).toBe(1);
    expect(s.get('wanctl_switch_duration_seconds_sum{kind="failover",result="failed"}')).toBe(1.5);
    expect(s.get('wanctl_switch_step_duration_seconds_count{step="dns",result="failed"}')).toBe(1);
    expect(s.get('wanctl_switch_step_duration_seconds_count{step="dns",result="ok"}')).toBe(1);
    expect(s.get('wanctl_switch_step_duration_seconds_sum{step="route",result="ok"}')).toBe(0.04);
    expect([...s.keys()].some((k) => k.startsWith('wanctl_switch_step_duration_seconds_count{step="trunks"'))).toBe(false);
    expect(s.get("wanctl_last_switch_success")).toBe(1);
    expect(s.get("wanctl_last_switch_timestamp_seconds")).toBe(Date.parse("2025-01-06T09:00:00.000Z") / 1000);
  });

  test("route.backend none with monitor.targets: the way out through the router, absent until judged, and only there", async () => {
    const follow = parseConfigText(
      JSON.stringify({
        links: [
          { name: "wan1", interface: "ether1", gateway: "198.51.100.9", priority: 1, publicIp: { method: "static", address: "198.51.100.10" } },
          { name: "wan2", interface: "lte1", gateway: "100.64.0.1", priority: 2, publicIp: { method: "static", address: "203.0.113.10" } },
        ],
        monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }] },
        route: { backend: "none", egress: { method: "stun", servers: [{ host: "192.0.2.80" }] } },
      }),
      "c.json",
    );
    const metrics = new OpsMetrics(follow);
    metrics.status(statusFixture());
    let s = parseExposition((await metrics.text()).body);
    expect([...s.keys()].filter((k) => k.startsWith("wanctl_gateway_"))).toEqual([]);
    const since = "2025-01-06T09:00:00.000Z";
    metrics.status(statusFixture({ gateway: { state: "degraded", since, lossPct: 12.5, latencyMs: 31, jitterMs: 2, lastRound: { answered: 1, targets: 1 }, reason: "loss over 10%" } }));
    s = parseExposition((await metrics.text()).body);
    expect(s.get('wanctl_gateway_state{state="degraded"}')).toBe(1);
    expect(s.get('wanctl_gateway_state{state="down"}')).toBe(0);
    expect(s.get("wanctl_gateway_up")).toBe(1);
    expect(s.get("wanctl_gateway_loss_ratio")).toBe(0.125);
    expect(s.get("wanctl_gateway_latency_seconds")).toBe(0.031);
    const linux = parseExposition((await new OpsMetrics(config()).text()).body);
    expect([...linux.keys()].filter((k) => k.startsWith("wanctl_gateway_"))).toEqual([]);
  });

  test("follow Prometheus' naming: counters end in _total, times and durations in _seconds, no percent or ms", async () => {
    const metrics = new OpsMetrics(config());
    metrics.status(statusFixture());
    const text = (await metrics.text()).body;
    const types = [...text.matchAll(/^# TYPE (wanctl_\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
    expect(types.length).toBeGreaterThan(20);
    for (const { name, type } of types) {
      if (type === "counter") expect(name).toMatch(/_total$/);
      if (type === "histogram") expect(name).toMatch(/_seconds$/);
      expect(name).not.toMatch(/percent|_ms$|millis/);
      expect(name).toMatch(/^[a-z_]+$/);
    }
  });
});

describeWithTools("metrics and promtool", ["promtool"], () => {
  test("promtool's linter finds nothing to say about the exposition", async () => {
    const metrics = new OpsMetrics(config(), { trunks: () => [{ name: "itsp", registered: true, expirySeconds: 120 }], lastDrill: () => ({ at: 0, ok: true }) });
    metrics.status(statusFixture());
    metrics.switched(failover(true), "decision");
    const lint = spawnSync("promtool", ["check", "metrics"], { input: (await metrics.text()).body, encoding: "utf8" });
    // Only wanctl's own metrics are ours to fix (prom-client's process metrics are as Node's client names them).
    const ours = `${lint.stdout}${lint.stderr}`.split("\n").filter((l) => l.startsWith("wanctl_"));
    expect(ours).toEqual([]);
    expect(lint.error).toBeUndefined();
  });
});
