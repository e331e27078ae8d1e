// Where the shared material maintained outside this repo lives (DESIGN.md, fixtures): beside the
// checkout as ../shared, or wherever $WANCTL_SHARED_DIR says (a clone elsewhere, e.g. in CI).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const candidates = [
  process.env.WANCTL_SHARED_DIR,
  fileURLToPath(new URL("../../shared", import.meta.url)),
  fileURLToPath(new URL("../../../shared", import.meta.url)), // from dist/test/
  "/work/shared",
].filter((dir): dir is string => Boolean(dir));

export function sharedDir(): string {
  const found = candidates.find((dir) => existsSync(`${dir}/fixtures`));
  if (!found) throw new Error(`the shared fixtures are not found (looked in ${candidates.join(", ")}); set WANCTL_SHARED_DIR`);
  return found;
}

export const asteriskFixturesDir = (): string => `${sharedDir()}/fixtures/asterisk`;
