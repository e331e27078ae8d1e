import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { readJsonFile, writeJsonAtomic } from "../../src/lib/json-file.js";
import { readPin, writePin } from "../../src/daemon/pin.js";
import { StatusWriter, type DaemonStatus } from "../../src/daemon/status-file.js";
import { tempDir } from "../temp-dirs.js";

describe("state files", () => {
  test("an atomic write leaves only the final file and reads back", () => {
    const dir = join(tempDir(), "state");
    writeJsonAtomic(join(dir, "s.json"), { a: 1 });
    writeJsonAtomic(join(dir, "s.json"), { a: 2 });
    expect(readdirSync(dir)).toEqual(["s.json"]);
    expect(readJsonFile(join(dir, "s.json"), z.object({ a: z.number() }))).toEqual({ ok: true, value: { a: 2 } });
  });

  test("the status writer writes the newest status handed in, one write at a time, and says how each ended", async () => {
    const dir = join(tempDir(), "state");
    const ended: (string | undefined)[] = [];
    const writer = new StatusWriter(dir, (error) => ended.push(error?.message));
    const status = (n: number) => ({ pid: n }) as unknown as DaemonStatus;
    writer.write(status(1)); // under way at once
    writer.write(status(2)); // waits, then is replaced
    writer.write(status(3));
    await writer.flush();
    expect(ended).toEqual([undefined, undefined]);
    expect(JSON.parse(readFileSync(join(dir, "status.json"), "utf8"))).toEqual({ pid: 3 });
    expect(readdirSync(dir)).toEqual(["status.json"]);
  });

  test("a status write that fails is told, leaves no temporary file, and the next one works again", async () => {
    const parent = tempDir();
    const dir = join(parent, "state");
    writeFileSync(dir, "not a directory");
    const ended: (string | undefined)[] = [];
    const writer = new StatusWriter(dir, (error) => ended.push(error?.message));
    writer.write({ pid: 1 } as unknown as DaemonStatus);
    await writer.flush();
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatch(/EEXIST|ENOTDIR/);
    rmSync(dir);
    writer.write({ pid: 2 } as unknown as DaemonStatus);
    await writer.flush();
    expect(ended[1]).toBeUndefined();
    expect(readdirSync(dir)).toEqual(["status.json"]);
  });

  test("a damaged or missing file is reported, not thrown", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.json"), '{"a": ');
    const damaged = readJsonFile(join(dir, "bad.json"), z.object({ a: z.number() }));
    expect(damaged).toMatchObject({ ok: false, missing: false, error: expect.stringContaining("bad.json: damaged") });
    writeFileSync(join(dir, "wrong.json"), '{"a": "x"}');
    expect(readJsonFile(join(dir, "wrong.json"), z.object({ a: z.number() }))).toMatchObject({ ok: false, error: expect.stringContaining("damaged (a:") });
    expect(readJsonFile(join(dir, "none.json"), z.object({}))).toMatchObject({ ok: false, missing: true });
  });

  test("the pin survives a restart; a damaged pin falls back to automatic with a warning", () => {
    const dir = tempDir();
    expect(readPin(dir)).toEqual({ pin: { mode: "auto" } });
    writePin(dir, { mode: "pinned", link: "wan2", since: "2026-11-25T10:00:00.000Z" });
    expect(readPin(dir).pin).toEqual({ mode: "pinned", link: "wan2", since: "2026-11-25T10:00:00.000Z" });
    writeFileSync(join(dir, "pin.json"), "{");
    expect(readPin(dir)).toMatchObject({ pin: { mode: "auto" }, warning: expect.stringContaining("running in automatic mode") });
  });
});
