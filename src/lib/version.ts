// The package version, read from package.json so there is one place to bump it.
import { readFileSync } from "node:fs";

export function packageVersion(): string {
  // src/lib/version.ts sits two levels below the package root, dist/src/lib/version.js three
  // (once built); try both depths rather than guess.
  for (const relative of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "wanctl" && pkg.version) return pkg.version;
    } catch {
      // not at this depth
    }
  }
  return "unknown";
}
