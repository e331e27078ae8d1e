// The conntrack filters and counts of the Linux route backend. What they delete on a real table
// (and what they leave) is shown in the lab: test/wan/conntrack-flush.lab.test.ts.
import { describe, expect, test } from "vitest";
import { CommandError, type CommandRunner } from "../../src/system/command.js";
import { LinuxRouteBackend } from "../../src/wan/route/linux.js";
import { deletedCount, staleFlowFilters } from "../../src/wan/route/conntrack.js";

describe("conntrack filters", () => {
  test("for a link left at an address: the source NAT toward it and the port forwards through it, UDP only", () => {
    expect(staleFlowFilters("198.51.100.10")).toEqual([
      ["-p", "udp", "--src-nat", "198.51.100.10"],
      ["-p", "udp", "--dst", "198.51.100.10", "--dst-nat"],
    ]);
  });

  test("reads conntrack's count of deleted entries", () => {
    expect(deletedCount("conntrack v1.4.7 (conntrack-tools): 23 flow entries have been deleted.\n")).toBe(23);
    expect(deletedCount("conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.")).toBe(0);
    expect(deletedCount("conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.")).toBeNull();
  });
});

describe("LinuxRouteBackend.flushStaleFlows", () => {
  const links = [
    { name: "wan1", interface: "wan1", gateway: "198.51.100.9" },
    { name: "wan2", interface: "wan2", gateway: "100.64.0.1" },
  ];
  const addressOf: Record<string, string> = { wan1: "198.51.100.10", wan2: "100.64.0.2" };

  function backend(deleted: (filter: readonly string[]) => number | Error) {
    const calls: string[][] = [];
    const run: CommandRunner = async (argv) => {
      calls.push([...argv]);
      if (argv[0] === "ip") return { stdout: JSON.stringify([{ addr_info: [{ family: "inet", local: addressOf[argv.at(-1)!], scope: "global" }] }]), stderr: "" };
      const result = deleted(argv.slice(2));
      if (result instanceof Error) throw result;
      const stderr = `conntrack v1.4.7 (conntrack-tools): ${result} flow entries have been deleted.\n`;
      if (result === 0) throw new CommandError("`conntrack -D ...` failed", argv, stderr, 1);
      return { stdout: "", stderr };
    };
    return { calls, route: new LinuxRouteBackend({ links, run }) };
  }

  test("one conntrack -D per filter for the address of every link left, and the sum of what they deleted", async () => {
    const { calls, route } = backend((filter) => (filter.includes("--src-nat") ? 3 : 0));
    expect(await route.flushStaleFlows("wan2")).toBe(3);
    expect(calls.filter((c) => c[0] === "conntrack")).toEqual([
      ["conntrack", "-D", "-p", "udp", "--src-nat", "198.51.100.10"],
      ["conntrack", "-D", "-p", "udp", "--dst", "198.51.100.10", "--dst-nat"],
    ]);
  });

  test("a conntrack that fails otherwise fails the step with its message", async () => {
    const { route } = backend(() => new CommandError("`conntrack -D -p udp` failed: Operation not permitted", ["conntrack"], "Operation not permitted", 2));
    await expect(route.flushStaleFlows("wan2")).rejects.toThrow("Operation not permitted");
  });
});
