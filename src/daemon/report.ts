// The result of one failover (or failback, or drill): every step with its outcome and duration.
// Logged, kept in the status file, sent in alerts.
import { performance } from "node:perf_hooks";
import type { SwitchKind } from "./decider.js";

export interface StepResult {
  step: string;
  ok: boolean;
  durationMs: number;
  detail: string;
  /** When the step began (the daemon's clock, ms), to show overlapping steps in a timeline. */
  startedAtMs?: number;
  /** Not run, because a step it needs failed. */
  skipped?: boolean;
  /** It changed something (a step that found everything as it should be did not). */
  changed?: boolean;
}

export interface FailoverReport {
  kind: SwitchKind;
  from: string | null;
  to: string;
  reason: string;
  /** ISO time the switch began. */
  startedAt: string;
  durationMs: number;
  ok: boolean;
  steps: StepResult[];
}

/** What a step's work returns: one line for the report, and whether it changed anything (a bare line: no). */
export type StepOutput = string | { detail: string; changed: boolean };

/**
 * Runs one step with a time limit. A step never throws: its failure is a result, so the steps that
 * do not depend on it still run.
 */
export async function runStep(step: string, timeoutMs: number, work: () => Promise<StepOutput>): Promise<StepResult> {
  const started = performance.now();
  const startedAtMs = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const output = await Promise.race([work(), timeout]);
    const { detail, changed } = typeof output === "string" ? { detail: output, changed: false } : output;
    return { step, ok: true, durationMs: performance.now() - started, detail, startedAtMs, changed };
  } catch (error) {
    return { step, ok: false, durationMs: performance.now() - started, detail: error instanceof Error ? error.message : String(error), startedAtMs };
  } finally {
    clearTimeout(timer);
  }
}
