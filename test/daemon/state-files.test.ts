import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { readJsonFile, writeJsonAtomic } from "../../src/lib/json-file.js";
import { readPin, writePin } from "../../src/daemon/pin.js";
import { tempDir } from "../temp-dirs.js";

describe("state files", () => {
  test("an atomic write leaves only the final file and reads back", () => {
    const dir = join(tempDir(), "state");
    writeJsonAtomic(join(dir, "s.json"), { a: 1 });
    writeJsonAtomic(join(dir, "s.json"), { a: 2 });
    expect(readdirSync(dir)).toEqual(["s.json"]);
    expect(readJsonFile(join(dir, "s.json"), z.object({ a: z.number() }))).toEqual({ ok: true, value: { a: 2 } });
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
