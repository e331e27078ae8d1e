// Where the outboxes live: <stateDir>/outbox/<channel>.json, written atomically after every change.
// Only the daemon delivers from them, and only one daemon runs per state directory (its flock,
// src/daemon/instance-lock.ts).
import { renameSync } from "node:fs";
import { join } from "node:path";
import { readJsonFile, writeJsonAtomic } from "../lib/json-file.js";
import { clampToNow, emptyOutbox, outboxSchema, type OutboxState } from "./queue.js";

export const outboxDir = (stateDir: string) => join(stateDir, "outbox");
export const outboxFile = (stateDir: string, channel: string) => join(outboxDir(stateDir), `${channel}.json`);

export function saveOutbox(stateDir: string, state: OutboxState): void {
  writeJsonAtomic(outboxFile(stateDir, state.channel), state);
}

/**
 * The channel's outbox as the last run left it. A damaged file is moved aside (kept for a person
 * to look at, never overwritten) and the channel starts empty, with a warning.
 */
export function loadOutbox(stateDir: string, channel: string, now: number): { state: OutboxState; warning?: string } {
  const file = outboxFile(stateDir, channel);
  const result = readJsonFile(file, outboxSchema);
  if (result.ok) {
    if (result.value.channel !== channel) return { state: emptyOutbox(channel), warning: `${file}: belongs to channel ${result.value.channel}; ignored` };
    return { state: clampToNow(result.value, now) };
  }
  if (result.missing) return { state: emptyOutbox(channel) };
  const aside = `${file}.damaged-${now}`;
  try {
    renameSync(file, aside);
  } catch {
    // Leave it where it is; the next save replaces it, and the warning still names it.
  }
  return { state: emptyOutbox(channel), warning: `${result.error}; moved to ${aside}, the channel starts with an empty outbox` };
}
