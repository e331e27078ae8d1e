// The operator's manual choice (`wanctl use <link>` / `wanctl auto`): a file in the state
// directory, so it survives a restart and the CLI can set it while the daemon runs.
import { join } from "node:path";
import { z } from "zod";
import { readJsonFile, writeJsonAtomic } from "../lib/json-file.js";

export const pinSchema = z.discriminatedUnion("mode", [
  z.object({ mode: z.literal("auto") }),
  z.object({ mode: z.literal("pinned"), link: z.string(), since: z.string() }),
]);

export type Pin = z.infer<typeof pinSchema>;

export const pinFile = (stateDir: string) => join(stateDir, "pin.json");

export function readPin(stateDir: string): { pin: Pin; warning?: string } {
  const result = readJsonFile(pinFile(stateDir), pinSchema);
  if (result.ok) return { pin: result.value };
  return { pin: { mode: "auto" }, ...(result.missing ? {} : { warning: `${result.error}; running in automatic mode` }) };
}

export function writePin(stateDir: string, pin: Pin): void {
  writeJsonAtomic(pinFile(stateDir), pin);
}
