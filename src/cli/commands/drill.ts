// `wanctl test`: asks the running daemon for a failover drill and shows every step's outcome.
import type { Config } from "../../config/schema/index.js";
import { ControlUnavailableError, controlSocket, sendControl } from "../../daemon/control.js";
import type { DrillReport } from "../../daemon/lifecycle.js";
import type { FailoverReport } from "../../daemon/report.js";
import { CliError, ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";

/** Two switches with registrations to wait for, each bounded by its steps' own limits. */
const DRILL_TIMEOUT_MS = 10 * 60_000;

function switchLines(title: string, report: FailoverReport): string[] {
  return [
    `${title} (${report.ok ? "ok" : "FAILED"}, ${Math.round(report.durationMs)} ms)`,
    ...report.steps.map((s) => `  ${s.ok ? "ok  " : "FAIL"} ${s.step.padEnd(10)} ${String(Math.round(s.durationMs)).padStart(6)} ms  ${s.detail}`),
  ];
}

export function renderDrill(report: DrillReport): string {
  if (report.refused) return `drill not run: ${report.refused}`;
  const lines = [`drill: ${report.from} → ${report.to} → back (started ${report.startedAt})`];
  if (report.out) lines.push(...switchLines(`to ${report.to}`, report.out));
  if (report.back) lines.push(...switchLines(`back to ${report.from}`, report.back));
  for (const note of report.notes) lines.push(`note: ${note}`);
  lines.push(`drill ${report.ok ? "PASSED" : "FAILED"} in ${Math.round(report.durationMs)} ms`);
  return lines.join("\n");
}

export async function runDrillCommand(config: Config, io: CliIo): Promise<ExitCodeValue> {
  let report: DrillReport;
  try {
    report = (await sendControl(controlSocket(config.stateDir), { command: "drill" }, DRILL_TIMEOUT_MS)) as DrillReport;
  } catch (error) {
    const hint = error instanceof ControlUnavailableError ? " (the drill runs inside `wanctl run`; is the service up?)" : "";
    throw new CliError(`wanctl test: ${(error as Error).message}${hint}`, ExitCode.failure);
  }
  io.out(renderDrill(report));
  return report.ok ? ExitCode.ok : ExitCode.failure;
}
