// Who owns a lab. The record is written BEFORE the first namespace exists, so a crash at any
// point leaves either nothing or a record a later sweep can act on. A lab whose creator is
// dead (or whose pid now belongs to a different process) is swept.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { destroyNamespace, listNamespaces } from "./netns.js";
import { isRunId, parseNamespace } from "./names.js";

export const LAB_RUN_DIR = process.env.WANCTL_LAB_RUN_DIR ?? "/run/wanctl-lab";

export interface LabRecord {
  runId: string;
  pid: number;
  /** Start time of the creator (clock ticks since boot, /proc/<pid>/stat field 22): tells pid reuse apart. */
  pidStart: number | null;
  namespaces: string[];
  createdAt: string;
  argv: string[];
}

/** Start time of pid in clock ticks since boot, or null when it does not exist. */
export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may contain spaces and parens: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(rest[19]); // field 22 overall = index 19 after state (field 3)
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}

export function isAlive(pid: number, pidStart: number | null): boolean {
  const now = processStartTime(pid);
  if (now === null) return false;
  return pidStart === null || now === pidStart;
}

const recordPath = (runId: string): string => join(LAB_RUN_DIR, `${runId}.json`);

export function writeRecord(rec: LabRecord): void {
  mkdirSync(LAB_RUN_DIR, { recursive: true, mode: 0o755 });
  const tmp = `${recordPath(rec.runId)}.tmp`;
  writeFileSync(tmp, JSON.stringify(rec, null, 2) + "\n");
  renameSync(tmp, recordPath(rec.runId)); // atomic: a sweep never reads half a record
}

export function removeRecord(runId: string): void {
  rmSync(recordPath(runId), { force: true });
}

export function readRecords(): LabRecord[] {
  let files: string[];
  try {
    files = readdirSync(LAB_RUN_DIR).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  const out: LabRecord[] = [];
  for (const f of files) {
    try {
      const rec = JSON.parse(readFileSync(join(LAB_RUN_DIR, f), "utf8")) as LabRecord;
      if (isRunId(rec.runId) && Number.isInteger(rec.pid)) out.push(rec);
    } catch {
      // unreadable or half-written by hand: leave it alone
    }
  }
  return out;
}

export interface SweepResult {
  /** Run ids whose namespaces were removed. */
  removed: string[];
  /** Run ids left alone because their creator is alive. */
  kept: string[];
  errors: string[];
}

/**
 * Remove every lab whose creator is dead: those with a record, and stray wl-<runid>-* namespaces
 * without one (the pid is in the name). Labs of live processes are never touched.
 */
export async function sweepLabs(): Promise<SweepResult> {
  const result: SweepResult = { removed: [], kept: [], errors: [] };
  const records = readRecords();
  const recorded = new Set(records.map((r) => r.runId));
  const strays = new Map<string, string[]>();
  for (const ns of listNamespaces()) {
    const p = parseNamespace(ns);
    if (!p || recorded.has(p.runId)) continue;
    if (isAlive(p.pid, null)) continue;
    strays.set(p.runId, [...(strays.get(p.runId) ?? []), ns]);
  }
  for (const rec of records) {
    if (isAlive(rec.pid, rec.pidStart)) {
      result.kept.push(rec.runId);
      continue;
    }
    // Also anything named for this run that the record missed.
    const extra = listNamespaces().filter((ns) => parseNamespace(ns)?.runId === rec.runId);
    const errs = await destroyAll([...new Set([...rec.namespaces, ...extra])]);
    if (errs.length === 0) removeRecord(rec.runId);
    result.errors.push(...errs);
    result.removed.push(rec.runId);
  }
  for (const [runId, namespaces] of strays) {
    result.errors.push(...(await destroyAll(namespaces)));
    result.removed.push(runId);
  }
  return result;
}

async function destroyAll(namespaces: readonly string[]): Promise<string[]> {
  const errs: string[] = [];
  for (const ns of namespaces) {
    const e = await destroyNamespace(ns);
    if (e) errs.push(e);
  }
  return errs;
}
