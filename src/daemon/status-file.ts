// The daemon's status, written to the state directory for `wanctl status` to read.
import { join } from "node:path";
import { z } from "zod";
import { readJsonFile, writeJsonAtomicAsync, type ReadResult } from "../lib/json-file.js";

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

/**
 * Writes the status file off the daemon's event loop. Derived data, rewritten every second and at
 * each change: atomic (temporary file and rename), not flushed to disk. Off the loop because on
 * ext4 a rename over the old file makes the kernel allocate the new one's blocks and start writing
 * them first, which held the caller 5 to 40 ms a time here: a stall once a second in the loop that
 * times the probes, and right after a link goes down, on the switch's way. One write at a time; a
 * status handed in meanwhile replaces any that waits (only the newest matters).
 */
export class StatusWriter {
  private writing: Promise<void> | undefined;
  private waiting: DaemonStatus | undefined;

  /** `done` hears how each write ended: undefined, or why it failed. */
  constructor(
    private readonly stateDir: string,
    private readonly done: (error: Error | undefined) => void,
  ) {}

  write(status: DaemonStatus): void {
    this.waiting = status;
    this.writing ??= this.drain();
  }

  /** Resolves once every status handed in is written (or has failed). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    for (let next = this.waiting; next; next = this.waiting) {
      this.waiting = undefined;
      try {
        await writeJsonAtomicAsync(statusFile(this.stateDir), next, 0o644, { durable: false });
        this.done(undefined);
      } catch (error) {
        this.done(error as Error);
      }
    }
    this.writing = undefined;
  }
}

export function readStatus(stateDir: string): ReadResult<DaemonStatus> {
  return readJsonFile(statusFile(stateDir), statusSchema);
}
