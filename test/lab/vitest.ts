// Vitest glue for lab test files. A lab suite is skipped where the lab cannot run, except under
// WANCTL_REQUIRE_LAB=1 (CI), where it fails with the reason: a silently skipped lab test must
// never pass CI.
import { afterAll, beforeAll, describe, test } from "vitest";
import { labAvailability, type Availability } from "./availability.js";
import { createLab, type Lab, type LabOptions } from "./lab.js";

export const labRequired = (): boolean => process.env.WANCTL_REQUIRE_LAB === "1";

/** describe() for suites that need the lab (and whatever else `needs` checks, e.g. the built Asterisk). */
export function describeLab(name: string, fn: () => void, needs: ReadonlyArray<() => Availability> = []): void {
  const a = [labAvailability, ...needs].map((check) => check()).find((x) => !x.ok) ?? { ok: true };
  if (a.ok) {
    describe(name, fn);
  } else if (labRequired()) {
    describe(name, () => {
      test("the network lab can run here (WANCTL_REQUIRE_LAB=1)", () => {
        throw new Error(`network lab unavailable: ${a.reason}`);
      });
    });
  } else {
    describe.skipIf(true)(`${name} (network lab unavailable: ${a.reason})`, fn);
  }
}

/** A lab for the enclosing suite: up in beforeAll, down in afterAll (also when tests throw). */
export function useLab(options?: LabOptions): Lab {
  const lab = createLab(options);
  beforeAll(() => lab.up());
  afterAll(() => lab.down());
  return lab;
}
