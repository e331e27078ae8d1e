import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";
import { readPin } from "../../src/daemon/pin.js";
import { minimalConfig, writeTemp } from "../config/fixtures.js";
import { tempDir } from "../temp-dirs.js";
import { cli } from "./run-cli.js";

const example = new URL("../../config.example.json", import.meta.url).pathname;

describe("wanctl CLI", () => {
  test("--version prints the package version and exits 0", async () => {
    const { code, stdout } = await cli(["--version"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  test.each(["run", "check-config", "status", "test"])("%s --help describes the command and exits 0", async (name) => {
    const { code, stdout } = await cli([name, "--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: wanctl ${name}`);
    expect(stdout).toContain("--config <file>");
  });

  test("usage errors exit 2", async () => {
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["check-config", "--no-such-flag"])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
    // A command group without its subcommand: help on stderr, as a usage error.
    expect((await cli(["dns"])).code).toBe(2);
    expect((await cli(["asterisk"])).code).toBe(2);
    expect((await cli(["dns", "--help"])).code).toBe(0);
  });

  test("check-config on the example exits 0 with a summary", async () => {
    const { code, stdout } = await cli(["check-config", "--config", example]);
    expect(code).toBe(0);
    expect(stdout).toContain("OK: 4 links (wan1 > wan2 > lte > dsl)");
    expect(stdout).toContain("metrics and status page on http://192.168.50.1:9026/ (with auth)");
    expect(stdout).toContain("SIP domain office.example.com: a name for wan1, wan2 and SRV _sip._udp, _sip._tcp, _sips._tcp");
  });

  test("check-config lists every problem with file:line:column and exits 2", async () => {
    const config = minimalConfig() as Record<string, any>;
    config.links[0].gateway = "999.1.1.1";
    config.monitr = {};
    const file = writeTemp("broken.json", JSON.stringify(config, null, 2));
    const { code, stderr } = await cli(["check-config", "-c", file]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}:6:18: links[0].gateway: expected an IPv4 address`);
    expect(stderr).toMatch(new RegExp(`${file}:\\d+:\\d+: monitr: unknown key "monitr" \\(did you mean "monitor"\\?\\)`));
    expect(stderr).toContain(`2 problems in ${file}`);
  });

  test("the config path comes from WANCTL_CONFIG when --config is not given", async () => {
    const file = writeTemp("env.json", JSON.stringify(minimalConfig()));
    expect((await cli(["check-config"], { WANCTL_CONFIG: file })).code).toBe(0);
  });

  test("test without a running daemon says so (exit 1)", async () => {
    const stateDir = tempDir();
    const file = writeTemp("ok.json", JSON.stringify({ ...minimalConfig(), stateDir }));
    const { code, stderr } = await cli(["test", "-c", file]);
    expect(code).toBe(1);
    expect(stderr).toContain(`wanctl test: the daemon is not running (no control socket at ${stateDir}/control.sock)`);
  });

  test("status without a running daemon says so and exits 1", async () => {
    const config = { ...minimalConfig(), stateDir: tempDir() };
    const { code, stderr } = await cli(["status", "-c", writeTemp("ok.json", JSON.stringify(config))]);
    expect(code).toBe(1);
    expect(stderr).toContain("wanctl run has not written a status yet");
  });

  test("use <link> pins and auto unpins, in the state directory; an unknown link is a usage error", async () => {
    const stateDir = tempDir();
    const file = writeTemp("ok.json", JSON.stringify({ ...minimalConfig(), stateDir }));
    expect((await cli(["use", "wan2", "-c", file])).code).toBe(0);
    expect(readPin(stateDir).pin).toMatchObject({ mode: "pinned", link: "wan2" });
    expect((await cli(["auto", "-c", file])).code).toBe(0);
    expect(readPin(stateDir).pin).toEqual({ mode: "auto" });
    const wrong = await cli(["use", "wan9", "-c", file]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('no link named "wan9" (configured: wan1, wan2)');
  });

  test("use <link> where wanctl follows a router (route.backend none) is a usage error that says who chooses; check-config says what it follows and probes", async () => {
    const file = writeTemp("follow.json", readFileSync(new URL("../../config.follow.example.json", import.meta.url), "utf8").replace("/var/lib/wanctl", tempDir()));
    const r = await cli(["use", "wan2", "-c", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('wanctl use: route.backend is "none": the router chooses the link and wanctl follows it; choose the link on the router');
    const check = await cli(["check-config", "-c", file]);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain("following a router that switches by itself (its egress seen by STUN every 500 ms, its way out probed with 2 targets)");
  });

  test.each(["run", "status", "test", "auto"])("%s with a broken config exits 2", async (name) => {
    const { code } = await cli([name, "-c", writeTemp("bad.json", "{")]);
    expect(code).toBe(2);
  });

  test("the built executable runs as `wanctl` with the same exit codes", async () => {
    const bin = new URL("../../dist/src/cli/main.js", import.meta.url).pathname;
    const run = promisify(execFile);
    const ok = await run(process.execPath, [bin, "check-config", "-c", example]);
    expect(ok.stdout).toContain("OK:");
    await expect(run(process.execPath, [bin, "check-config", "-c", writeTemp("bad.json", "[]")])).rejects.toMatchObject({ code: 2 });
  });
});
