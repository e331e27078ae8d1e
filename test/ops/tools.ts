// Tests that need an outside tool (promtool, systemd-analyze, chromium, prometheus): skipped with
// the reason where it is missing, failed instead under WANCTL_REQUIRE_LAB=1 (a missing tool must
// never pass CI). scripts/setup.sh installs them.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { describe, test } from "vitest";
import { labRequired } from "../lab/vitest.js";

export function toolPath(bin: string): string | undefined {
  if (bin.startsWith("/")) return canRun(bin) ? bin : undefined;
  return (process.env.PATH ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, bin)).find(canRun);
}

function canRun(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** describe() for a suite that runs `bins`. */
export function describeWithTools(name: string, bins: readonly string[], fn: () => void): void {
  const missing = bins.filter((b) => !toolPath(b));
  if (missing.length === 0) describe(name, fn);
  else if (labRequired()) {
    describe(name, () => {
      test(`${missing.join(", ")} can run here (WANCTL_REQUIRE_LAB=1)`, () => {
        throw new Error(`missing: ${missing.join(", ")} (scripts/setup.sh installs them)`);
      });
    });
  } else describe.skipIf(true)(`${name} (missing: ${missing.join(", ")})`, fn);
}
