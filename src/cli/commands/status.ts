// `wanctl status`: each link's state and figures, the active link and why, the last switch.
import type { Config } from "../../config/schema/index.js";
import { redactSecrets } from "../../config/secrets.js";
import { ddnsStatus } from "../../ddns/index.js";
import { readStatus, type DaemonStatus, type LinkStatus } from "../../daemon/status-file.js";
import { CliError, ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";

/** The daemon writes its status every second; older than this, it is not running. */
const STALE_AFTER_MS = 10_000;

const number = (value: number | null, unit: string, digits = 1) => (value === null ? "-" : `${value.toFixed(digits)}${unit}`);

function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function linkLine(link: Pick<LinkStatus, "name" | "state" | "since" | "lossPct" | "latencyMs" | "jitterMs" | "lastRound">, active: string | null, now: number): string {
  const mark = link.name === active ? "*" : " ";
  const round = link.lastRound ? `${link.lastRound.answered}/${link.lastRound.targets}` : "-";
  return `${mark} ${link.name.padEnd(8)} ${link.state.padEnd(9)} for ${ago(link.since, now).padEnd(7)} loss ${number(link.lossPct, "%").padStart(6)}  latency ${number(link.latencyMs, " ms").padStart(9)}  jitter ${number(link.jitterMs, " ms").padStart(9)}  last round ${round}`;
}

export function renderStatus(status: DaemonStatus, now: number): string {
  const lines = [
    `active link: ${status.active ?? "none"}${status.pin.mode === "pinned" ? ` (pinned to ${status.pin.link} by the operator; \`wanctl auto\` unpins)` : ""}`,
    `why: ${status.decision.reason}`,
    ...(status.decision.warning ? [`warning: ${status.decision.warning}`] : []),
    "",
    ...status.links.map((link) => linkLine(link, status.active, now)),
  ];
  for (const link of status.links) if (link.reason) lines.push(`  ${link.name}: ${link.reason}`);
  const gateway = status.gateway;
  if (gateway) {
    lines.push("", "the way out through the router, probed from this host:", linkLine({ ...gateway, name: "gateway" }, null, now));
    if (gateway.reason) lines.push(`  gateway: ${gateway.reason}`);
  }
  if (status.pending) {
    lines.push(`NOT DONE on ${status.pending.link} since ${status.pending.since}: ${status.pending.steps.join(", ")} (retried with backoff; see the last switch below)`);
  }
  for (const problem of status.problems ?? []) lines.push(`PROBLEM: ${problem}`);
  for (const mend of status.mends ?? []) lines.push(`mended on ${mend.link} at ${mend.at} (${mend.cause === "start" ? "at start" : mend.cause === "check" ? "periodic check" : mend.cause}): ${mend.what.join("; ")}`);
  if (status.trunksShortened) lines.push("trunks: short registration expiry while off the primary link (the original returns on failback)");
  for (const a of status.alerts ?? []) {
    if (a.queued > 0) lines.push(`alerts: ${a.queued} waiting for ${a.channel}${a.lastError ? ` (last error: ${a.lastError})` : ""}`);
  }
  const last = status.lastSwitch;
  lines.push("", `switches since start: ${status.switches}`);
  if (status.switching) {
    lines.push(`switching: ${status.switching.kind} ${status.switching.from ?? "none"} → ${status.switching.to} since ${status.switching.startedAt}: route done, later steps running`);
  }
  if (last) {
    lines.push(`last switch: ${last.kind} ${last.from ?? "none"} → ${last.to} at ${last.startedAt} (${last.ok ? "ok" : "FAILED"}, ${last.durationMs} ms): ${last.reason}`);
    for (const step of last.steps) lines.push(`  ${step.ok ? "ok  " : "FAIL"} ${step.step.padEnd(10)} ${String(Math.round(step.durationMs)).padStart(6)} ms  ${step.detail}`);
  }
  return lines.join("\n");
}

/** Each DNS record, its last known value and the last update's outcome. */
function dnsLines(config: Config, io: CliIo): string[] {
  if (config.dns.records.length === 0 && !config.dns.sip) return [];
  const { records, problem } = ddnsStatus(config, config.stateDir, io.env);
  const lines = ["", "DNS records:"];
  if (problem) lines.push(`  (${problem})`);
  for (const r of records) {
    const last = r.last ? `last ${r.last.outcome} at ${r.last.at}${r.last.ok ? "" : `: ${r.last.detail}`}` : "never updated";
    const stop = r.stopped ? `; STOPPED until the config changes: ${r.stopped.reason}` : r.retryAt ? `; next try after ${r.retryAt}` : "";
    const what = r.type === "SRV" ? ", SRV" : r.link !== undefined ? `, ${r.link}'s own address` : "";
    lines.push(`  ${r.record} (${r.provider}${what}) → ${r.value ?? "?"}; ${last}${stop}`);
  }
  return lines;
}

const isStale = (status: DaemonStatus, now: number) => status.stoppedAt !== undefined || now - Date.parse(status.updatedAt) > STALE_AFTER_MS;

/** What `wanctl status --json` prints (and the status page's /api/status serves): the status, whether the daemon runs, the DNS records. */
export function statusJson(config: Config, status: DaemonStatus, now: number, env?: NodeJS.ProcessEnv) {
  const dns = config.dns.records.length || config.dns.sip ? ddnsStatus(config, config.stateDir, env).records : [];
  return redactSecrets({ ...status, running: !isStale(status, now), dns });
}

export function showStatus(config: Config, io: CliIo, options: { json?: boolean }, now = Date.now()): ExitCodeValue {
  const result = readStatus(config.stateDir);
  if (!result.ok) {
    const why = result.missing ? "wanctl run has not written a status yet (is the daemon running?)" : result.error;
    throw new CliError(`wanctl status: ${why}`, ExitCode.failure);
  }
  const status = result.value;
  const stale = isStale(status, now);
  if (options.json) {
    io.out(JSON.stringify(statusJson(config, status, now, io.env), null, 2));
  } else {
    if (status.stoppedAt) io.out(`the daemon is NOT running: it stopped at ${status.stoppedAt} (pid ${status.pid}); this is its last status\n`);
    else if (stale) io.out(`the daemon is NOT running: this status is ${ago(status.updatedAt, now)} old (pid ${status.pid})\n`);
    io.out([renderStatus(status, now), ...dnsLines(config, io)].join("\n"));
  }
  return stale ? ExitCode.failure : ExitCode.ok;
}
