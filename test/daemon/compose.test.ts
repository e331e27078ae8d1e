// The composition root's alert outbox: every secret of the config is scrubbed, not only the channels'.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { composeDaemon } from "../../src/daemon/compose.js";
import { createLogger } from "../../src/log.js";
import { createAlert } from "../../src/notify/index.js";
import { minimalConfig } from "../config/fixtures.js";
import { tempDir } from "../temp-dirs.js";

const quiet = createLogger({ pretty: false, level: "silent", destination: new Writable({ write: (_c, _e, done) => done() }) as never });

test("an alert that quotes a DNS token reaches the outbox without it", async () => {
  const stateDir = tempDir();
  const token = "duck-token-0123456789";
  const config = parseConfigText(
    JSON.stringify({
      ...minimalConfig(),
      stateDir,
      dns: { providers: [{ id: "duck", type: "duckdns", token }], records: [{ name: "office.duckdns.org", provider: "duck" }] },
      alerts: { webhook: { url: "http://127.0.0.1:9/hook" }, coalesceSeconds: 0 },
    }),
    "c.json",
  );
  const deps = composeDaemon(config, quiet);
  deps.alerts!.enqueue(createAlert({ kind: "step-failed", reason: `DNS update failed: https://www.duckdns.org/update?token=${token}`, links: [] }));
  await deps.alerts!.stop();
  await deps.close?.(); // the conntrack flush's helper (route.backend linux)
  const outbox = join(stateDir, "outbox");
  const text = readdirSync(outbox).map((f) => readFileSync(join(outbox, f), "utf8")).join("\n");
  expect(text).toContain("DNS update failed");
  expect(text).not.toContain(token);
});

test("route.backend none: the follow backend and the egress watch instead of the links' probes, no carrier watch, no conntrack step", async () => {
  const config = parseConfigText(readFileSync(new URL("../../config.follow.example.json", import.meta.url), "utf8").replace("/var/lib/wanctl", tempDir()), "c.json");
  const deps = composeDaemon(config, quiet);
  expect(deps.route.follows).toBe(true);
  expect(deps.watchEgress).toBeTypeOf("function");
  expect(deps.gatewayPath).toBeTypeOf("function"); // its monitor.targets watch the way out through the router
  expect(deps.watchCarrier).toBeUndefined();
  expect(deps.steps!.flushConntrack).toBe(false);
  await deps.close?.();
  await deps.alerts?.stop();
});
