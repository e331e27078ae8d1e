import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AMI_SECRET, AMI_USER, startSim, type SimHarness } from "../asterisk/sim/harness.js";
import { minimalConfig, writeTemp } from "../config/fixtures.js";
import { cli } from "./run-cli.js";

describe("wanctl asterisk check", () => {
  let harness: SimHarness;
  beforeAll(async () => {
    harness = await startSim();
  });
  afterAll(() => harness.close());

  const configWith = (secret: string, transports = ["transport-udp"]) =>
    writeTemp(
      "c.json",
      JSON.stringify({
        ...minimalConfig(),
        asterisk: { ami: { host: "127.0.0.1", port: harness.sim.amiPort, username: AMI_USER, secret }, pjsip: { transports } },
      }),
    );

  test("a PBX ready for wanctl: exit 0, the transport and the trunk listed", async () => {
    const { code, stdout } = await cli(["asterisk", "check", "-c", configWith(AMI_SECRET)]);
    expect(stdout).toContain("transport-udp");
    expect(stdout).toContain("itsp");
    expect(stdout).toMatch(/Asterisk is ready for wanctl\n$/);
    expect(code).toBe(0);
  });

  test("what is wrong is said plainly, with exit 1 and never the secret", async () => {
    const missing = await cli(["asterisk", "check", "-c", configWith(AMI_SECRET, ["transport-tls"])]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/problem: .*transport-tls.*not found/);
    const refused = await cli(["asterisk", "check", "-c", configWith("wrong-secret")]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/problem: .*login/i);
    expect(refused.stdout + refused.stderr).not.toContain("wrong-secret");
  });

  test("a config without Asterisk is a usage error", async () => {
    const { code, stderr } = await cli(["asterisk", "check", "-c", writeTemp("c.json", JSON.stringify(minimalConfig()))]);
    expect(code).toBe(2);
    expect(stderr).toContain('no "asterisk" section');
  });
});
