// What the daemon must remember across a restart or a kill -9: the trunk settings to put back on
// failback, and a switch whose later steps have not all succeeded yet (finished at the next start).
import { join } from "node:path";
import { z } from "zod";
import type { SavedExternalAddress, SavedTrunkSettings } from "../asterisk/pbx/index.js";
import { readJsonFile, writeJsonAtomic } from "../lib/json-file.js";

const stateSchema = z.object({
  version: z.literal(1),
  /** Asterisk's trunk settings before wanctl shortened them; present while on a backup link. */
  savedTrunks: z.custom<SavedTrunkSettings>((v) => typeof v === "object" && v !== null && "driver" in v).optional(),
  /** Asterisk's external-address settings before wanctl changed them for a backup link (a copy for people and restores). */
  savedAddress: z.custom<SavedExternalAddress>((v) => typeof v === "object" && v !== null && "driver" in v).optional(),
  /**
   * A switch to `link` whose steps after the route have not all succeeded: they are run again
   * (and at the next start) until they do, as long as the office stays on that link.
   */
  unfinished: z.object({ link: z.string(), kind: z.enum(["failover", "failback", "manual"]), since: z.string(), steps: z.array(z.string()) }).optional(),
});

export type DaemonState = z.infer<typeof stateSchema>;

export const stateFile = (stateDir: string) => join(stateDir, "state.json");

export function readState(stateDir: string): { state: DaemonState; warning?: string } {
  const result = readJsonFile(stateFile(stateDir), stateSchema);
  if (result.ok) return { state: result.value };
  return { state: { version: 1 }, ...(result.missing ? {} : { warning: `${result.error}; starting without saved state` }) };
}

export function writeState(stateDir: string, state: DaemonState): void {
  writeJsonAtomic(stateFile(stateDir), state);
}
