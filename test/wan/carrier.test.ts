import { describe, expect, it } from "vitest";
import { parseLinkLine } from "../../src/wan/carrier.js";

describe("ip -o monitor link lines", () => {
  it.each([
    ["5: wan1@if4: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN mode DEFAULT group default qlen 1000\\    link/ether 4e:...", { iface: "wan1", up: false }],
    ["5: wan1@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 4e:...", { iface: "wan1", up: true }],
    ["3: ppp0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1492 qdisc fq_codel state UNKNOWN mode DEFAULT group default qlen 3", { iface: "ppp0", up: true }],
    ["Deleted 7: wwan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noop state DOWN", { iface: "wwan0", up: false }],
    ["4: eth1.100@eth1: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT", { iface: "eth1.100", up: false }],
  ])("%s", (line, expected) => {
    expect(parseLinkLine(line)).toEqual(expected);
  });

  it("anything else is not a link line", () => {
    expect(parseLinkLine("    link/ether 4e:2a:11:00:00:01 brd ff:ff:ff:ff:ff:ff")).toBeNull();
    expect(parseLinkLine("")).toBeNull();
  });
});
