// Prometheus metrics from what the daemon tells its observers. Names and units follow Prometheus'
// conventions: base units (seconds, ratios 0–1), `_total` counters, `_timestamp_seconds` times,
// one series per value of an enumeration (wanctl_link_state{state=...}).
//
// The probe loop only stores the link's health and observes its RTTs; everything else is read at
// scrape time from the daemon's last status and the state files, so a metric costs nothing
// between scrapes.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Config } from "../config/schema/index.js";
import type { DaemonObserver, SwitchOrigin } from "../daemon/observer.js";
import type { FailoverReport } from "../daemon/report.js";
import type { DaemonStatus } from "../daemon/status-file.js";
import type { DdnsRecordStatus } from "../ddns/index.js";
import type { LinkHealth, LinkState } from "../wan/health.js";
import type { ProbeResult } from "../wan/probes/types.js";

const LINK_STATES: readonly LinkState[] = ["unknown", "up", "degraded", "down"];
/** The kind label of a switch: the report's kind, or what ran it (a drill leg, a repair run). */
const SWITCH_KINDS = ["failover", "failback", "manual", "drill", "repair"] as const;
const RESULTS = ["ok", "failed"] as const;

/** A trunk's registration as last seen on the PBX. */
export interface TrunkState {
  name: string;
  registered: boolean;
  /** The registration's expiry as Asterisk lists it, when known. */
  expirySeconds: number | null;
}

/** The last drill, as the metrics and the page need it (also kept across restarts by the history). */
export interface DrillSummary {
  at: number;
  ok: boolean;
  refused?: string;
}

export interface MetricSources {
  /** Each DNS record's stored state (read at scrape time). */
  dnsRecords?: () => readonly DdnsRecordStatus[];
  /** Each trunk's registration as last polled. */
  trunks?: () => readonly TrunkState[];
  /** The last drill, including one from before a restart. */
  lastDrill?: () => DrillSummary | undefined;
  version?: string;
}

export const switchKind = (report: FailoverReport, origin: SwitchOrigin): (typeof SWITCH_KINDS)[number] =>
  origin === "decision" ? report.kind : origin;

/** An unlabelled gauge without a value is absent from the scrape (not 0, which would mean "failed"). */
function setOrRemove(gauge: Gauge, value: number | undefined): void {
  if (value === undefined) gauge.remove();
  else gauge.set(value);
}

const epochSeconds = (iso: string | null | undefined) => (iso ? Date.parse(iso) / 1000 : undefined);

/** How often the event loop's delay is sampled for nodejs_eventloop_lag_* (ms). */
export const EVENT_LOOP_SAMPLE_MS = 1000;

export class OpsMetrics implements DaemonObserver {
  readonly registry = new Registry();
  private latest: DaemonStatus | undefined;
  private readonly rtt: Histogram<"link">;
  private readonly probes: Counter<"link" | "result">;
  private readonly switches: Counter<"kind" | "from" | "to" | "result">;
  private readonly switchDuration: Histogram<"kind" | "result">;
  private readonly stepDuration: Histogram<"step" | "result">;
  private lastSwitch: { at: number; ok: boolean } | undefined;

  constructor(
    private readonly config: Config,
    private readonly sources: MetricSources = {},
  ) {
    const registers = [this.registry];
    // prom-client samples the event loop's delay every 10 ms by default: a timer firing 100 times
    // a second, which cost a probing daemon about 0.4 % of a core (measured in the lab). Once a
    // second still shows a stalled loop.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    const names = config.links.map((l) => l.name);
    const primary = [...config.links].sort((a, b) => a.priority - b.priority)[0]!.name;

    new Gauge({ name: "wanctl_build_info", help: "Always 1; the version in a label.", labelNames: ["version"], registers }).set({ version: sources.version ?? "unknown" }, 1);
    const priority = new Gauge({ name: "wanctl_link_priority", help: "The link's configured priority (1 is the primary).", labelNames: ["link"], registers });
    for (const link of config.links) priority.set({ link: link.name }, link.priority);

    // prom-client calls collect() with the gauge as `this`: these reach the observer's state.
    const latest = () => this.latest;
    const lastSwitch = () => this.lastSwitch;
    const fromStatus = <L extends string>(name: string, help: string, labelNames: L[], fill: (gauge: Gauge<L>, status: DaemonStatus) => void) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          const status = latest();
          if (status) fill(this, status);
        },
      });

    fromStatus("wanctl_link_state", "1 for the link's current health state, 0 for the others.", ["link", "state"], (g, s) => {
      for (const l of s.links) for (const state of LINK_STATES) g.set({ link: l.name, state }, l.state === state ? 1 : 0);
    });
    fromStatus("wanctl_link_up", "1 while the link is up (or degraded), 0 while down or not yet judged.", ["link"], (g, s) => {
      for (const l of s.links) g.set({ link: l.name }, l.state === "up" || l.state === "degraded" ? 1 : 0);
    });
    fromStatus("wanctl_link_loss_ratio", "Probes lost over the health window, 0 to 1.", ["link"], (g, s) => {
      for (const l of s.links) if (l.lossPct !== null) g.set({ link: l.name }, l.lossPct / 100);
    });
    fromStatus("wanctl_link_latency_seconds", "Median probe round-trip time over the health window.", ["link"], (g, s) => {
      for (const l of s.links) if (l.latencyMs !== null) g.set({ link: l.name }, l.latencyMs / 1000);
    });
    fromStatus("wanctl_link_jitter_seconds", "Mean difference of consecutive round-trip times per target over the health window.", ["link"], (g, s) => {
      for (const l of s.links) if (l.jitterMs !== null) g.set({ link: l.name }, l.jitterMs / 1000);
    });
    fromStatus("wanctl_link_state_since_timestamp_seconds", "When the link entered its current state.", ["link"], (g, s) => {
      for (const l of s.links) g.set({ link: l.name }, epochSeconds(l.since)!);
    });
    // route.backend "none" with monitor.targets: the office's way out through the router, probed
    // from this host. Absent until it is judged at all, and without those targets.
    if (config.route.backend === "none" && config.monitor.targets.length > 0) {
      fromStatus("wanctl_gateway_state", "1 for the current health state of the office's way out through the router, 0 for the others.", ["state"], (g, s) => {
        if (s.gateway) for (const state of LINK_STATES) g.set({ state }, s.gateway.state === state ? 1 : 0);
      });
      const gateway = (name: string, help: string, value: (g: NonNullable<DaemonStatus["gateway"]>) => number | null) =>
        new Gauge({
          name,
          help,
          registers,
          collect() {
            const g = latest()?.gateway;
            setOrRemove(this, g ? (value(g) ?? undefined) : undefined);
          },
        });
      gateway("wanctl_gateway_up", "1 while the office's way out through the router answers (up or degraded), 0 while down or not yet judged.", (g) => (g.state === "up" || g.state === "degraded" ? 1 : 0));
      gateway("wanctl_gateway_loss_ratio", "Probes through the router lost over the health window, 0 to 1.", (g) => (g.lossPct === null ? null : g.lossPct / 100));
      gateway("wanctl_gateway_latency_seconds", "Median round-trip time of the probes through the router over the health window.", (g) => (g.latencyMs === null ? null : g.latencyMs / 1000));
    }
    fromStatus("wanctl_link_active", "1 for the link that carries the office's default route, 0 for the others.", ["link"], (g, s) => {
      for (const name of names) g.set({ link: name }, s.active === name ? 1 : 0);
    });
    fromStatus("wanctl_on_backup_link", `1 while the office is on a link other than its primary (${primary}).`, [], (g, s) => {
      g.set(s.active !== null && s.active !== primary ? 1 : 0);
    });
    fromStatus("wanctl_pinned", "1 while the operator has pinned the office to a link (`wanctl use`).", [], (g, s) => g.set(s.pin.mode === "pinned" ? 1 : 0));
    fromStatus("wanctl_switch_pending_steps", "Steps of the last switch not done yet (retried with backoff).", [], (g, s) => g.set(s.pending?.steps.length ?? 0));
    fromStatus("wanctl_trunks_short_expiry", "1 while the trunks register with the short expiry (off the primary link).", [], (g, s) => g.set(s.trunksShortened ? 1 : 0));
    fromStatus("wanctl_alerts_queued", "Alerts waiting in the outbox of each channel.", ["channel"], (g, s) => {
      for (const a of s.alerts ?? []) g.set({ channel: a.channel }, a.queued);
    });

    new Gauge({
      name: "wanctl_last_switch_timestamp_seconds",
      help: "When the last switch (or repair run) began.",
      registers,
      collect() {
        setOrRemove(this, lastSwitch()?.at);
      },
    });
    new Gauge({
      name: "wanctl_last_switch_success",
      help: "1 when every step of the last switch (or repair run) succeeded, 0 when one failed.",
      registers,
      collect() {
        const last = lastSwitch();
        setOrRemove(this, last && (last.ok ? 1 : 0));
      },
    });

    const dns = sources.dnsRecords;
    if (dns) {
      new Gauge({
        name: "wanctl_dns_record_ok",
        help: "1 when the record's last update (or check) succeeded, 0 when it failed or the record is stopped; absent before the first.",
        labelNames: ["record", "provider"],
        registers,
        collect() {
          this.reset();
          // A record never tried yet is absent: unknown, not failed.
          for (const r of dns()) if (r.last || r.stopped) this.set({ record: r.record, provider: r.provider }, r.last?.ok && !r.stopped ? 1 : 0);
        },
      });
      new Gauge({
        name: "wanctl_dns_record_last_update_timestamp_seconds",
        help: "When the record was last updated or checked.",
        labelNames: ["record", "provider"],
        registers,
        collect() {
          this.reset();
          for (const r of dns()) if (r.last) this.set({ record: r.record, provider: r.provider }, epochSeconds(r.last.at)!);
        },
      });
    }

    const trunks = sources.trunks;
    if (trunks) {
      new Gauge({
        name: "wanctl_trunk_registered",
        help: "1 while the trunk's outbound registration is Registered, 0 otherwise.",
        labelNames: ["trunk"],
        registers,
        collect() {
          this.reset();
          for (const t of trunks()) this.set({ trunk: t.name }, t.registered ? 1 : 0);
        },
      });
      new Gauge({
        name: "wanctl_trunk_expiry_seconds",
        help: "The registration expiry Asterisk lists for the trunk.",
        labelNames: ["trunk"],
        registers,
        collect() {
          this.reset();
          for (const t of trunks()) if (t.expirySeconds !== null) this.set({ trunk: t.name }, t.expirySeconds);
        },
      });
    }

    const drill = sources.lastDrill;
    new Gauge({
      name: "wanctl_drill_last_timestamp_seconds",
      help: "When the last failover drill began (also one from before a restart).",
      registers,
      collect() {
        const last = drill?.();
        setOrRemove(this, last && last.at / 1000);
      },
    });
    new Gauge({
      name: "wanctl_drill_last_success",
      help: "1 when the last failover drill passed, 0 when it failed or was refused.",
      registers,
      collect() {
        const last = drill?.();
        setOrRemove(this, last && (last.ok ? 1 : 0));
      },
    });

    this.rtt = new Histogram({
      name: "wanctl_probe_rtt_seconds",
      help: "Round-trip time of each answered probe.",
      labelNames: ["link"],
      buckets: [0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1],
      registers,
    });
    this.probes = new Counter({ name: "wanctl_probes_total", help: "Probes sent, by whether they were answered.", labelNames: ["link", "result"], registers });
    this.switches = new Counter({
      name: "wanctl_switches_total",
      help: "Switches by kind (failover, failback, manual, drill, repair), from and to link, and result.",
      labelNames: ["kind", "from", "to", "result"],
      registers,
    });
    this.switchDuration = new Histogram({
      name: "wanctl_switch_duration_seconds",
      help: "Duration of a whole switch, from the decision to its last step.",
      labelNames: ["kind", "result"],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
      registers,
    });
    this.stepDuration = new Histogram({
      name: "wanctl_switch_step_duration_seconds",
      help: "Duration of each step of a switch (route, conntrack, public-ip, dns, asterisk, trunks).",
      labelNames: ["step", "result"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });

    // Every series a rule may ask `increase()` of exists from the start, at 0: a counter that
    // appears with its first switch would hide that switch from increase().
    for (const link of names) {
      for (const result of ["answered", "lost"]) this.probes.inc({ link, result }, 0);
      this.rtt.zero({ link });
      for (const from of names) {
        for (const result of RESULTS) {
          if (from === link) this.switches.inc({ kind: "repair", from: "none", to: link, result }, 0);
          else for (const kind of SWITCH_KINDS.filter((k) => k !== "repair")) this.switches.inc({ kind, from, to: link, result }, 0);
        }
      }
    }
  }

  round(link: string, results: readonly ProbeResult[], _health: LinkHealth): void {
    let lost = 0;
    for (const r of results) {
      if (r.ok && r.rttMs !== undefined) this.rtt.observe({ link }, r.rttMs / 1000);
      if (!r.ok) lost++;
    }
    this.probes.inc({ link, result: "answered" }, results.length - lost);
    if (lost) this.probes.inc({ link, result: "lost" }, lost);
  }

  switched(report: FailoverReport, origin: SwitchOrigin): void {
    const kind = switchKind(report, origin);
    const result = report.ok ? "ok" : "failed";
    this.switches.inc({ kind, from: report.from ?? "none", to: report.to, result });
    this.switchDuration.observe({ kind, result }, report.durationMs / 1000);
    for (const step of report.steps) {
      if (!step.skipped) this.stepDuration.observe({ step: step.step, result: step.ok ? "ok" : "failed" }, step.durationMs / 1000);
    }
    this.lastSwitch = { at: Date.parse(report.startedAt) / 1000, ok: report.ok };
  }

  status(status: DaemonStatus): void {
    this.latest = status;
  }

  /** The text exposition format, for GET /metrics. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
