// The failover pipeline: steps with their dependencies, run as early as their inputs allow. A
// failed step skips only the steps that need it; the others still run (DNS down must not keep the
// trunks from registering).
import { runStep, type StepOutput, type StepResult } from "./report.js";

export type { StepOutput };

export interface PipelineStep<Context> {
  name: string;
  /** Steps whose success this one needs. */
  needs?: readonly string[];
  /** Steps that must have ended first, whatever their outcome. */
  after?: readonly string[];
  timeoutMs: number;
  /** Does the work; returns one line for the report. May record what later steps need in `context`. */
  run(context: Context): Promise<StepOutput>;
}

/**
 * Runs every step once, each as soon as the steps it needs succeeded; returns them in start order.
 * Once `signal` is aborted (a newer switch took over), steps not yet started are skipped; a step
 * already running ends within its time limit.
 */
export async function runPipeline<Context>(steps: readonly PipelineStep<Context>[], context: Context, signal?: AbortSignal): Promise<StepResult[]> {
  // Only earlier steps may be needed: that rules out unknown names and cycles (which would hang).
  steps.forEach((step, i) => {
    for (const need of [...(step.needs ?? []), ...(step.after ?? [])]) {
      const at = steps.findIndex((s) => s.name === need);
      if (at < 0) throw new Error(`pipeline step ${step.name} needs unknown step ${need}`);
      if (at >= i) throw new Error(`pipeline step ${step.name} must come after ${need}`);
    }
  });
  const done = new Map<string, Promise<StepResult>>();
  const start = (step: PipelineStep<Context>): Promise<StepResult> => {
    const existing = done.get(step.name);
    if (existing) return existing;
    const promise = (async () => {
      await Promise.all((step.after ?? []).map((name) => start(steps.find((s) => s.name === name)!)));
      const needed = await Promise.all((step.needs ?? []).map((name) => start(steps.find((s) => s.name === name)!)));
      const failed = needed.filter((r) => !r.ok).map((r) => r.step);
      if (failed.length) {
        return { step: step.name, ok: false, durationMs: 0, detail: `skipped: ${failed.join(", ")} failed`, skipped: true };
      }
      if (signal?.aborted) {
        return { step: step.name, ok: false, durationMs: 0, detail: `skipped: ${String(signal.reason ?? "cancelled")}`, skipped: true };
      }
      return runStep(step.name, step.timeoutMs, () => step.run(context));
    })();
    done.set(step.name, promise);
    return promise;
  };
  return Promise.all(steps.map(start));
}
