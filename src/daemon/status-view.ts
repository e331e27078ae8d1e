// The daemon's status as `wanctl status` shows it, built from what the daemon knows. Pure.
import type { LinkConfig } from "../config/schema/links.js";
import type { LinkHealth } from "../wan/health.js";
import type { Decision } from "./decider.js";
import type { Pin } from "./pin.js";
import type { FailoverReport } from "./report.js";
import type { DaemonStatus } from "./status-file.js";

export interface StatusInput {
  links: readonly LinkConfig[];
  health: ReadonlyMap<string, LinkHealth>;
  /** The last health event's reason per link. */
  reasons: ReadonlyMap<string, string>;
  active: string | null;
  pin: Pin;
  decision: Decision | undefined;
  switches: number;
  switching: DaemonStatus["switching"];
  lastSwitch: FailoverReport | null;
  pid: number;
  startedAt: string;
  stoppedAt: string | undefined;
  now: number;
  pending?: DaemonStatus["pending"];
  trunksShortened?: boolean;
  alerts?: DaemonStatus["alerts"];
  /** The wall time (ms) of an instant of the health clock (monotonic in the daemon); identity by default. */
  wallOf?: (ms: number) => number;
  mends?: DaemonStatus["mends"];
  problems?: string[];
  /** The office's path through the router (route.backend "none" with monitor.targets). */
  gateway?: { health: LinkHealth; reason: string | null };
}

export function buildStatus(input: StatusInput): DaemonStatus {
  const { decision, now } = input;
  const wallOf = input.wallOf ?? ((ms: number) => ms);
  const figures = (h: LinkHealth) => ({
    state: h.state,
    since: new Date(wallOf(h.since)).toISOString(),
    lossPct: h.metrics.lossPct,
    latencyMs: h.metrics.latencyMs,
    jitterMs: h.metrics.jitterMs,
    lastRound: h.metrics.lastRound ? { answered: h.metrics.lastRound.answered, targets: h.metrics.lastRound.targets } : null,
  });
  return {
    version: 1,
    pid: input.pid,
    startedAt: input.startedAt,
    updatedAt: new Date(now).toISOString(),
    ...(input.stoppedAt ? { stoppedAt: input.stoppedAt } : {}),
    active: input.active,
    pin: input.pin.mode === "pinned" ? { mode: "pinned", link: input.pin.link } : { mode: "auto" },
    decision: decision
      ? { action: decision.action, reason: decision.reason, ...(decision.warning ? { warning: decision.warning } : {}) }
      : { action: "stay", reason: "waiting for the first probe rounds" },
    links: input.links.map((link) => {
      const h = input.health.get(link.name);
      return {
        name: link.name,
        interface: link.interface,
        priority: link.priority,
        ...(h ? figures(h) : { state: "unknown" as const, since: new Date(now).toISOString(), lossPct: null, latencyMs: null, jitterMs: null, lastRound: null }),
        reason: input.reasons.get(link.name) ?? null,
      };
    }),
    switches: input.switches,
    switching: input.switching,
    lastSwitch: input.lastSwitch,
    pending: input.pending ?? null,
    ...(input.trunksShortened !== undefined ? { trunksShortened: input.trunksShortened } : {}),
    ...(input.alerts ? { alerts: input.alerts } : {}),
    ...(input.mends?.length ? { mends: input.mends } : {}),
    ...(input.problems?.length ? { problems: input.problems } : {}),
    ...(input.gateway ? { gateway: { ...figures(input.gateway.health), reason: input.gateway.reason } } : {}),
  };
}
