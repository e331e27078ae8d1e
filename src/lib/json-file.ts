// Small JSON files that must never be half-written: write to a temporary file, flush it, rename.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import type { z } from "zod";

/**
 * Writes `value` to a temporary file beside `file` and renames it over: readers see the old or the
 * new file, never half of one. `durable` (default) flushes it to disk first; derived data that is
 * rewritten every second (the status) skips that. A write that fails (a full disk) removes its
 * temporary file and throws.
 */
export function writeJsonAtomic(file: string, value: unknown, mode = 0o600, options: { durable?: boolean } = {}): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fd = openSync(temporary, "w", mode);
    try {
      writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
      if (options.durable !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
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
