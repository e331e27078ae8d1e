// ddns.json in the state directory: per record, the last value pushed, the last outcome, the
// back-off and a stop after a permanent error. Written atomically; a damaged file is started over.
import { join } from "node:path";
import { z } from "zod";
import { readJsonFile, writeJsonAtomic } from "../lib/json-file.js";

export const DDNS_STATE_FILE = "ddns.json";

const outcome = z.enum(["updated", "unchanged", "failed", "stopped", "backing-off"]);

/** Files written before SRV records called a record's value its address. */
const valueWasAddress = (v: unknown): unknown => {
  if (v === null || typeof v !== "object" || "value" in v || !("address" in v)) return v;
  const { address, ...rest } = v as Record<string, unknown>;
  return { ...rest, value: address };
};

const lastResult = z.preprocess(valueWasAddress, z.object({
  at: z.string(),
  outcome,
  ok: z.boolean(),
  changed: z.boolean(),
  /** What the record was to hold: an address, or an SRV record's targets in one line. */
  value: z.string(),
  detail: z.string(),
  durationMs: z.number(),
  verifiedMs: z.number().optional(),
  verification: z.string().optional(),
}));

const recordState = z.preprocess(valueWasAddress, z.object({
  provider: z.string(),
  /** Digest of the record's and its provider's config, secrets included only through the digest. */
  fingerprint: z.string(),
  /** Last value the provider accepted (or was found to hold): an address, or SRV targets in one line. */
  value: z.string().nullable(),
  /** When that value was last confirmed (pushed, or seen at the authoritative server). */
  confirmedAt: z.string().nullable(),
  failures: z.int().min(0),
  /** Epoch ms before which no automatic retry is made. */
  retryAt: z.number().nullable(),
  stopped: z.object({ at: z.string(), reason: z.string() }).nullable(),
  last: lastResult.nullable(),
}));

export const ddnsStateSchema = z.object({
  version: z.literal(1),
  records: z.record(z.string(), recordState),
});

export type RecordState = z.infer<typeof recordState>;
export type DdnsState = z.infer<typeof ddnsStateSchema>;
export type LastResult = z.infer<typeof lastResult>;

export function stateFile(stateDir: string): string {
  return join(stateDir, DDNS_STATE_FILE);
}

/** The state, or an empty one when the file is missing or damaged (a damaged one is reported). */
export function readDdnsState(stateDir: string): { state: DdnsState; problem?: string } {
  const r = readJsonFile(stateFile(stateDir), ddnsStateSchema);
  if (r.ok) return { state: r.value };
  return { state: { version: 1, records: {} }, ...(r.missing ? {} : { problem: r.error }) };
}

/**
 * Writes the given records' states over what the file holds now (read again just before), so
 * that two writers (the daemon, `wanctl dns update`) touching different records lose nothing.
 */
export function writeDdnsRecords(stateDir: string, records: Readonly<Record<string, RecordState>>, keep?: ReadonlySet<string>): void {
  const { state } = readDdnsState(stateDir);
  const merged: Record<string, RecordState> = {};
  for (const [name, s] of Object.entries(state.records)) if (!keep || keep.has(name)) merged[name] = s;
  Object.assign(merged, records);
  writeJsonAtomic(stateFile(stateDir), { version: 1, records: merged } satisfies DdnsState);
}
