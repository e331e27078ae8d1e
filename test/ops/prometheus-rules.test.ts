// contrib/prometheus: the alert rules pass promtool's checks and their own unit tests, and every
// wanctl metric they use is one wanctl exports.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { OpsMetrics } from "../../src/ops/metrics.js";
import { minimalConfig } from "../config/fixtures.js";
import { statusFixture } from "./fixtures.js";
import { describeWithTools } from "./tools.js";

const dir = new URL("../../contrib/prometheus/", import.meta.url).pathname;
const rules = readFileSync(`${dir}wanctl-rules.yml`, "utf8");

const promtool = (...args: string[]) => {
  const run = spawnSync("promtool", args, { cwd: dir, encoding: "utf8", timeout: 60_000 });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
};

describeWithTools("the Prometheus alert rules", ["promtool"], () => {
  test("pass promtool's check", () => {
    const { code, output } = promtool("check", "rules", "wanctl-rules.yml");
    expect(output).toContain("SUCCESS: 9 rules found");
    expect(code).toBe(0);
  });

  test("pass their unit tests (promtool test rules)", () => {
    const { code, output } = promtool("test", "rules", "wanctl-rules.test.yml", "wanctl-rules-drill.test.yml");
    expect(output).not.toContain("FAILED");
    expect(code).toBe(0);
  });
});

test("cover what the issue asks for, with metrics wanctl exports", async () => {
  const alerts = new Set([...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]));
  expect([...alerts].sort()).toEqual(["WanctlAllLinksDown", "WanctlDown", "WanctlDrillFailed", "WanctlDrillTooOld", "WanctlOnBackupLink", "WanctlSwitchFailed", "WanctlSwitchStepsPending", "WanctlTrunkNotRegistered"]);
  const metrics = new OpsMetrics(parseConfigText(JSON.stringify(minimalConfig()), "c.json"), {
    trunks: () => [{ name: "itsp", registered: true, expirySeconds: 60 }],
    lastDrill: () => ({ at: 0, ok: true }),
  });
  metrics.status(statusFixture());
  const exported = new Set([...(await metrics.text()).body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  const used = new Set([...rules.matchAll(/\b(wanctl_[a-z_]+)/g)].map((m) => m[1]!));
  expect([...used].filter((name) => !exported.has(name))).toEqual([]);
});
