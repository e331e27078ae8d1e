// The switcher with fake adapters: repairs of failed later steps across switches.
import { Writable } from "node:stream";
import { describe, expect, test } from "vitest";
import { readState } from "../../src/daemon/state.js";
import { Switcher } from "../../src/daemon/switcher.js";
import { createLogger } from "../../src/log.js";
import type { RouteBackend, SwitchResult } from "../../src/wan/route/backend.js";
import { tempDir } from "../temp-dirs.js";

const quiet = createLogger({ pretty: false, level: "silent", destination: new Writable({ write: (_c, _e, done) => done() }) as never });

class FakeRoute implements RouteBackend {
  active: string | undefined = "wan1";
  failNext = false;
  async activeLink() {
    return this.active;
  }
  async prepareLink() {
    return "198.51.100.10";
  }
  async activate(link: string): Promise<SwitchResult> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("RTNETLINK answers: Network is unreachable");
    }
    this.active = link;
    return { active: link, durationMs: 1 };
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function setUp(maxAttempts: number) {
  const route = new FakeRoute();
  const dnsCalls: string[] = [];
  const stateDir = tempDir();
  const switcher = new Switcher({
    stateDir,
    primaryLink: "wan1",
    logger: quiet,
    repair: { firstDelayMs: 5, maxDelayMs: 5, maxAttempts },
    adapters: {
      route,
      publicAddress: async (link) => ({ address: link === "wan1" ? "198.51.100.10" : "203.0.113.10", detail: "static" }),
      updateDns: async (_address, link) => {
        dnsCalls.push(link);
        throw new Error("provider down");
      },
    },
  });
  return { route, dnsCalls, stateDir, switcher };
}

describe("switcher repairs", () => {
  test("a new switch gets its own repair attempts, even after the last one gave up", async () => {
    const { dnsCalls, switcher } = setUp(2);
    await switcher.switchTo("wan2", "wan1", "failover", "wan1 down").report;
    await until("wan2's repairs to give up", () => dnsCalls.filter((l) => l === "wan2").length === 3);
    await switcher.switchTo("wan1", "wan2", "failback", "wan1 back").report;
    await until("wan1's DNS step repaired", () => dnsCalls.filter((l) => l === "wan1").length === 3);
    await switcher.stop();
  });

  test("a switch whose route fails keeps the repairs of the link the office stays on", async () => {
    const { route, dnsCalls, stateDir, switcher } = setUp(1000);
    await switcher.switchTo("wan2", "wan1", "failover", "wan1 down").report;
    route.failNext = true;
    const failed = await switcher.switchTo("wan1", "wan2", "failback", "wan1 back").report;
    expect(failed.ok).toBe(false);
    expect(readState(stateDir).state.unfinished).toMatchObject({ link: "wan2", steps: ["dns"] });
    const before = dnsCalls.length;
    await until("wan2's DNS step tried again", () => dnsCalls.length > before);
    expect(dnsCalls.at(-1)).toBe("wan2");
    await switcher.stop();
  });
});
