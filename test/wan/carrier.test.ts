import { describe, expect, it } from "vitest";
import { parseAddressLine, parseLinkLine } from "../../src/wan/carrier.js";

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

describe("ip -o monitor address lines", () => {
  it.each([
    ["3: wan1    inet 198.51.100.10/24 scope global wan1\\       valid_lft forever preferred_lft forever", "wan1"],
    ["3: d0    inet 10.9.9.2/24 scope global secondary d0\\       valid_lft forever preferred_lft forever", "d0"],
    ["Deleted 3: wan1    inet 198.51.100.10/24 scope global wan1\\       valid_lft forever preferred_lft forever", "wan1"],
    ["7: ppp0    inet 100.64.3.4 peer 100.64.0.1/32 scope global ppp0\\       valid_lft forever preferred_lft forever", "ppp0"],
  ])("%s", (line, iface) => {
    expect(parseAddressLine(line)).toBe(iface);
  });

  it("IPv6 addresses and link lines are not IPv4 address news", () => {
    expect(parseAddressLine("3: d0    inet6 fe80::d4e8:4aff:fe56:ec/64 scope link \\       valid_lft forever preferred_lft forever")).toBeNull();
    expect(parseAddressLine("5: wan1@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP")).toBeNull();
    expect(parseLinkLine("3: wan1    inet 198.51.100.10/24 scope global wan1")).toBeNull();
  });
});
