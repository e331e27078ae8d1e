// Small JSON files that must never be half-written: write to a temporary file, flush it, rename.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import type { z } from "zod";

/**
 * Writes `value` to a temporary file beside `file`, flushes it to disk and renames it over: readers
 * see the old or the new file, never half of one, also after a power cut. A write that fails (a
 * full disk) removes its temporary file and throws.
 */
export function writeJsonAtomic(file: string, value: unknown, mode = 0o600): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fd = openSync(temporary, "w", mode);
    try {
      writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * `writeJsonAtomic` off the event loop (libuv's thread pool does the file work), for a process
 * whose timing matters: a flush to disk can hold the caller for a second on a busy disk. `durable`
 * (default) flushes before the rename; derived data rewritten every second (the status) skips it.
 */
export async function writeJsonAtomicAsync(file: string, value: unknown, mode = 0o600, { durable = true }: { durable?: boolean } = {}): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const handle = await open(temporary, "w", mode);
    try {
      await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export type ReadResult<T> = { ok: true; value: T } | { ok: false; missing: boolean; error: string };

/** Reads and validates a JSON file; a missing or damaged file is a result, never a throw. */
export function readJsonFile<T>(file: string, schema: z.ZodType<T>): ReadResult<T> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    return { ok: false, missing, error: `${file}: ${missing ? "no such file" : (error as Error).message}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, missing: false, error: `${file}: damaged (${(error as Error).message})` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, missing: false, error: `${file}: damaged (${issue?.path.join(".") || "top level"}: ${issue?.message})` };
  }
  return { ok: true, value: parsed.data };
}
