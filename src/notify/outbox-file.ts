// Where the outboxes live: <stateDir>/outbox/<channel>.json, written atomically after every change,
// and a lock so that only one process (the daemon, or a one-off CLI) delivers from them.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
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

export class OutboxBusyError extends Error {}

/**
 * Takes the outbox lock for this process. Another live process holding it is an error (two
 * writers would lose each other's updates); a lock left by a dead process is taken over.
 */
export function lockOutbox(stateDir: string): () => void {
  mkdirSync(outboxDir(stateDir), { recursive: true, mode: 0o700 });
  const file = join(outboxDir(stateDir), "lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        if (ownerOf(file) === process.pid) rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = ownerOf(file);
    if (owner !== null && owner !== process.pid && isAlive(owner)) {
      throw new OutboxBusyError(`the alert outbox in ${outboxDir(stateDir)} is in use by process ${owner} (is the daemon running?)`);
    }
    rmSync(file, { force: true }); // stale: its process is gone (or it is ours, from before a restart in-process)
  }
  throw new OutboxBusyError(`cannot take the lock of the alert outbox in ${outboxDir(stateDir)}`);
}

function ownerOf(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
