// The conntrack flush of the Linux route backend: the netlink program's requests and answers, the
// helper process that runs it (with a fake spawn: one request at a time, a time limit, a fresh
// helper after a failure, conntrack -D without perl), the conntrack -D filters. What they delete
// on a real table (and what they leave) is shown in the lab: test/wan/conntrack-flush.lab.test.ts.
import { execFileSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, test, vi } from "vitest";
import { CommandError, commandSpawner, type CommandRunner, type ServingProcess, type Spawner } from "../../src/system/command.js";
import { LinuxRouteBackend } from "../../src/wan/route/linux.js";
import { deletedCount, FLUSH_HELPER, flushAnswer, flushRequest, staleFlowFilters } from "../../src/wan/route/conntrack.js";

describe("the netlink flush program", () => {
  test("Perl compiles it", () => {
    expect(FLUSH_HELPER.slice(0, 2)).toEqual(["perl", "-e"]);
    expect(execFileSync("perl", ["-c", "-e", FLUSH_HELPER[2]!], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })).toBe("");
  });

  test("a request is the interfaces' names on one line; what cannot be an interface name is refused, named", () => {
    expect(flushRequest(["wan1", "wwan0"])).toBe("wan1 wwan0\n");
    expect(() => flushRequest(["wan1", "eth 0"])).toThrow('conntrack flush: "eth 0" is not an interface name');
    expect(() => flushRequest(["a-name-of-16-chr"])).toThrow("is not an interface name");
    expect(() => flushRequest([".."])).toThrow("is not an interface name");
    expect(() => flushRequest(["ppp0", "enp1s0.100", "wwan0"])).not.toThrow();
  });

  test("an answer is the count, or an error in its words", () => {
    expect(flushAnswer("200")).toBe(200);
    expect(flushAnswer("0")).toBe(0);
    expect(() => flushAnswer("error: conntrack dump: Operation not permitted")).toThrow(/^conntrack dump: Operation not permitted$/);
    expect(() => flushAnswer("")).toThrow('an answer that is no count: ""');
  });

  test("the real helper, started once, answers each request line (interfaces that do not exist: 0) and ends with its input", async () => {
    const links = [
      { name: "a", interface: "wl-absent0", gateway: "192.0.2.1" },
      { name: "b", interface: "wl-absent1", gateway: "192.0.2.2" },
      { name: "c", interface: "wl-absent2", gateway: "192.0.2.3" },
    ];
    const spawned: ServingProcess[] = [];
    const spawn: Spawner = (argv) => (spawned.push(commandSpawner()(argv)), spawned.at(-1)!);
    const route = new LinuxRouteBackend({ links, run: () => Promise.reject(new Error("no command expected")), spawn });
    route.startFlushHelper();
    expect(await route.flushStaleFlows("a")).toBe(0);
    expect(await route.flushStaleFlows("b")).toBe(0);
    expect(spawned).toHaveLength(1);
    const ended = new Promise((resolve) => spawned[0]!.on("close", (code, signal) => resolve(signal ?? code)));
    spawned[0]!.stdin.end();
    expect(await ended).toBe(0);
    await route.close();
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

/**
 * A helper process as the backend sees it: `behave` gets each request line and answers it (or
 * not). It ends at the end of its input, or when killed (SIGTERM unless it ignores it).
 */
class FakeHelper extends EventEmitter {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly requests: string[] = [];
  readonly signals: string[] = [];
  ignoresTerm = false;
  private exited = false;

  constructor(behave: (request: string, helper: FakeHelper) => void) {
    super();
    createInterface({ input: this.stdin }).on("line", (line) => {
      this.requests.push(line);
      behave(line, this);
    });
    this.stdin.on("finish", () => this.exit(0));
  }

  say(line: string): void {
    this.stdout.write(`${line}\n`);
  }

  exit(code: number | null, signal: string | null = null): void {
    if (this.exited) return;
    this.exited = true;
    this.stdout.end();
    this.stderr.end();
    setImmediate(() => this.emit("close", code, signal));
  }

  kill(signal = "SIGTERM"): boolean {
    this.signals.push(signal);
    if (signal !== "SIGTERM" || !this.ignoresTerm) this.exit(null, signal);
    return true;
  }
}

/** A spawn that starts fake helpers, `behave(request, helper, i)` for the i-th; ENOENT when `behave` is "no perl". */
function fakeSpawn(behave: ((request: string, helper: FakeHelper, i: number) => void) | "no perl") {
  const spawned: FakeHelper[] = [];
  const argvs: (readonly string[])[] = [];
  const spawn: Spawner = (argv) => {
    argvs.push(argv);
    const i = spawned.length;
    const helper = new FakeHelper((request, h) => (behave === "no perl" ? undefined : behave(request, h, i)));
    spawned.push(helper);
    if (behave === "no perl") {
      // What node does when the binary is missing: "error", then "close" with the negative errno.
      setImmediate(() => {
        helper.emit("error", Object.assign(new Error("spawn perl ENOENT"), { code: "ENOENT" }));
        helper.exit(-2);
      });
    }
    return helper as unknown as ServingProcess;
  };
  return { spawn, spawned, argvs };
}

describe("LinuxRouteBackend.flushStaleFlows", () => {
  const links = [
    { name: "wan1", interface: "wan1", gateway: "198.51.100.9" },
    { name: "wan2", interface: "wan2", gateway: "100.64.0.1" },
    { name: "lte", interface: "wwan0", gateway: "10.64.0.1" },
  ];
  const addressOf: Record<string, string | undefined> = { wan1: "198.51.100.10", wan2: "100.64.0.2" }; // lte: no address
  afterEach(() => void vi.useRealTimers());

  /** The helper behaves as `behave` says; `conntrack -D` answers with `deleted`. */
  function backend(behave: Parameters<typeof fakeSpawn>[0], deleted: (filter: readonly string[]) => number | Error = () => 0, flushTimeoutMs?: number) {
    const calls: string[][] = [];
    const run: CommandRunner = async (argv) => {
      calls.push([...argv]);
      if (argv[0] === "ip") {
        const local = addressOf[argv.at(-1)!];
        return { stdout: JSON.stringify(local ? [{ addr_info: [{ family: "inet", local, scope: "global" }] }] : []), stderr: "" };
      }
      const result = deleted(argv.slice(2));
      if (result instanceof Error) throw result;
      const stderr = `conntrack v1.4.7 (conntrack-tools): ${result} flow entries have been deleted.\n`;
      if (result === 0) throw new CommandError("`conntrack -D ...` failed", argv, stderr, 1);
      return { stdout: "", stderr };
    };
    const fake = fakeSpawn(behave);
    return { calls, ...fake, route: new LinuxRouteBackend({ links, run, spawn: fake.spawn, ...(flushTimeoutMs ? { flushTimeoutMs } : {}) }) };
  }

  test("one helper for all the flushes: a request with the interfaces of the links left (it finds their addresses), and its count", async () => {
    let n = 6;
    const { calls, spawned, argvs, route } = backend((_request, helper) => helper.say(String(++n)));
    expect(await route.flushStaleFlows("wan2")).toBe(7);
    expect(await route.flushStaleFlows("wan1")).toBe(8);
    expect(argvs).toEqual([FLUSH_HELPER]);
    expect(spawned[0]!.requests).toEqual(["wan1 wwan0", "wan2 wwan0"]);
    expect(calls).toEqual([]);
    await route.close();
  });

  test("started before the first switch, it serves that switch; close ends its input and stops it", async () => {
    const { spawned, route } = backend((_request, helper) => helper.say("3"));
    route.startFlushHelper();
    expect(spawned).toHaveLength(1);
    expect(await route.flushStaleFlows("wan2")).toBe(3);
    expect(spawned).toHaveLength(1);
    await route.close();
    expect(spawned[0]!.stdin.writableEnded).toBe(true);
    expect(spawned[0]!.signals).toEqual(["SIGTERM"]);
  });

  test("one request at a time: the next is sent once the helper has answered the one before", async () => {
    const waiting: FakeHelper[] = [];
    const { spawned, route } = backend((_request, helper) => void waiting.push(helper));
    const first = route.flushStaleFlows("wan2");
    const second = route.flushStaleFlows("wan1");
    await new Promise((r) => setImmediate(r));
    expect(spawned[0]!.requests).toEqual(["wan1 wwan0"]);
    waiting.shift()!.say("4");
    expect(await first).toBe(4);
    await new Promise((r) => setImmediate(r));
    expect(spawned[0]!.requests).toEqual(["wan1 wwan0", "wan2 wwan0"]);
    waiting.shift()!.say("5");
    expect(await second).toBe(5);
    await route.close();
  });

  test("an error it answers fails that flush with its words (nothing else is tried); the next flush has a fresh helper", async () => {
    const { calls, spawned, route } = backend((_request, helper, i) => {
      if (i > 0) return helper.say("2");
      helper.say("error: conntrack dump: Operation not permitted");
      helper.exit(1);
    });
    await expect(route.flushStaleFlows("wan2")).rejects.toThrow(/^the conntrack flush \(perl, netlink\) failed: conntrack dump: Operation not permitted$/);
    expect(calls).toEqual([]);
    expect(await route.flushStaleFlows("wan2")).toBe(2);
    expect(spawned).toHaveLength(2);
    await route.close();
  });

  test("a helper that dies on a request fails that flush with how it ended and its last words; the next flush has a fresh helper", async () => {
    const { spawned, route } = backend((_request, helper, i) => {
      if (i > 0) return helper.say("1");
      helper.stderr.write("Out of memory!\n");
      helper.exit(1);
    });
    await expect(route.flushStaleFlows("wan2")).rejects.toThrow("the conntrack flush (perl, netlink) failed: the helper ended (exit code 1): Out of memory!");
    expect(await route.flushStaleFlows("wan2")).toBe(1);
    expect(spawned).toHaveLength(2);
    await route.close();
  });

  test("a helper that died between two switches is replaced at the next flush", async () => {
    const { spawned, route } = backend((_request, helper) => helper.say("1"));
    expect(await route.flushStaleFlows("wan2")).toBe(1);
    spawned[0]!.exit(null, "SIGKILL"); // the OOM killer
    await new Promise((r) => setImmediate(r));
    expect(await route.flushStaleFlows("wan2")).toBe(1);
    expect(spawned).toHaveLength(2);
    expect(spawned[1]!.requests).toEqual(["wan1 wwan0"]);
    await route.close();
  });

  test("no answer within the time limit: the helper is killed, the flush fails, the next one has a fresh helper", async () => {
    const { spawned, route } = backend((_request, helper, i) => void (i > 0 && helper.say("9")), undefined, 30);
    await expect(route.flushStaleFlows("wan2")).rejects.toThrow("the conntrack flush (perl, netlink) failed: no answer within 30 ms (the helper was killed)");
    expect(spawned[0]!.signals[0]).toBe("SIGKILL");
    expect(await route.flushStaleFlows("wan2")).toBe(9);
    expect(spawned).toHaveLength(2);
    await route.close();
  });

  test("close: a helper that stays after the end of its input and SIGTERM is killed 1 s later", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { spawned, route } = backend(() => undefined);
    route.startFlushHelper();
    const helper = spawned[0]!;
    helper.ignoresTerm = true;
    helper.stdin.removeAllListeners("finish"); // and it does not end with its input
    let closed = false;
    const closing = route.close().then(() => void (closed = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(closed).toBe(false);
    expect(helper.signals).toEqual(["SIGTERM"]);
    await vi.advanceTimersByTimeAsync(1);
    await closing;
    expect(helper.signals).toEqual(["SIGTERM", "SIGKILL"]);
  });

  test("without perl (spawn fails with ENOENT), even once started early: one conntrack -D per filter for the address of every link left (one without an address has no flows), and the sum of what they deleted", async () => {
    const { calls, route } = backend("no perl", (filter) => (filter.includes("--src-nat") ? 3 : 0));
    route.startFlushHelper();
    await new Promise((r) => setImmediate(r));
    expect(await route.flushStaleFlows("wan2")).toBe(3);
    expect(calls.filter((c) => c[0] === "conntrack")).toEqual([
      ["conntrack", "-D", "-p", "udp", "--src-nat", "198.51.100.10"],
      ["conntrack", "-D", "-p", "udp", "--dst", "198.51.100.10", "--dst-nat"],
    ]);
    await route.close();
  });

  test("a spawn that throws (EMFILE): the early start lets it be, the flush fails saying why, and the next one tries again", async () => {
    let fail = true;
    const { spawn, spawned } = fakeSpawn((_request, helper) => helper.say("6"));
    const throwing: Spawner = (argv) => {
      if (fail) throw Object.assign(new Error("spawn EMFILE"), { code: "EMFILE" });
      return spawn(argv);
    };
    const route = new LinuxRouteBackend({ links, run: () => Promise.reject(new Error("no command expected")), spawn: throwing });
    route.startFlushHelper();
    await expect(route.flushStaleFlows("wan2")).rejects.toThrow("the conntrack flush (perl, netlink) failed: spawn EMFILE");
    fail = false;
    expect(await route.flushStaleFlows("wan2")).toBe(6);
    expect(spawned).toHaveLength(1);
    await route.close();
  });

  test("without perl, a conntrack that fails otherwise fails the step with its message", async () => {
    const { route } = backend("no perl", () => new CommandError("`conntrack -D -p udp` failed: Operation not permitted", ["conntrack"], "Operation not permitted", 2));
    await expect(route.flushStaleFlows("wan2")).rejects.toThrow("Operation not permitted");
  });
});
