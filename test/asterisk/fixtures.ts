// Access to the AMI transcripts recorded from the lab's real Asterisk 20 (test/fixtures/asterisk/,
// written by ./record-transcripts.ts).

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** <repo>/test/fixtures/asterisk, whether this module runs from the sources or from dist/. */
export const FIXTURES_DIR = fileURLToPath(new URL(import.meta.url.includes("/dist/test/") ? "../../../test/fixtures/asterisk" : "../fixtures/asterisk", import.meta.url));

export interface TranscriptEntry {
  readonly dir: "send" | "recv";
  readonly t: number;
  readonly data: string;
}

export function transcriptNames(): string[] {
  return readdirSync(FIXTURES_DIR)
    .filter((f) => f.endsWith(".jsonl"))
    .map((f) => f.slice(0, -".jsonl".length))
    .sort();
}

export function loadTranscript(name: string): TranscriptEntry[] {
  const text = readFileSync(path.join(FIXTURES_DIR, `${name}.jsonl`), "utf8");
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => {
      const o = JSON.parse(l) as Partial<TranscriptEntry>;
      if ((o.dir !== "send" && o.dir !== "recv") || typeof o.data !== "string") throw new Error(`${name}.jsonl line ${i + 1}: bad entry`);
      return { dir: o.dir, t: o.t ?? 0, data: o.data };
    });
}

/** Everything the server sent on the connection, as bytes. */
export function recvStream(name: string): Buffer {
  return Buffer.concat(loadTranscript(name).filter((e) => e.dir === "recv").map((e) => Buffer.from(e.data, "utf8")));
}

export { mulberry32 as prng } from "../prng.js";
