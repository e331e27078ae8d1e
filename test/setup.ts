// Runs in every test file before its tests (vitest setupFiles).
import { afterAll } from "vitest";
import { removeTempDirs } from "./temp-dirs.js";

// Registered before any suite's hooks, so it runs after all of them: a lab suite's afterAll stops
// its daemon first, and a daemon still running could recreate its state directory.
afterAll(removeTempDirs);
