// The conntrack flush of the Linux route backend: the netlink program's command and count, the
// conntrack -D filters without perl. What they delete on a real table (and what they leave) is shown
// in the lab: test/wan/conntrack-flush.lab.test.ts.
import { execFileSync } from "node:child_process";
import { describe, expect, test } from "vitest";
import { CommandError, type CommandRunner } from "../../src/system/command.js";
import { LinuxRouteBackend } from "../../src/wan/route/linux.js";
import { deletedCount, flushedCount, staleFlowFilters, staleFlowFlushCommand } from "../../src/wan/route/conntrack.js";

describe("the netlink flush program", () => {
  test("one perl run for the interfaces of all the links left", () => {
    const argv = staleFlowFlushCommand(["wan1", "wwan0"]);
    expect(argv.slice(0, 2)).toEqual(["perl", "-e"]);
    expect(argv.slice(3)).toEqual(["--", "wan1", "wwan0"]);
  });

  test("Perl compiles it", () => {
    const [, , program] = staleFlowFlushCommand([]);
    expect(execFileSync("perl", ["-c", "-e", program!], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })).toBe("");
  });

  test("what cannot be an interface name is refused, named", () => {
    expect(() => staleFlowFlushCommand(["wan1", "eth 0"])).toThrow('conntrack flush: "eth 0" is not an interface name');
    expect(() => staleFlowFlushCommand(["a-name-of-16-chr"])).toThrow("is not an interface name");
    expect(() => staleFlowFlushCommand([".."])).toThrow("is not an interface name");
    expect(() => staleFlowFlushCommand(["ppp0", "enp1s0.100", "wwan0"])).not.toThrow();
  });

  test("reads the count it prints", () => {
    expect(flushedCount("200\n")).toBe(200);
    expect(flushedCount("0\n")).toBe(0);
    expect(flushedCount("")).toBeNull();
  });
});

describe("conntrack filters (no perl)", () => {
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
    { name: "lte", interface: "wwan0", gateway: "10.64.0.1" },
  ];
  const addressOf: Record<string, string | undefined> = { wan1: "198.51.100.10", wan2: "100.64.0.2" }; // lte: no address

  /** `perl` answers with `flush` (a count, or an error); `conntrack -D` with `deleted`. */
  function backend(flush: () => number | Error, deleted: (filter: readonly string[]) => number | Error = () => 0) {
    const calls: string[][] = [];
    const run: CommandRunner = async (argv) => {
      calls.push([...argv]);
      if (argv[0] === "ip") {
        const local = addressOf[argv.at(-1)!];
        return { stdout: JSON.stringify(local ? [{ addr_info: [{ family: "inet", local, scope: "global" }] }] : []), stderr: "" };
      }
      if (argv[0] === "perl") {
        const result = flush();
        if (result instanceof Error) throw result;
        return { stdout: `${result}\n`, stderr: "" };
      }
      const result = deleted(argv.slice(2));
      if (result instanceof Error) throw result;
      const stderr = `conntrack v1.4.7 (conntrack-tools): ${result} flow entries have been deleted.\n`;
      if (result === 0) throw new CommandError("`conntrack -D ...` failed", argv, stderr, 1);
      return { stdout: "", stderr };
    };
    return { calls, route: new LinuxRouteBackend({ links, run }) };
  }
  const perlNotFound = () => new CommandError("perl not found", ["perl"], "", null, true);

  test("one run of the netlink program for the interfaces of the links left (it finds their addresses), and its count", async () => {
    const { calls, route } = backend(() => 7);
    expect(await route.flushStaleFlows("wan2")).toBe(7);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.slice(3)).toEqual(["--", "wan1", "wwan0"]);
  });

  test("a failing program fails the step with its own words, and nothing else is tried", async () => {
    const { calls, route } = backend(() => new CommandError("`perl -e ...` failed", ["perl"], "netlink socket: Operation not permitted\n", 1));
    await expect(route.flushStaleFlows("wan2")).rejects.toThrow("the conntrack flush (perl, netlink) failed: netlink socket: Operation not permitted");
    expect(calls.some((c) => c[0] === "conntrack")).toBe(false);
  });

  test("without perl: one conntrack -D per filter for the address of every link left (one without an address has no flows), and the sum of what they deleted", async () => {
    const { calls, route } = backend(perlNotFound, (filter) => (filter.includes("--src-nat") ? 3 : 0));
    expect(await route.flushStaleFlows("wan2")).toBe(3);
    expect(calls.filter((c) => c[0] === "conntrack")).toEqual([
      ["conntrack", "-D", "-p", "udp", "--src-nat", "198.51.100.10"],
      ["conntrack", "-D", "-p", "udp", "--dst", "198.51.100.10", "--dst-nat"],
    ]);
  });

  test("without perl, a conntrack that fails otherwise fails the step with its message", async () => {
    const { route } = backend(perlNotFound, () => new CommandError("`conntrack -D -p udp` failed: Operation not permitted", ["conntrack"], "Operation not permitted", 2));
    await expect(route.flushStaleFlows("wan2")).rejects.toThrow("Operation not permitted");
  });
});
