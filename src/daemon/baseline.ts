// The trunks' own settings (each registration's expiry and initial delay, each register line's
// ~expiry) and the transports' external address as they are on the primary link: what wanctl puts
// back on failback, and a copy for people. Kept per channel driver (PJSIP and chan_sip can both be
// managed, and one's settings must never overwrite the other's), apart from state.json, with a
// checksum and a backup copy, and taken only from values that are not wanctl's own short ones:
// neither a crash nor a damaged file can make a backup link's value pass for an original.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";
import type { PbxDriver, SavedExternalAddress, SavedTrunkSettings } from "../asterisk/pbx/index.js";
import { readJsonFile, writeJsonAtomicAsync } from "../lib/json-file.js";

export interface Baseline {
  /** Per driver, per trunk: its own settings (merged over time: a trunk added later joins). */
  readonly trunks?: Partial<Record<PbxDriver, SavedTrunkSettings>>;
  /** Per driver: the external address on the primary link (for people; the primary's public address is what wanctl sets). */
  readonly transports?: Partial<Record<PbxDriver, SavedExternalAddress>>;
  /** ISO time of the last change. */
  readonly savedAt: string;
}

const envelope = z.object({ checksum: z.string(), value: z.record(z.string(), z.unknown()) });

export const baselineFile = (stateDir: string) => join(stateDir, "baseline.json");
const backupFile = (stateDir: string) => join(stateDir, "baseline.json.bak");

const checksum = (value: unknown): string => createHash("sha256").update(JSON.stringify(value)).digest("hex");

export interface LoadedBaseline {
  baseline: Baseline | null;
  /** Set when a copy was damaged (the other one, if whole, was used). */
  warning?: string;
}

/** The baseline from baseline.json, or from its backup copy when that one is damaged. */
export function loadBaseline(stateDir: string): LoadedBaseline {
  const problems: string[] = [];
  for (const file of [baselineFile(stateDir), backupFile(stateDir)]) {
    const read = readJsonFile(file, envelope);
    if (!read.ok) {
      if (!read.missing) problems.push(read.error);
      continue;
    }
    if (checksum(read.value.value) !== read.value.checksum) {
      problems.push(`${file}: damaged (checksum mismatch)`);
      continue;
    }
    const baseline = byDriver(read.value.value);
    return { baseline, ...(problems.length ? { warning: `${problems.join("; ")}; using ${file}` } : {}) };
  }
  return { baseline: null, ...(problems.length ? { warning: `${problems.join("; ")}; no usable copy of the trunks' own settings` } : {}) };
}

/**
 * wanctl ≤ 0.1 kept one driver's settings (`trunks: { driver: "pjsip", ... }`): they become that
 * driver's entry.
 */
function byDriver(value: Record<string, unknown>): Baseline {
  const keyed = (v: unknown) => (typeof v === "object" && v !== null && "driver" in v ? { [(v as { driver: PbxDriver }).driver]: v } : v);
  return { ...value, ...("trunks" in value ? { trunks: keyed(value.trunks) } : {}), ...("transports" in value ? { transports: keyed(value.transports) } : {}) } as Baseline;
}

/**
 * Writes both copies, one after the other, each atomically and flushed: one of them is whole
 * whatever happens. Off the event loop: the flushes took a second here on a busy disk, and the
 * probes' rounds must not stall meanwhile.
 */
export async function saveBaseline(stateDir: string, baseline: Baseline): Promise<void> {
  const body = { checksum: checksum(baseline), value: baseline };
  await writeJsonAtomicAsync(baselineFile(stateDir), body);
  await writeJsonAtomicAsync(backupFile(stateDir), body);
}

/** Whether a trunk's settings are wanctl's own short ones (never taken as the trunk's own). */
export function isShortSetting(value: { expiration?: string | null; max_random_initial_delay?: string | null; expiry?: string | null }, shortExpirySeconds: number): boolean {
  const short = String(shortExpirySeconds);
  if ("expiry" in value) return value.expiry === short;
  return value.expiration === short && value.max_random_initial_delay === "0";
}

/**
 * The baseline with the file's values merged in, where they are a trunk's own (not the short
 * ones). Returns the same object when nothing changes.
 */
export function mergeTrunkSettings(baseline: SavedTrunkSettings | undefined, file: SavedTrunkSettings, shortExpirySeconds: number): SavedTrunkSettings {
  if (file.driver === "pjsip") {
    const old = baseline?.driver === "pjsip" ? baseline.registrations : {};
    const own = Object.entries(file.registrations).filter(([, v]) => !isShortSetting(v, shortExpirySeconds));
    if (own.every(([name, v]) => old[name]?.expiration === v.expiration && old[name]?.max_random_initial_delay === v.max_random_initial_delay) && baseline?.file === file.file) return baseline!;
    return { driver: "pjsip", file: file.file, registrations: { ...old, ...Object.fromEntries(own) } };
  }
  const old = baseline?.driver === "chan_sip" ? baseline.registers : [];
  const own = file.registers.filter((r) => !isShortSetting({ expiry: r.expiry }, shortExpirySeconds));
  if (own.every((r) => old.some((o) => o.key === r.key && o.expiry === r.expiry)) && baseline?.file === file.file) return baseline!;
  const merged = new Map(old.map((r) => [r.key, r.expiry]));
  for (const r of own) merged.set(r.key, r.expiry);
  return { driver: "chan_sip", file: file.file, registers: [...merged].map(([key, expiry]) => ({ key, expiry })) };
}

/**
 * What the trunks should run on the primary link: each trunk's own settings from the baseline;
 * without one, the file's value when it is not the short one, else Asterisk's default (null), with
 * a note saying so.
 */
export function normalTrunkSettings(baseline: SavedTrunkSettings | undefined, file: SavedTrunkSettings, shortExpirySeconds: number): { settings: SavedTrunkSettings; notes: string[] } {
  const notes: string[] = [];
  if (file.driver === "pjsip") {
    const known = baseline?.driver === "pjsip" ? baseline.registrations : {};
    const registrations = Object.fromEntries(
      Object.entries(file.registrations).map(([name, v]) => {
        if (known[name]) return [name, known[name]];
        if (!isShortSetting(v, shortExpirySeconds)) return [name, v];
        notes.push(`${name}: no record of its own expiry, Asterisk's default (3600 s) put back`);
        return [name, { expiration: null, max_random_initial_delay: null }];
      }),
    );
    return { settings: { driver: "pjsip", file: file.file, registrations }, notes };
  }
  const known = new Map((baseline?.driver === "chan_sip" ? baseline.registers : []).map((r) => [r.key, r.expiry]));
  const registers = file.registers.map((r) => {
    if (known.has(r.key)) return { key: r.key, expiry: known.get(r.key)! };
    if (!isShortSetting({ expiry: r.expiry }, shortExpirySeconds)) return r;
    notes.push(`${r.key}: no record of its own expiry, chan_sip's default put back`);
    return { key: r.key, expiry: null };
  });
  return { settings: { driver: "chan_sip", file: file.file, registers }, notes };
}

/**
 * The baseline for the daemon's life: read once, kept in memory, written through. A write that
 * fails (a full disk) keeps the value in memory and says so; the switch goes on.
 */
export class BaselineStore {
  #value: Baseline | null;
  #writing: Promise<void> = Promise.resolve();
  readonly warning: string | undefined;

  constructor(private readonly stateDir: string) {
    const loaded = loadBaseline(stateDir);
    this.#value = loaded.baseline;
    this.warning = loaded.warning;
  }

  get value(): Baseline | null {
    return this.#value;
  }

  trunksOf(driver: PbxDriver): SavedTrunkSettings | undefined {
    return this.#value?.trunks?.[driver];
  }

  transportsOf(driver: PbxDriver): SavedExternalAddress | undefined {
    return this.#value?.transports?.[driver];
  }

  /**
   * Keeps one driver's `change` at once in memory; resolves once it is on disk, or with why it
   * could not be written. Writes go one at a time, in the order of the changes.
   */
  async update(driver: PbxDriver, change: { trunks?: SavedTrunkSettings; transports?: SavedExternalAddress }, now: Date = new Date()): Promise<string | undefined> {
    const old = this.#value;
    const value: Baseline = {
      ...old,
      ...(change.trunks ? { trunks: { ...old?.trunks, [driver]: change.trunks } } : {}),
      ...(change.transports ? { transports: { ...old?.transports, [driver]: change.transports } } : {}),
      savedAt: now.toISOString(),
    };
    this.#value = value;
    const write = this.#writing.then(() => saveBaseline(this.stateDir, value));
    this.#writing = write.catch(() => undefined);
    try {
      await write;
      return undefined;
    } catch (error) {
      return `the trunks' own settings are kept in memory only: cannot write ${baselineFile(this.stateDir)} (${(error as Error).message})`;
    }
  }
}
