// What this host lacks for a config: binaries on the PATH, interfaces, gateways on their subnet.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import type { CommandRunner } from "../../src/system/command.js";
import { hostProblems } from "../../src/system/host-checks.js";
import { minimalConfig } from "../config/fixtures.js";
import { tempDir } from "../temp-dirs.js";

/** A PATH holding only the named (empty, executable) binaries. */
function pathWith(...binaries: string[]): string {
  const dir = join(tempDir(), "bin");
  mkdirSync(dir, { recursive: true });
  for (const b of binaries) {
    writeFileSync(join(dir, b), "#!/bin/sh\n");
    chmodSync(join(dir, b), 0o755);
  }
  return dir;
}

/** `ip -j -4 addr show dev X` answered from a table, as iproute2 prints it. */
function ipAnswering(interfaces: Record<string, { local: string; prefixlen: number; address?: string }[]>): CommandRunner {
  return async (argv) => {
    const dev = argv[argv.length - 1]!;
    const addrs = interfaces[dev];
    if (!addrs) throw new Error(`Device "${dev}" does not exist.`);
    return { stdout: JSON.stringify([{ ifname: dev, addr_info: addrs.map((a) => ({ family: "inet", ...a })) }]), stderr: "" };
  };
}

const config = () => parseConfigText(JSON.stringify(minimalConfig()), "c.json");

describe("host checks", () => {
  test("a host with everything: no problem", async () => {
    const c = config();
    const run = ipAnswering({ [c.links[0]!.interface]: [{ local: "198.51.100.10", prefixlen: 30 }], [c.links[1]!.interface]: [{ local: "100.64.0.2", prefixlen: 30 }] });
    expect(await hostProblems(c, { run, path: pathWith("ip", "conntrack", "ping", "flock") })).toEqual([]);
  });

  test("missing binaries are named with the step that will fail and the package", async () => {
    const c = config();
    const run = ipAnswering({ [c.links[0]!.interface]: [{ local: "198.51.100.10", prefixlen: 30 }], [c.links[1]!.interface]: [{ local: "100.64.0.2", prefixlen: 30 }] });
    const problems = await hostProblems(c, { run, path: pathWith("ip", "flock") });
    expect(problems).toEqual([
      expect.stringMatching(/^conntrack not found: the conntrack step of every switch .* will fail \(apt-get install conntrack\)$/),
      "ping not found: the ICMP probes (those targets never answer) will fail (apt-get install iputils-ping)",
    ]);
  });

  test("with perl, conntrack is not needed: the conntrack step speaks netlink through it", async () => {
    const c = config();
    const run = ipAnswering({ [c.links[0]!.interface]: [{ local: "198.51.100.10", prefixlen: 30 }], [c.links[1]!.interface]: [{ local: "100.64.0.2", prefixlen: 30 }] });
    expect(await hostProblems(c, { run, path: pathWith("ip", "perl", "ping", "flock") })).toEqual([]);
  });

  test("an interface that does not exist, and a gateway outside its interface's subnet, each at its config path", async () => {
    const c = config();
    const run = ipAnswering({ [c.links[0]!.interface]: [{ local: "192.0.2.77", prefixlen: 24 }] });
    const problems = await hostProblems(c, { run, path: pathWith("ip", "conntrack", "ping", "flock") });
    expect(problems).toEqual([
      `links[0].gateway: ${c.links[0]!.gateway} is not on ${c.links[0]!.interface}'s subnet (192.0.2.77/24): the default route via it would be refused`,
      `links[1].interface: no interface ${c.links[1]!.interface} on this host (link ${c.links[1]!.name} cannot be probed or used until it exists)`,
    ]);
  });

  test("route.backend none: nothing of this host's links is checked; with monitor.targets, ip (and ping for ICMP) are needed", async () => {
    const follow = (monitor?: object) =>
      parseConfigText(
        JSON.stringify({
          links: [
            { name: "wan1", interface: "ether1", gateway: "198.51.100.9", priority: 1, publicIp: { method: "static", address: "198.51.100.10" } },
            { name: "wan2", interface: "lte1", gateway: "100.64.0.1", priority: 2, publicIp: { method: "static", address: "203.0.113.10" } },
          ],
          route: { backend: "none", egress: { method: "stun", servers: [{ host: "192.0.2.80" }] } },
          ...(monitor ? { monitor } : {}),
        }),
        "c.json",
      );
    const run = ipAnswering({});
    expect(await hostProblems(follow(), { run, path: pathWith() })).toEqual([]);
    expect(await hostProblems(follow({ targets: [{ type: "icmp", host: "192.0.2.1" }] }), { run, path: pathWith() })).toEqual([
      "ip not found: the gateway's probes (the way to monitor.targets through the router) will fail (apt-get install iproute2)",
      "ping not found: the ICMP probes (those targets never answer) will fail (apt-get install iputils-ping)",
    ]);
    expect(await hostProblems(follow({ targets: [{ type: "tcp", host: "192.0.2.1", port: 443 }] }), { run, path: pathWith("ip") })).toEqual([]);
  });

  test("a point-to-point link whose gateway is the peer is fine", async () => {
    const c = config();
    const run = ipAnswering({
      [c.links[0]!.interface]: [{ local: "10.64.64.64", prefixlen: 32, address: c.links[0]!.gateway }],
      [c.links[1]!.interface]: [{ local: "100.64.0.2", prefixlen: 30 }],
    });
    expect(await hostProblems(c, { run, path: pathWith("ip", "conntrack", "ping", "flock") })).toEqual([]);
  });
});
