import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Removes every directory made with test/temp-dirs.ts when its file ends.
    setupFiles: ["test/setup.ts"],
    // Lab tests build network namespaces and run real daemons: give them room, but bounded.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: files in parallel, but not more than the machine has.
    maxWorkers: 2,
  },
});
