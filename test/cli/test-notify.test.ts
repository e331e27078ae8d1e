import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { minimalConfig, writeTemp } from "../config/fixtures.js";
import { tempDir } from "../temp-dirs.js";
import { cli } from "./run-cli.js";

describe("wanctl test --notify", () => {
  let server: Server;
  let port = 0;
  const received: unknown[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        received.push(JSON.parse(body));
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("reports each channel's outcome; one failing channel makes the exit code 1", async () => {
    const config = {
      ...minimalConfig(),
      stateDir: tempDir(),
      alerts: {
        webhook: { url: `http://127.0.0.1:${port}/hook`, token: "tok-secret" },
        slack: { webhookUrl: "http://127.0.0.1:9/services/T/B/secret-path" },
      },
    };
    const { code, stdout } = await cli(["test", "--notify", "-c", writeTemp("c.json", JSON.stringify(config))]);
    expect(stdout).toMatch(/^ok {3}webhook$/m);
    expect(stdout).toMatch(/^FAIL slack: /m);
    expect(stdout).not.toContain("secret-path");
    expect(code).toBe(1);
    expect(received).toHaveLength(1);
    expect(JSON.stringify(received[0])).toContain('"kind":"test"');
  });

  test("says so when no channel is configured", async () => {
    const { code, stderr } = await cli(["test", "--notify", "-c", writeTemp("c.json", JSON.stringify(minimalConfig()))]);
    expect(code).toBe(1);
    expect(stderr).toContain("no alert channel is configured");
  });
});
