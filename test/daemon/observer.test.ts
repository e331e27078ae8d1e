// The daemon's observer interface, as metrics, history, the status page and systemd rely on it:
// every round, every switch with its origin, every drill, every status, and the stop; an observer
// that throws disturbs nothing. Fake probes and route, real timers at a short interval, bounded waits.
import { FakeRoute } from "./fakes.js";
import { afterEach, describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import type { DrillReport } from "../../src/daemon/lifecycle.js";
import { fanOut, type DaemonObserver, type SwitchOrigin } from "../../src/daemon/observer.js";
import type { FailoverReport } from "../../src/daemon/report.js";
import type { DaemonStatus } from "../../src/daemon/status-file.js";
import type { LinkHealth } from "../../src/wan/health.js";
import type { ProbeResult } from "../../src/wan/probes/types.js";
import { minimalConfig } from "../config/fixtures.js";
import { tempDir } from "../temp-dirs.js";
import { quietLogger, recordingLogger } from "../ops/fixtures.js";

const quiet = quietLogger();

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

class Recorder implements DaemonObserver {
  rounds: { link: string; results: readonly ProbeResult[]; health: LinkHealth }[] = [];
  switches: { report: FailoverReport; origin: SwitchOrigin }[] = [];
  drills: DrillReport[] = [];
  statuses: DaemonStatus[] = [];
  stopped = 0;
  round(link: string, results: readonly ProbeResult[], health: LinkHealth) {
    this.rounds.push({ link, results, health });
  }
  switched(report: FailoverReport, origin: SwitchOrigin) {
    this.switches.push({ report, origin });
  }
  drilled(report: DrillReport) {
    this.drills.push(report);
  }
  status(status: DaemonStatus) {
    this.statuses.push(status);
  }
  async stopping() {
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.stopped++;
  }
}

/** Throws from every event: the daemon must carry on as if it were not there. */
const broken: DaemonObserver = {
  round: () => {
    throw new Error("broken round");
  },
  switched: () => {
    throw new Error("broken switched");
  },
  status: () => {
    throw new Error("broken status");
  },
  stopping: async () => {
    throw new Error("broken stopping");
  },
};

describe("daemon observers", () => {
  const answering = new Map([
    ["wan1", true],
    ["wan2", true],
  ]);
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  function start(observers: DaemonObserver[]) {
    const route = new FakeRoute();
    const config = parseConfigText(
      JSON.stringify({ ...minimalConfig(), stateDir: tempDir(), monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }], intervalMs: 5, timeoutMs: 5, downAfter: 2, upAfter: 2 } }),
      "c.json",
    );
    daemon = new Daemon(config, {
      route,
      logger: quiet,
      observers,
      makeProbes: (link) => [
        {
          target: "icmp 192.0.2.1",
          type: "icmp",
          link,
          run: async () => (answering.get(link.name) ? { target: "icmp 192.0.2.1", ok: true, rttMs: 1 } : { target: "icmp 192.0.2.1", ok: false, error: "timeout" }),
          close: async () => undefined,
        },
      ],
    });
    return daemon;
  }

  test("see every round with the health after it, the switch with its origin, the status, and the stop", async () => {
    const seen = new Recorder();
    const daemon = start([broken, seen]);
    await daemon.start();
    await until("both links up", () => daemon.status().links.every((l) => l.state === "up"));
    expect(new Set(seen.rounds.map((r) => r.link))).toEqual(new Set(["wan1", "wan2"]));
    const last = seen.rounds.at(-1)!;
    expect(last.results).toEqual([{ target: "icmp 192.0.2.1", ok: true, rttMs: 1 }]);
    expect(last.health.link).toBe(last.link);

    answering.set("wan1", false);
    await until("the failover's report", () => seen.switches.length === 1);
    expect(seen.switches[0]).toMatchObject({ origin: "decision", report: { kind: "failover", from: "wan1", to: "wan2", ok: true } });
    expect(seen.rounds.some((r) => r.link === "wan1" && r.health.state === "down")).toBe(true);
    await until("a status on wan2", () => seen.statuses.at(-1)?.active === "wan2");
    answering.set("wan1", true);

    const statusesBefore = seen.statuses.length;
    await daemon.stop();
    daemon.stop = async () => undefined; // afterEach
    expect(seen.stopped).toBe(1);
    // The last status, written as the daemon stops, reaches the observers too.
    expect(seen.statuses.length).toBeGreaterThan(statusesBefore);
  });

  test("see each leg of a drill as a drill switch, then the drill", async () => {
    const seen = new Recorder();
    const daemon = start([seen]);
    await daemon.start();
    await until("both links up", () => daemon.status().links.every((l) => l.state === "up"));
    const report = await daemon.drill();
    expect(report.ok).toBe(true);
    expect(seen.switches.map((s) => [s.origin, s.report.from, s.report.to])).toEqual([
      ["drill", "wan1", "wan2"],
      ["drill", "wan2", "wan1"],
    ]);
    expect(seen.drills).toEqual([report]);
  });

  test("see a refused drill too", async () => {
    const seen = new Recorder();
    answering.set("wan2", false);
    const daemon = start([seen]);
    await daemon.start();
    await until("wan2 down", () => daemon.status().links.find((l) => l.name === "wan2")?.state === "down");
    const report = await daemon.drill();
    answering.set("wan2", true);
    expect(report.refused).toBeDefined();
    expect(seen.drills).toEqual([report]);
    expect(seen.switches).toEqual([]);
  });
});

test("a broken observer is logged once per event, and the others still hear every event", async () => {
  const { lines, logger } = recordingLogger();
  const seen = new Recorder();
  const all = fanOut([broken, seen], logger);
  for (let i = 0; i < 3; i++) all.status({ active: "wan1" } as DaemonStatus);
  await all.stopping();
  expect(seen.statuses).toHaveLength(3);
  expect(seen.stopped).toBe(1);
  expect(lines).toEqual(["an observer failed on status: broken status", "an observer failed on stopping: broken stopping"]);
});
