// Temporary directories for tests. Each one is removed when its test file ends (test/setup.ts
// registers removeTempDirs as the file's last afterAll, after every suite's own teardown has
// stopped the daemons that write into them), so a test run leaves nothing behind in /tmp.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made = new Set<string>();

/** A fresh directory `<tmp>/<prefix>XXXXXX`, removed at the end of the test file. */
export function tempDir(prefix = "wanctl-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}
