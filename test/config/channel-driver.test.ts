// asterisk.channelDriver: "auto" by default, one driver or both, and the old single-driver configs
// unchanged; every bad combination named with its path.
import { describe, expect, test } from "vitest";
import { ConfigError, parseConfigText } from "../../src/config/load.js";
import { configuredDrivers } from "../../src/config/schema/asterisk.js";
import { minimalConfig } from "./fixtures.js";

const AMI = { host: "192.168.50.10", username: "wanctl", secret: "s" };

function withAsterisk(asterisk: Record<string, unknown>): string {
  return JSON.stringify({ ...minimalConfig(), asterisk: { ami: AMI, ...asterisk } }, null, 2);
}

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, "config.json");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  throw new Error("expected the config to be rejected");
}

describe("asterisk.channelDriver", () => {
  test('"auto" by default: the drivers are found at run time, with or without a pjsip section', () => {
    const bare = parseConfigText(withAsterisk({}), "c.json").asterisk!;
    expect(bare.channelDriver).toBe("auto");
    expect(configuredDrivers(bare)).toBe("auto");
    const both = parseConfigText(withAsterisk({ pjsip: { transports: ["transport-udp"] }, chanSip: {} }), "c.json").asterisk!;
    expect(configuredDrivers(both)).toBe("auto");
  });

  test("old configs keep working: one driver, with its section", () => {
    const pjsip = parseConfigText(withAsterisk({ channelDriver: "pjsip", pjsip: { transports: ["t"] } }), "c.json").asterisk!;
    expect(configuredDrivers(pjsip)).toEqual(["pjsip"]);
    expect(pjsip.pjsip).toEqual({ configFile: "pjsip.conf", transports: ["t"], registrations: "auto" });
    const chanSip = parseConfigText(withAsterisk({ channelDriver: "chan_sip", chanSip: { configFile: "sip_custom.conf" } }), "c.json").asterisk!;
    expect(configuredDrivers(chanSip)).toEqual(["chan_sip"]);
    expect(chanSip.chanSip).toEqual({ configFile: "sip_custom.conf" });
  });

  test("both drivers, named", () => {
    const both = parseConfigText(withAsterisk({ channelDriver: ["pjsip", "chan_sip"], pjsip: { transports: ["t"] } }), "c.json").asterisk!;
    expect(configuredDrivers(both)).toEqual(["pjsip", "chan_sip"]);
  });

  test("bad combinations, each named", () => {
    expect(problemsOf(withAsterisk({ channelDriver: "pjsip" }))).toEqual(['asterisk: channelDriver "pjsip" needs a "pjsip" section naming the transports']);
    expect(problemsOf(withAsterisk({ channelDriver: ["chan_sip", "pjsip"] }))).toEqual(['asterisk: channelDriver names pjsip, so it needs a "pjsip" section naming the transports']);
    expect(problemsOf(withAsterisk({ channelDriver: ["pjsip", "pjsip"], pjsip: { transports: ["t"] } }))).toEqual(["asterisk.channelDriver: names a driver twice"]);
    expect(problemsOf(withAsterisk({ channelDriver: [] }))).toEqual(['asterisk.channelDriver: expected at least one driver (or "auto" alone for every driver Asterisk has loaded), got 0 item(s)']);
    expect(problemsOf(withAsterisk({ channelDriver: ["auto", "chan_sip"] }))).toEqual(['asterisk.channelDriver: expected "auto", "pjsip", "chan_sip", or a list of "pjsip" and "chan_sip" such as ["pjsip", "chan_sip"], got an array']);
    expect(problemsOf(withAsterisk({ channelDriver: "sip" }))).toEqual(['asterisk.channelDriver: expected "auto", "pjsip", "chan_sip", or a list of "pjsip" and "chan_sip" such as ["pjsip", "chan_sip"], got string "sip"']);
  });
});
