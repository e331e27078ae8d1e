// The network lab proves its own topology: reachability per link, the public address the
// internet sees, BCP 38, cuts, loss, isolation between runs, and teardown in every way a run ends.
// Assertions are on what arrived where, never on how long it took.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  askPublicAddress,
  createLab,
  LAB_RUN_DIR,
  LINK_PLAN,
  LINKS,
  listNamespaces,
  NetemUnavailableError,
  SERVICES,
  startEchoServer,
  sweepLabs,
  type EchoServer,
  type Lab,
  type LinkId,
} from "./index.js";
import { run } from "./proc.js";
import { describeLab, useLab } from "./vitest.js";

const other = (l: LinkId): LinkId => (l === "wan1" ? "wan2" : "wan1");
const ourNamespaces = (lab: Lab): string[] => Object.values(lab.names.ns);
const presentNamespaces = (names: string[]): string[] => names.filter((n) => listNamespaces().includes(n));

/** Gone, or a zombie waiting for a parent that is not us (the container's init may not reap). */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Packets an ISP dropped for carrying a foreign source address. */
async function bcp38Drops(lab: Lab, isp: "isp1" | "isp2"): Promise<number> {
  const r = await lab.run(isp, ["iptables", "-t", "raw", "-n", "-v", "-x", "-L", "WL-BCP38"]);
  const line = r.stdout.split("\n").find((l) => /\sDROP\s/.test(l));
  return Number(line?.trim().split(/\s+/)[0] ?? NaN);
}

describeLab("network lab", () => {
  const lab = useLab();
  let echo: EchoServer;

  beforeAll(async () => {
    await lab.enableLinkProbes();
    echo = await startEchoServer(lab);
  });

  afterEach(async () => {
    // Every test starts from the same place: default via wan1, nothing cut, nothing impaired.
    for (const l of LINKS) {
      await lab.heal(l);
      await lab.clear(l);
    }
    await lab.setDefaultRoute("wan1");
  });

  test("the office has exactly one default route, via wan1, and nothing of the lab is in the host", async () => {
    const r = await lab.run("office", ["ip", "-4", "route", "show", "default"]);
    expect(r.stdout.trim().split("\n")).toEqual([`default via ${LINK_PLAN.wan1.gateway} dev wan1`]);
    expect(await lab.defaultRouteLink()).toBe("wan1");
    // The per-link tables are only reached through policy rules.
    const rules = (await lab.run("office", ["ip", "rule", "show"])).stdout;
    for (const l of LINKS) {
      expect(rules).toContain(`from ${LINK_PLAN[l].address} lookup ${LINK_PLAN[l].table}`);
      expect(rules).toContain(`oif ${l} lookup ${LINK_PLAN[l].table}`);
    }
    expect(presentNamespaces(ourNamespaces(lab))).toEqual(ourNamespaces(lab));
    // veths were created inside the namespaces: the host has none of the lab's interfaces.
    const names = (await run(["ip", "-o", "link", "show"])).stdout.split("\n").map((l) => l.split(":")[1]?.trim().split("@")[0]);
    for (const n of ["wan1", "wan2", "cust", "uplink"]) expect(names).not.toContain(n);
  });

  test("each link reaches the internet on its own, the idle one too", async () => {
    for (const active of LINKS) {
      await lab.setDefaultRoute(active);
      for (const probe of LINKS) {
        await lab.cut(other(probe)); // "on its own": the other link cannot help
        for (const via of [probe, LINK_PLAN[probe].address]) {
          const p = await lab.ping("office", SERVICES.probe1, { via, count: 3, intervalMs: 50 });
          expect(p.received, `${probe} via ${via}, default on ${active}:\n${p.output}`).toBe(3);
        }
        await lab.heal(other(probe));
      }
    }
  });

  test("the internet sees each link's public address, and the LAN's through the active link", async () => {
    const to = SERVICES.probe1;
    expect(await askPublicAddress(lab, "office", { to, bind: LINK_PLAN.wan1.address })).toBe("198.51.100.10");
    expect(await askPublicAddress(lab, "office", { to, bind: LINK_PLAN.wan2.address })).toBe("203.0.113.10");
    expect(await askPublicAddress(lab, "office", { to, bind: LINK_PLAN.wan2.address, proto: "tcp" })).toBe("203.0.113.10");
    // The PBX behind the office's static SNAT, new flows each time (ephemeral source ports).
    expect(await askPublicAddress(lab, "pbx", { to })).toBe("198.51.100.10");
    expect(await askPublicAddress(lab, "pbx", { to, proto: "tcp" })).toBe("198.51.100.10");
    await lab.setDefaultRoute("wan2");
    expect(await askPublicAddress(lab, "pbx", { to })).toBe("203.0.113.10");
    expect(await askPublicAddress(lab, "pbx", { to, proto: "tcp" })).toBe("203.0.113.10");
    const sources = new Set(echo.seen().map((s) => s.from));
    expect([...sources].sort()).toEqual(["198.51.100.10", "203.0.113.10"]); // never a private address
  });

  test("a static-SNAT flow keeps the old link's mapping after the route flips, until its conntrack entry goes", async () => {
    const flow = { to: SERVICES.probe2, sourcePort: 5062, attempts: 2, attemptMs: 500 };
    expect(await askPublicAddress(lab, "pbx", flow)).toBe("198.51.100.10");
    await lab.setDefaultRoute("wan2");
    const before = await bcp38Drops(lab, "isp2");
    // Same 5-tuple: conntrack still SNATs to wan1's address, now sent out wan2; isp2 drops it.
    expect(await askPublicAddress(lab, "pbx", flow)).toBeNull();
    expect(await bcp38Drops(lab, "isp2")).toBeGreaterThan(before);
    const del = await lab.exec("office", ["conntrack", "-D", "-p", "udp", "--orig-src", "192.168.50.10", "--orig-port-src", "5062"]);
    expect(del.code, del.stderr).toBe(0);
    expect(await askPublicAddress(lab, "pbx", flow)).toBe("203.0.113.10");
  });

  test("the ISPs drop packets with a foreign source address (BCP 38)", async () => {
    // Force each link's address out of the OTHER link with a temporary, narrow policy rule.
    const cases = [
      { spoof: LINK_PLAN.wan1.address, out: "wan2", isp: "isp2", legit: LINK_PLAN.wan2.address, publicAddr: "203.0.113.10" },
      { spoof: LINK_PLAN.wan2.address, out: "wan1", isp: "isp1", legit: LINK_PLAN.wan1.address, publicAddr: "198.51.100.10" },
    ] as const;
    const to = SERVICES.probe3;
    for (const c of cases) {
      const rule = ["from", c.spoof, "to", to, "lookup", String(LINK_PLAN[c.out].table), "pref", "50"];
      await lab.run("office", ["ip", "rule", "add", ...rule]);
      try {
        const before = await bcp38Drops(lab, c.isp);
        const payload = `spoofed-${c.spoof}-via-${c.out}`;
        expect(await askPublicAddress(lab, "office", { to, bind: c.spoof, payload, attempts: 2, attemptMs: 300 })).toBeNull();
        // A legitimate packet on the same path afterwards arrives, so the spoofed ones were not just slow.
        expect(await askPublicAddress(lab, "office", { to, bind: c.legit, payload: `legit-via-${c.out}` })).toBe(c.publicAddr);
        expect(echo.seen().filter((s) => s.data === payload)).toEqual([]);
        expect(await bcp38Drops(lab, c.isp)).toBeGreaterThanOrEqual(before + 2);
      } finally {
        await lab.exec("office", ["ip", "rule", "del", "pref", "50"]);
      }
    }
  });

  test("a cut link stops answering while the office interface stays up; heal restores it", async () => {
    for (const link of ["wan2", "wan1"] as const) {
      // wan2 first: the idle link dies while wan1 carries the default route.
      await lab.cut(link);
      expect(await lab.isCut(link)).toBe(true);
      const dead = await lab.ping("office", SERVICES.probe1, { via: link, count: 3, intervalMs: 50 });
      expect(dead.received, dead.output).toBe(0);
      const alive = await lab.ping("office", SERVICES.probe1, { via: other(link), count: 3, intervalMs: 50 });
      expect(alive.received, alive.output).toBe(3);
      const port = (await lab.run("office", ["ip", "-o", "link", "show", link])).stdout;
      expect(port).toMatch(/[<,]LOWER_UP[,>]/);
      expect(port).toMatch(/state UP/);
      await lab.heal(link);
      expect(await lab.isCut(link)).toBe(false);
      const back = await lab.ping("office", SERVICES.probe1, { via: link, count: 3, intervalMs: 50 });
      expect(back.received, back.output).toBe(3);
    }
  });

  test("loss impairment drops some but not all packets, and clear() ends it", async () => {
    await lab.impair("wan1", { lossPct: 30 }); // per direction: about half the echoes fail
    const lossy = await lab.ping("office", SERVICES.probe1, { via: "wan1", count: 60, intervalMs: 20 });
    expect(lossy.transmitted).toBe(60);
    expect(lossy.received, lossy.output).toBeGreaterThan(0);
    expect(lossy.received, lossy.output).toBeLessThan(60);
    // The other link is untouched.
    expect((await lab.ping("office", SERVICES.probe1, { via: "wan2", count: 10, intervalMs: 20 })).received).toBe(10);
    await lab.clear("wan1");
    expect((await lab.ping("office", SERVICES.probe1, { via: "wan1", count: 10, intervalMs: 20 })).received).toBe(10);
  });

  test("delay needs netem: applied when the kernel has it, a clear error when not", async () => {
    if (lab.capabilities.netem) {
      await lab.impair("wan2", { delayMs: 20, jitterMs: 5 });
      const tc = await lab.run("isp2", ["tc", "qdisc", "show", "dev", "cust"]);
      expect(tc.stdout).toContain("netem");
    } else {
      await expect(lab.impair("wan2", { delayMs: 20 })).rejects.toThrow(NetemUnavailableError);
      await expect(lab.impair("wan2", { delayMs: 20 })).rejects.toThrow(/netem/);
    }
  });

  test("two labs up at the same time do not collide", async () => {
    const b = createLab();
    try {
      await b.up();
      expect(b.runId).not.toBe(lab.runId);
      for (const ns of ourNamespaces(b)) expect(ourNamespaces(lab)).not.toContain(ns);
      expect(presentNamespaces([...ourNamespaces(lab), ...ourNamespaces(b)])).toHaveLength(10);
      // Same addresses in both, yet each answers on its own.
      await b.cut("wan1");
      expect((await b.ping("office", SERVICES.probe1, { count: 2 })).received).toBe(0);
      expect((await lab.ping("office", SERVICES.probe1, { count: 2 })).received).toBe(2);
      expect((await b.ping("pbx", SERVICES.probe1, { count: 2 })).received).toBe(0);
      expect((await lab.ping("pbx", SERVICES.probe1, { count: 2 })).received).toBe(2);
    } finally {
      await b.down();
    }
    expect(presentNamespaces(ourNamespaces(b))).toEqual([]);
    expect(presentNamespaces(ourNamespaces(lab))).toEqual(ourNamespaces(lab));
    expect((await lab.ping("office", SERVICES.probe1, { count: 2 })).received).toBe(2);
  });
});

describeLab("network lab teardown", () => {
  test("up() and down() are idempotent, and down() works on a lab that never came up", async () => {
    const lab = createLab();
    await lab.down();
    await lab.up();
    await lab.up();
    expect(presentNamespaces(ourNamespaces(lab))).toEqual(ourNamespaces(lab));
    expect(existsSync(join(LAB_RUN_DIR, `${lab.runId}.json`))).toBe(true);
    await lab.down();
    await lab.down();
    expect(presentNamespaces(ourNamespaces(lab))).toEqual([]);
    expect(existsSync(join(LAB_RUN_DIR, `${lab.runId}.json`))).toBe(false);
  });

  test("an up() that fails halfway removes what it had built and names the failed step", async () => {
    const lab = createLab();
    // Sabotage: the office namespace already holds an interface called wan1.
    await run(["ip", "netns", "add", lab.names.ns.office]);
    try {
      await run(["ip", "-n", lab.names.ns.office, "link", "add", "name", "wan1", "type", "veth", "peer", "name", "x"]);
      await expect(lab.up()).rejects.toThrow(/step "veth office:wan1/);
      expect(presentNamespaces(ourNamespaces(lab))).toEqual([]);
      await lab.down(); // and an explicit down() afterwards is harmless
      expect(existsSync(join(LAB_RUN_DIR, `${lab.runId}.json`))).toBe(false);
    } finally {
      await lab.down();
    }
  });

  const thrower = { names: [] as string[], pids: [] as number[] };
  describe("a test that throws", () => {
    const lab = useLab();
    afterAll(() => void thrower.names.push(...ourNamespaces(lab)));

    test.fails("throws with processes running in its lab", async () => {
      thrower.pids.push(lab.spawn("inet", ["sleep", "300"]).pid);
      // A grandchild in a spawned process group, and a process the lab never tracked.
      thrower.pids.push(lab.spawn("office", ["sh", "-c", "sleep 300 & wait"]).pid);
      const bg = await lab.run("pbx", ["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"]);
      thrower.pids.push(Number(bg.stdout.trim()));
      expect(thrower.pids.every((p) => !processGone(p))).toBe(true);
      throw new Error("boom");
    });
  });

  test("…and left no namespace and no process behind", () => {
    expect(thrower.names).toHaveLength(5);
    expect(presentNamespaces(thrower.names)).toEqual([]);
    expect(thrower.pids).toHaveLength(3);
    expect(thrower.pids.filter((p) => !processGone(p))).toEqual([]);
  });

  describe("runs that die", () => {
    // The lab's modules as plain JS, so a separate node process can run them.
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "wanctl-lab-"));
      const src = fileURLToPath(new URL(".", import.meta.url));
      writeFileSync(join(dir, "package.json"), '{"type":"module"}\n');
      for (const f of readdirSync(src).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "vitest.ts")) {
        const js = ts.transpileModule(readFileSync(join(src, f), "utf8"), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
          fileName: f,
        }).outputText;
        writeFileSync(join(dir, f.replace(/\.ts$/, ".js")), js);
      }
      writeFileSync(
        join(dir, "crash.js"),
        `import { createLab } from "./index.js";
const lab = createLab();
await lab.up();
const p = lab.spawn("inet", ["sleep", "300"]);
process.stdout.write(JSON.stringify({ runId: lab.runId, namespaces: Object.values(lab.names.ns), pid: p.pid }) + "\\n");
setTimeout(() => { throw new Error("crash on purpose"); }, 10);
`,
      );
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    function child(args: string[]) {
      const c = spawn(process.execPath, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      c.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      const firstLine = new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no output from child in 20 s: ${err}`)), 20_000);
        c.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          if (out.includes("\n")) {
            clearTimeout(t);
            resolve(out.slice(0, out.indexOf("\n")));
          }
        });
        c.on("exit", () => reject(new Error(`child exited before any output: ${err}`)));
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
        const t = setTimeout(() => {
          c.kill("SIGKILL");
          reject(new Error(`child did not exit in 30 s: ${err}`));
        }, 30_000);
        c.on("exit", (code, signal) => {
          clearTimeout(t);
          resolve({ code, signal });
        });
      });
      firstLine.catch(() => {});
      return { c, firstLine, exited, stderr: () => err };
    }

    test("a crash (uncaught exception) still removes its lab and kills its processes", async () => {
      const k = child(["crash.js"]);
      const info = JSON.parse(await k.firstLine) as { runId: string; namespaces: string[]; pid: number };
      const { code } = await k.exited;
      expect(code, k.stderr()).toBe(1);
      expect(k.stderr()).toContain("crash on purpose");
      expect(presentNamespaces(info.namespaces)).toEqual([]);
      expect(processGone(info.pid)).toBe(true);
      expect(existsSync(join(LAB_RUN_DIR, `${info.runId}.json`))).toBe(false);
    });

    test("the CLI keeps the lab up until SIGTERM, then tears it down", async () => {
      const k = child(["cli.js", "up"]);
      const d = JSON.parse(await k.firstLine) as { runId: string; namespaces: Record<string, string>; addresses: unknown };
      const namespaces = Object.values(d.namespaces);
      expect(presentNamespaces(namespaces)).toEqual(namespaces);
      expect(d.addresses).toMatchObject({ public: { wan1: "198.51.100.10", wan2: "203.0.113.10" } });
      k.c.kill("SIGTERM");
      expect((await k.exited).code, k.stderr()).toBe(0);
      expect(presentNamespaces(namespaces)).toEqual([]);
      expect(existsSync(join(LAB_RUN_DIR, `${d.runId}.json`))).toBe(false);
    });

    test("sweepLabs() removes the lab of a run killed with SIGKILL, and only that", async () => {
      const k = child(["cli.js", "up"]);
      const d = JSON.parse(await k.firstLine) as { runId: string; namespaces: Record<string, string> };
      const namespaces = Object.values(d.namespaces);
      const bystander = createLab();
      try {
        await bystander.up();
        k.c.kill("SIGKILL");
        expect((await k.exited).signal).toBe("SIGKILL");
        expect(presentNamespaces(namespaces)).toEqual(namespaces); // nobody could clean up
        const swept = await sweepLabs();
        expect(swept.errors).toEqual([]);
        expect(swept.removed).toContain(d.runId);
        expect(swept.removed).not.toContain(bystander.runId); // its creator (us) is alive
        expect(presentNamespaces(namespaces)).toEqual([]);
        expect(existsSync(join(LAB_RUN_DIR, `${d.runId}.json`))).toBe(false);
        expect(presentNamespaces(ourNamespaces(bystander))).toEqual(ourNamespaces(bystander));
      } finally {
        await bystander.down();
      }
    });
  });
});
