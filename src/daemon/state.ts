// What the daemon remembers across a restart or a kill -9 (state.json): the journal of switches
// (unfinished ones, and finished ones until their alert is queued) and the steps still failing.
// A hint, never the truth: at start the kernel, the PBX and DNS are observed and mended.
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { SavedTrunkSettings } from "../asterisk/pbx/index.js";
import type { SwitchRecord, Trouble } from "./lifecycle.js";
import { readJsonFile, writeJsonAtomic } from "../lib/json-file.js";
import { stepSchema } from "./status-file.js";

const kind = z.enum(["failover", "failback", "manual"]);

const record = z.object({
  id: z.string(),
  kind,
  drill: z.boolean().optional(),
  from: z.string().nullable(),
  to: z.string(),
  reason: z.string(),
  startedAt: z.string(),
  startedMs: z.number(),
  status: z.enum(["routing", "following", "repairing", "done", "failed", "superseded", "interrupted"]),
  steps: z.array(stepSchema),
  durationMs: z.number().optional(),
  alerted: z.boolean(),
  repairs: z.number(),
  resumed: z.boolean().optional(),
});

const stateSchema = z.object({
  version: z.literal(2),
  journal: z.array(record),
  trouble: z.object({ link: z.string(), steps: z.array(z.string()), since: z.string() }).nullable().optional(),
});

/** state.json as wanctl ≤ 0.1 wrote it: one unfinished slot and the trunks' originals. */
const stateV1 = z.object({
  version: z.literal(1),
  savedTrunks: z.custom<SavedTrunkSettings>((v) => typeof v === "object" && v !== null && "driver" in v).optional(),
  unfinished: z.object({ link: z.string(), kind, since: z.string(), steps: z.array(z.string()) }).optional(),
});

export interface DaemonState {
  journal: SwitchRecord[];
  trouble: Trouble | null;
}

export interface ReadState {
  state: DaemonState;
  /** The trunks' originals from a version 1 file, for the baseline. */
  legacyTrunks?: SavedTrunkSettings;
  /** The file was damaged: what happened to it (kept aside, never overwritten). */
  warning?: string;
}

export const stateFile = (stateDir: string) => join(stateDir, "state.json");

export function readState(stateDir: string, now: Date = new Date()): ReadState {
  const file = stateFile(stateDir);
  const empty: DaemonState = { journal: [], trouble: null };
  const result = readJsonFile(file, z.union([stateSchema, stateV1]));
  if (result.ok) {
    const value = result.value;
    if (value.version === 2) return { state: { journal: value.journal, trouble: value.trouble ?? null } };
    // Version 1: its unfinished slot becomes a switch to finish; its originals go to the baseline.
    const journal: SwitchRecord[] = value.unfinished
      ? [{ id: `switch-v1-${value.unfinished.since}`, kind: value.unfinished.kind, from: null, to: value.unfinished.link, reason: "unfinished before an upgrade", startedAt: value.unfinished.since, startedMs: 0, status: "following", steps: [], alerted: true, repairs: 0 }]
      : [];
    return { state: { journal, trouble: null }, ...(value.savedTrunks ? { legacyTrunks: value.savedTrunks } : {}) };
  }
  if (result.missing) return { state: empty };
  // Kept for a person to look at; the daemon converges from what is.
  const aside = `${file}.damaged-${now.toISOString().replace(/[:.]/g, "")}`;
  let kept = `kept as ${aside}`;
  try {
    copyFileSync(file, aside);
  } catch (error) {
    kept = `could not keep a copy (${(error as Error).message})`;
  }
  return { state: empty, warning: `${result.error}; ${kept}; converging from what the kernel, Asterisk and DNS show` };
}

export function writeState(stateDir: string, state: DaemonState): void {
  writeJsonAtomic(stateFile(stateDir), { version: 2, journal: state.journal, trouble: state.trouble });
}
