// Small configs for tests, written to a temporary directory.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../temp-dirs.js";

export function writeTemp(name: string, text: string, mode = 0o600): string {
  const file = join(tempDir(), name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

/** The smallest valid config: two links and one probe target. */
export function minimalConfig(): Record<string, unknown> {
  return {
    links: [
      { name: "wan1", interface: "wan1", gateway: "198.51.100.9", priority: 1 },
      { name: "wan2", interface: "wan2", gateway: "100.64.0.1", priority: 2 },
    ],
    monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }] },
  };
}
