import { Writable } from "node:stream";
import { describe, expect, test } from "vitest";
import { createLogger } from "../src/log.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, stream: stream as unknown as NodeJS.WritableStream & { write(msg: string): void } };
}

describe("logger", () => {
  test("writes JSON lines and censors secrets at any depth, by path", () => {
    const { lines, stream } = capture();
    const log = createLogger({ pretty: false, destination: stream });
    log.info(
      {
        config: {
          asterisk: { ami: { username: "wanctl", secret: "ami-pass" } },
          dns: { providers: [{ tsig: { name: "k", secret: "tsig-key" } }, { token: "cf-token" }] },
          alerts: { slack: { webhookUrl: "https://hooks.example/T/B/X" } },
        },
        password: "top",
      },
      "loaded",
    );
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry.msg).toBe("loaded");
    expect(entry.config.asterisk.ami).toEqual({ username: "wanctl", secret: "[redacted]" });
    expect(entry.config.dns.providers[0].tsig.secret).toBe("[redacted]");
    expect(lines[0]).not.toMatch(/ami-pass|tsig-key|cf-token|hooks\.example|"top"/);
  });

  test("the readable form for a terminal censors secrets too", () => {
    const { lines, stream } = capture();
    const log = createLogger({ pretty: true, destination: stream });
    log.warn({ ami: { secret: "ami-pass" } }, "AMI login failed");
    const text = lines.join("\n");
    expect(text).toContain("AMI login failed");
    expect(text).not.toContain("ami-pass");
    expect(() => JSON.parse(lines[0]!)).toThrow();
  });

  test("respects the level", () => {
    const { lines, stream } = capture();
    const log = createLogger({ pretty: false, destination: stream, level: "warn" });
    log.info("hidden");
    log.warn("shown");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["shown"]);
  });
});
