// A state directory on a full disk at start: the daemon still starts and fails over, keeps its
// state in memory, says so loudly, and leaves no temporary file behind (audit case 13).
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { createLogger } from "../../src/log.js";
import type { Alert } from "../../src/notify/index.js";
import type { LinkBinding, Probe } from "../../src/wan/probes/types.js";
import { minimalConfig } from "../config/fixtures.js";
import { describeLab } from "../lab/vitest.js";
import { tempDir } from "../temp-dirs.js";

describeLab("a full disk at start", () => {
  const mount = join(tempDir(), "full");
  beforeAll(() => {
    mkdirSync(mount);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mount]);
    // Fill it: the write that finds no room throws ENOSPC, and then the disk is full.
    try {
      writeFileSync(join(mount, "filler"), Buffer.alloc(128 * 1024));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
    }
  });
  afterAll(() => {
    execFileSync("umount", [mount]);
  });

  test("the daemon starts, fails over with its state in memory, and says so", async () => {
    const answering = new Map([["wan1", true], ["wan2", true]]);
    const probe = (link: LinkBinding): Probe => ({
      target: "icmp 192.0.2.1",
      type: "icmp",
      link,
      run: async () => (answering.get(link.name) ? { target: "icmp 192.0.2.1", ok: true, rttMs: 1 } : { target: "icmp 192.0.2.1", ok: false, error: "timeout" }),
      close: async () => undefined,
    });
    let active = "wan1";
    const alerts: Alert[] = [];
    const config = parseConfigText(JSON.stringify({ ...minimalConfig(), stateDir: mount, monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }], intervalMs: 5, timeoutMs: 5, downAfter: 2, upAfter: 2 } }), "c.json");
    const daemon = new Daemon(config, {
      route: { activeLink: async () => active, prepareLink: async () => "198.51.100.10", activate: async (to) => ((active = to), { active: to, durationMs: 1 }) },
      logger: createLogger({ pretty: false, level: "silent", destination: new Writable({ write: (_c, _e, done) => done() }) as never }),
      makeProbes: (link) => [probe(link)],
      alerts: { enqueue: (a) => void alerts.push(a), retryNow: () => undefined, stop: async () => undefined },
    });
    await daemon.start();
    try {
      const deadline = Date.now() + 5_000;
      while (!daemon.status().links.every((l) => l.state === "up") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      answering.set("wan1", false);
      while (daemon.activeLink !== "wan2" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(daemon.activeLink).toBe("wan2");
      const problems = daemon.status().problems ?? [];
      expect(problems).toContainEqual(expect.stringMatching(/^state\.json cannot be written \(ENOSPC.*\): wanctl goes on with its state in memory/));
      expect(problems).toContainEqual(expect.stringMatching(/^cannot write the status file, so `wanctl status` shows an old one: ENOSPC/));
      // Said once each, not once per write.
      expect(alerts.filter((a) => a.kind === "problem").map((a) => a.reason.slice(0, 20))).toEqual(["state.json cannot b", "cannot write the sta"].map((s) => expect.stringContaining(s)));
      expect(alerts.filter((a) => a.kind === "failover")).toHaveLength(1);
    } finally {
      await daemon.stop();
    }
    expect(readdirSync(mount).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
