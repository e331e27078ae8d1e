import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig, parseConfigText } from "../../src/config/load.js";
import { minimalConfig, writeTemp } from "./fixtures.js";
import { tempDir } from "../temp-dirs.js";
import { join } from "node:path";
import { writeFileSync } from "node:fs";

function problemsOf(text: string) {
  try {
    parseConfigText(text, "config.json");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected the config to be rejected");
}

describe("parseConfigText", () => {
  test("fills in the documented defaults", () => {
    const config = parseConfigText(JSON.stringify(minimalConfig()), "c.json");
    expect(config.monitor).toMatchObject({ intervalMs: 250, timeoutMs: 250, quorum: 1, downAfter: 3, upAfter: 5, windowRounds: 80 });
    expect(config.failover.holdDownSeconds).toBe(180);
    expect(config.route).toEqual({ backend: "linux", flushConntrack: true, tableBase: 4200 });
    expect(config.links[0]!.publicIp).toEqual({ method: "interface" });
    expect(config.stateDir).toBe("/var/lib/wanctl");
  });

  test("a typo, a wrong type, a missing field and an invalid IP each give path and line:column", () => {
    const text = [
      "{",
      '  "links": [',
      '    { "name": "wan1", "interface": "wan1", "gatway": "198.51.100.9", "priority": 1 },',
      '    { "name": "wan2", "interface": "wan2", "gateway": "100.64.0.300", "priority": "2" }',
      "  ],",
      '  "monitor": { "targets": [{ "type": "icmp", "host": "192.0.2.1" }] }',
      "}",
    ].join("\n");
    const problems = problemsOf(text);
    expect(problems).toEqual([
      { path: "links[0].gateway", line: 3, column: 5, message: expect.stringMatching(/^missing required field "gateway" \(expected an IPv4 address/) },
      { path: "links[0].gatway", line: 3, column: 44, message: 'unknown key "gatway" (did you mean "gateway"?)' },
      { path: "links[1].gateway", line: 4, column: 55, message: expect.stringMatching(/expected an IPv4 address.*got string "100\.64\.0\.300"/) },
      { path: "links[1].priority", line: 4, column: 83, message: 'expected a whole number, got string "2"' },
    ]);
  });

  test("syntax errors point at the broken spot", () => {
    expect(problemsOf('{\n  "links": [1,]\n}')).toEqual([{ path: "", line: 2, column: 15, message: "invalid JSON: value expected" }]);
    expect(problemsOf("")[0]!.message).toMatch(/empty|expected/);
  });

  test("a duplicated key is an error, not a silent override", () => {
    const text = '{\n "stateDir": "/a",\n "stateDir": "/b"\n}';
    expect(problemsOf(text)).toEqual([{ path: "stateDir", line: 3, column: 2, message: 'duplicate key "stateDir" (the earlier one would be ignored)' }]);
  });

  test("an unknown discriminator lists the allowed values", () => {
    const config = minimalConfig();
    (config.monitor as { targets: unknown[] }).targets = [{ type: "smoke-signal", host: "192.0.2.1" }];
    const [problem] = problemsOf(JSON.stringify(config, null, 2));
    expect(problem!.path).toBe("monitor.targets[0].type");
    expect(problem!.message).toBe('expected "type" to be one of "icmp", "tcp", "dns", "http", "sip", got string "smoke-signal"');
  });

  test("cross-field checks: unique names, known providers, a reachable quorum", () => {
    const config = minimalConfig() as Record<string, any>;
    config.links[1].name = "wan1";
    config.monitor.quorum = 2;
    config.dns = { records: [{ name: "office.example.com", provider: "nope" }] };
    const messages = problemsOf(JSON.stringify(config, null, 2)).map((p) => `${p.path}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        'links[1].name: link name "wan1" is already used by entry 0',
        'dns.records[0].provider: no provider with id "nope" (known: none is configured)',
        "monitor.quorum: quorum 2 is more than the 1 probe target(s): no round could ever pass",
      ]),
    );
  });

  test("a bad cron schedule and a bad secret form are explained", () => {
    const config = minimalConfig() as Record<string, any>;
    config.drills = { schedule: "every monday" };
    config.asterisk = { ami: { host: "192.168.50.10", username: "wanctl", secret: 42 }, pjsip: { transports: ["t"] } };
    const messages = problemsOf(JSON.stringify(config, null, 2)).map((p) => `${p.path}: ${p.message}`);
    expect(messages).toContain('drills.schedule: expected a cron schedule such as "0 3 * * 1" (Mondays 03:00)');
    expect(messages).toContain('asterisk.ami.secret: expected the secret as a string, {"file": "/path"} or {"credential": "name"}, got number 42');
  });

  test("error messages never echo a secret's value", () => {
    const config = minimalConfig() as Record<string, any>;
    config.asterisk = { ami: { host: "192.168.50.10", username: "wanctl", secret: "hunter2", bogus: 1 }, pjsip: { transports: ["t"] } };
    const text = JSON.stringify(config, null, 2);
    expect(problemsOf(text).map((p) => p.message).join("\n")).not.toContain("hunter2");
  });
});

describe("loadConfig", () => {
  test("reads secrets from files and systemd credentials, and names the path of one it cannot read", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "ami"), "s3cret\n");
    const config = minimalConfig() as Record<string, any>;
    config.asterisk = { ami: { host: "192.168.50.10", username: "wanctl", secret: { credential: "ami" } }, pjsip: { transports: ["t"] } };
    const file = writeTemp("c.json", JSON.stringify(config));
    expect(loadConfig(file, { CREDENTIALS_DIRECTORY: dir }).config.asterisk?.ami.secret).toEqual({ credential: "ami" });
    expect(() => loadConfig(file, {})).toThrow(/asterisk\.ami\.secret: credential "ami" needs \$CREDENTIALS_DIRECTORY/);

    config.asterisk.ami.secret = { file: join(dir, "missing") };
    const broken = writeTemp("c.json", JSON.stringify(config));
    expect(() => loadConfig(broken, {})).toThrow(/asterisk\.ami\.secret: cannot read the secret file .*missing \(ENOENT\)/);
    // Where in the file: the line and column of the secret's value.
    const pretty = writeTemp("c.json", JSON.stringify(config, null, 2));
    expect(() => loadConfig(pretty, {})).toThrow(new RegExp(`${pretty}:\\d+:\\d+: asterisk\\.ami\\.secret: cannot read`));
  });

  test("warns when a file others can read holds inline secrets, and only then", () => {
    const config = minimalConfig() as Record<string, any>;
    config.alerts = { slack: { webhookUrl: "https://hooks.slack.example/T/B/X" } };
    const open = writeTemp("c.json", JSON.stringify(config), 0o644);
    const [warning] = loadConfig(open, {}).warnings;
    expect(warning).toMatch(/readable by every user and holds secrets inline \(alerts\.slack\.webhookUrl\)/);
    expect(warning).not.toContain("hooks.slack.example");
    expect(loadConfig(writeTemp("c.json", JSON.stringify(config), 0o600), {}).warnings).toEqual([]);
    expect(loadConfig(writeTemp("c.json", JSON.stringify(minimalConfig()), 0o644), {}).warnings).toEqual([]);
  });

  test("warns when call-aware failback is asked for without an Asterisk to count calls on", () => {
    const config = { ...minimalConfig(), failover: { waitForIdleCalls: true } };
    expect(loadConfig(writeTemp("c.json", JSON.stringify(config)), {}).warnings).toEqual([expect.stringMatching(/^failover\.waitForIdleCalls is on but there is no "asterisk" section/)]);
  });

  test("a missing file is a config error naming the file", () => {
    expect(() => loadConfig("/nonexistent/wanctl.json", {})).toThrow("/nonexistent/wanctl.json: cannot read the config file (no such file)");
  });
});

describe("input that is not a config", () => {
  test("400 KB of nested brackets: a clear error at the depth where it stops being a config, not a stack overflow", () => {
    const problems = problemsOf("[".repeat(400_000));
    expect(problems).toEqual([{ path: "", line: 1, column: 33, message: "nested more than 32 levels deep: this is not a wanctl config" }]);
  });

  test("brackets inside strings do not count", () => {
    const config = { ...minimalConfig(), $schema: "[".repeat(100) + "{\\\"" };
    expect(() => parseConfigText(JSON.stringify(config), "c.json")).not.toThrow();
  });

  test("a 50 MB file is refused by its size before it is read", () => {
    const dir = tempDir();
    const file = join(dir, "huge.json");
    writeFileSync(file, `[${"1,".repeat(25_000_000)}1]`);
    const started = process.memoryUsage().rss;
    let error: unknown;
    try {
      loadConfig(file, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(`${file}: the file is 50000003 bytes, more than the 1048576 a config can be: is it the right file?`);
    expect(process.memoryUsage().rss - started).toBeLessThan(100 * 1024 * 1024);
  });
});
