// The daemon's status, written to the state directory for `wanctl status` to read.
import { join } from "node:path";
import { z } from "zod";
import { readJsonFile, writeJsonAtomic, type ReadResult } from "../lib/json-file.js";

const figures = z.object({
  lossPct: z.number().nullable(),
  latencyMs: z.number().nullable(),
  jitterMs: z.number().nullable(),
});

/** One step's result (report.ts StepResult), as the status and the journal store it. */
export const stepSchema = z.object({
  step: z.string(),
  ok: z.boolean(),
  durationMs: z.number(),
  detail: z.string(),
  startedAtMs: z.number().optional(),
  skipped: z.boolean().optional(),
  changed: z.boolean().optional(),
});

export const reportSchema = z.object({
  kind: z.enum(["failover", "failback", "manual"]),
  from: z.string().nullable(),
  to: z.string(),
  reason: z.string(),
  startedAt: z.string(),
  durationMs: z.number(),
  ok: z.boolean(),
  steps: z.array(stepSchema),
});

export const statusSchema = z.object({
  version: z.literal(1),
  pid: z.number(),
  startedAt: z.string(),
  updatedAt: z.string(),
  /** Set by a clean stop: the daemon is not running, however fresh the file is. */
  stoppedAt: z.string().optional(),
  active: z.string().nullable(),
  pin: z.union([z.object({ mode: z.literal("auto") }), z.object({ mode: z.literal("pinned"), link: z.string() })]),
  decision: z.object({ action: z.string(), reason: z.string(), warning: z.string().optional() }),
  links: z.array(
    figures.extend({
      name: z.string(),
      interface: z.string(),
      priority: z.number(),
      state: z.enum(["unknown", "up", "degraded", "down"]),
      since: z.string(),
      lastRound: z.object({ answered: z.number(), targets: z.number() }).nullable(),
      reason: z.string().nullable(),
    }),
  ),
  switches: z.number(),
  /** A switch whose later steps (DNS, Asterisk, trunks) are still running. */
  switching: z.object({ from: z.string().nullable(), to: z.string(), kind: z.enum(["failover", "failback", "manual"]), startedAt: z.string() }).nullable().optional(),
  lastSwitch: reportSchema.nullable(),
  /** Steps of the last switch still to be done (retried with backoff), e.g. Asterisk was unreachable. */
  pending: z.object({ link: z.string(), steps: z.array(z.string()), since: z.string() }).nullable().optional(),
  /** The trunks run with the short expiry (the office is off its primary link). */
  trunksShortened: z.boolean().optional(),
  /** What wanctl found not as it should be and put right (a check, a start after a crash), newest last. */
  mends: z.array(z.object({ at: z.string(), link: z.string(), cause: z.enum(["switch", "start", "repair", "check"]), what: z.array(z.string()) })).optional(),
  /** Problems of wanctl's own that people must see (a damaged file, a full disk, a missing binary). */
  problems: z.array(z.string()).optional(),
  /**
   * The office's path to the Internet through the router, probed from this host with monitor.targets
   * (route.backend "none" only): its state and figures as a link's.
   */
  gateway: figures
    .extend({
      state: z.enum(["unknown", "up", "degraded", "down"]),
      since: z.string(),
      lastRound: z.object({ answered: z.number(), targets: z.number() }).nullable(),
      reason: z.string().nullable(),
    })
    .optional(),
  /** Alerts waiting per channel. */
  alerts: z.array(z.object({ channel: z.string(), queued: z.number(), attempts: z.number(), lastError: z.string().optional() })).optional(),
});

export type DaemonStatus = z.infer<typeof statusSchema>;
export type LinkStatus = DaemonStatus["links"][number];

export const statusFile = (stateDir: string) => join(stateDir, "status.json");

export function writeStatus(stateDir: string, status: DaemonStatus): void {
  // Derived data, rewritten every second: atomic, but not flushed to disk each time.
  writeJsonAtomic(statusFile(stateDir), status, 0o644, { durable: false });
}

export function readStatus(stateDir: string): ReadResult<DaemonStatus> {
  return readJsonFile(statusFile(stateDir), statusSchema);
}
