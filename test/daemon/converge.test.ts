// A converge run's steps against an in-memory PBX that keeps a file and what it runs apart (as
// Asterisk does until a reload): what each run observes, what it mends, and in which order.
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { OfficePbx, type Pbx, type PbxDriver, type PbxResult, type SavedExternalAddress, type SavedTrunkSettings, type TrunkSettingsData, type TrunksData } from "../../src/asterisk/pbx/index.js";
import { BaselineStore, baselineFile, loadBaseline } from "../../src/daemon/baseline.js";
import { convergeSteps, type ConvergeAdapters } from "../../src/daemon/converge.js";
import type { ConvergeRun } from "../../src/daemon/lifecycle.js";
import { runPipeline } from "../../src/daemon/pipeline.js";
import type { RouteBackend } from "../../src/wan/route/backend.js";
import { tempDir } from "../temp-dirs.js";

type Reg = { expiration: string | null; max_random_initial_delay: string | null };

/**
 * One trunk of one driver: its file values, what Asterisk runs, and everything asked of it. PJSIP:
 * the registration `itsp`; chan_sip: the register line `office2@…` (its ~expiry is `expiration`).
 */
class MemoryPbx {
  file: Reg;
  live: Reg;
  address = "198.51.100.10";
  status: "Registered" | "Unregistered" = "Registered";
  calls: string[] = [];
  /** What inUse() answers (channelDriver "auto"). */
  use: { loaded: boolean; manage: boolean } | "unmanageable" = { loaded: true, manage: true };
  /** What the baseline file held when the file was first changed. */
  baselineAtChange: string | undefined;
  constructor(
    private readonly stateDir: string,
    readonly driver: PbxDriver = "pjsip",
    own: Reg = driver === "pjsip" ? { expiration: "3600", max_random_initial_delay: "1" } : { expiration: "1800", max_random_initial_delay: null },
  ) {
    this.file = { ...own };
    this.live = { ...own };
    this.pbx = this.adapter();
  }

  readonly pbx: Pbx;

  get trunk(): string {
    return this.driver === "pjsip" ? "itsp" : "office2@192.0.2.60:5060/office2";
  }

  private ok<D>(detail: string, data: D): PbxResult<D> {
    return { ok: true, durationMs: 1, detail, data };
  }
  private saved(reg: Reg): SavedTrunkSettings {
    return this.driver === "pjsip"
      ? { driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { ...reg } } }
      : { driver: "chan_sip", file: "sip.conf", registers: [{ key: this.trunk, expiry: reg.expiration }] };
  }
  private restored(saved: SavedTrunkSettings): Reg {
    if (saved.driver === "pjsip") return saved.registrations.itsp!;
    return { expiration: saved.registers.find((r) => r.key === this.trunk)?.expiry ?? null, max_random_initial_delay: null };
  }
  private short(seconds: number): Reg {
    return { expiration: String(seconds), max_random_initial_delay: this.driver === "pjsip" ? "0" : null };
  }
  private apply(values: Reg): TrunksData {
    const saved = this.saved(this.file);
    const fileChanged = JSON.stringify(values) !== JSON.stringify(this.file);
    if (fileChanged) {
      this.baselineAtChange ??= JSON.stringify(loadBaseline(this.stateDir).baseline?.trunks?.[this.driver] ?? null);
      this.file = { ...values };
    }
    this.live = { ...this.file };
    this.status = "Registered";
    return { trunks: [{ name: this.trunk, ok: true, status: "Registered", durationMs: 1, expirySeconds: Number(this.live.expiration ?? 3600), detail: `${this.trunk} Registered` }], fileChanged, saved };
  }
  private addressSaved(address: string): SavedExternalAddress {
    return this.driver === "pjsip"
      ? { driver: "pjsip", file: "pjsip.conf", transports: { t: { external_media_address: address, external_signaling_address: address } } }
      : { driver: "chan_sip", file: "sip.conf", general: { externip: address, externaddr: null } };
  }

  private adapter(): Pbx {
    return {
      driver: this.driver,
      target: "memory",
      setExternalAddress: async () => {
        throw new Error("not used");
      },
      restoreExternalAddress: async () => {
        throw new Error("not used");
      },
      registerTrunks: async (options = {}) => {
        this.calls.push(options.shortExpirySeconds ? `shorten ${options.shortExpirySeconds}` : "register");
        const values = options.shortExpirySeconds ? this.short(options.shortExpirySeconds) : this.file;
        return this.ok(`${this.trunk} Registered`, this.apply(values));
      },
      restoreTrunks: async () => {
        throw new Error("not used");
      },
      readTrunks: async () => {
        const data: TrunkSettingsData = {
          settings: this.saved(this.file),
          live: [
            this.driver === "pjsip"
              ? { name: this.trunk, status: this.status, expiration: this.live.expiration ?? "3600", maxRandomInitialDelay: this.live.max_random_initial_delay ?? "10" }
              : { name: this.trunk, status: this.status, expiration: this.live.expiration },
          ],
        };
        return this.ok("read", data);
      },
      readAddress: async () => this.ok("live", { targets: [{ name: this.driver === "pjsip" ? "t" : "general", media: this.address, signaling: this.address }] }),
      moveTo: async (address, options = {}) => {
        const v = options.restore ? this.restored(options.restore) : options.shortExpirySeconds ? this.short(options.shortExpirySeconds) : this.file;
        this.calls.push(`move ${address} ${options.shortExpirySeconds ? `short ${options.shortExpirySeconds}` : `restore ${v.expiration ?? "default"}${this.driver === "pjsip" ? `/${v.max_random_initial_delay ?? "default"}` : ""}`}`);
        const before = this.address;
        this.address = address;
        const trunks = this.apply(v);
        const addressData = { address, fileChanged: before !== address, reloaded: true, targets: [], saved: this.addressSaved(before) };
        const unregistered = before !== address && this.driver === "pjsip" ? [this.trunk] : [];
        return this.ok("moved", { address: addressData, trunks, unregistered, addressPart: { ok: true, detail: `${this.driver === "pjsip" ? "t" : "general"} on ${address}` }, trunksPart: { ok: true, detail: `${this.trunk} Registered` } });
      },
      inUse: async () => {
        if (this.use !== "unmanageable") return this.ok(`${this.driver}: ${this.use.loaded ? "loaded" : "not loaded"}`, this.use);
        const message = `${this.driver} has trunks wanctl cannot manage`;
        return { ok: false, durationMs: 1, detail: message, data: { loaded: true, manage: false }, error: { kind: "config", message } };
      },
      activeCalls: async () => this.ok("0 calls", { calls: 0, channels: 0, localChannels: 0 }),
      health: async () => this.ok("up", { amiVersion: "9.0.0", asteriskVersion: "20" }),
      close: async () => undefined,
    };
  }
}

const ADDRESSES: Record<string, string> = { wan1: "198.51.100.10", wan2: "203.0.113.10" };

function setUp(options: { flush?: () => Promise<number>; drivers?: PbxDriver[]; detect?: boolean; follows?: boolean } = {}) {
  const stateDir = tempDir();
  const memories = (options.drivers ?? ["pjsip"]).map((d) => new MemoryPbx(stateDir, d));
  const memory = memories[0]!;
  const route: RouteBackend = {
    ...(options.follows ? { follows: true } : {}),
    activeLink: async () => "wan1",
    prepareLink: async () => "198.51.100.10",
    activate: async (link) => ({ active: link, durationMs: 1 }),
    flushStaleFlows: options.flush ?? (async () => 3),
  };
  const adapters = (): ConvergeAdapters => ({
    route,
    flushConntrack: true,
    publicAddress: async (link) => ({ address: ADDRESSES[link]!, detail: ADDRESSES[link]! }),
    pbx: { pbx: new OfficePbx(memories.map((m) => m.pbx), options.detect ?? false), shortExpirySeconds: 120, trunksTimeoutMs: 1000, baseline: new BaselineStore(stateDir) },
  });
  const run = async (link: "wan1" | "wan2", over: Partial<ConvergeRun> = {}) => {
    const r: ConvergeRun = { id: 1, link, primary: link === "wan1", afterSwitch: false, cause: "check", switchId: null, ...over };
    const { steps, context } = convergeSteps(adapters(), r);
    return Object.fromEntries((await runPipeline(steps, context)).map((s) => [s.step, s]));
  };
  return { memory, memories, stateDir, run };
}

describe("the trunks step converges", () => {
  test("leaving the primary: the trunk's own settings are written down before the file is changed, then shortened", async () => {
    const { memory, stateDir, run } = setUp();
    const steps = await run("wan2", { afterSwitch: true, cause: "switch" });
    expect(steps.trunks).toMatchObject({ ok: true, changed: true });
    expect(memory.calls).toEqual(["move 203.0.113.10 short 120"]);
    expect(memory.baselineAtChange).toBe(JSON.stringify({ driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "3600", max_random_initial_delay: "1" } } }));
    expect(loadBaseline(stateDir).baseline?.trunks?.pjsip).toEqual({ driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "3600", max_random_initial_delay: "1" } } });
  });

  test("on the backup with everything as it should be: a check changes nothing", async () => {
    const { memory, run } = setUp();
    await run("wan2", { afterSwitch: true, cause: "switch" });
    memory.calls = [];
    const steps = await run("wan2");
    expect(steps.trunks).toMatchObject({ ok: true, changed: false, detail: "1 trunk(s) Registered with 120 s" });
    expect(steps.asterisk).toMatchObject({ ok: true, changed: false });
    expect(memory.calls).toEqual([]);
  });

  test("back on the primary: the trunk's own settings return from the baseline, never wanctl's short ones", async () => {
    const { memory, run } = setUp();
    await run("wan2", { afterSwitch: true, cause: "switch" });
    memory.calls = [];
    await run("wan1", { afterSwitch: true, cause: "switch" });
    expect(memory.calls).toEqual(["move 198.51.100.10 restore 3600/1"]);
    expect(memory.live).toEqual({ expiration: "3600", max_random_initial_delay: "1" });
  });

  test("a file that holds the trunk's own values while Asterisk runs the short ones (killed before the reload) is mended", async () => {
    const { memory, run } = setUp();
    await run("wan2", { afterSwitch: true, cause: "switch" });
    memory.file = { expiration: "3600", max_random_initial_delay: "1" }; // written, never reloaded
    memory.calls = [];
    const steps = await run("wan1", { cause: "start" });
    expect(memory.calls).toEqual(["move 198.51.100.10 restore 3600/1"]);
    expect(steps.trunks!.detail).toMatch(/\(was: itsp running expiration 120\)/);
    expect(steps.asterisk!.detail).toMatch(/\(was: t on 203\.0\.113\.10\)/);
    expect(memory.live.expiration).toBe("3600");
  });

  test("the short values on the primary with no record of the trunk's own (both baseline copies damaged): Asterisk's default comes back, and it is said", async () => {
    const { memory, stateDir, run } = setUp();
    await run("wan2", { afterSwitch: true, cause: "switch" });
    writeFileSync(baselineFile(stateDir), "{ damaged");
    writeFileSync(`${baselineFile(stateDir)}.bak`, "{ damaged too");
    memory.calls = [];
    const steps = await run("wan1", { cause: "start" });
    expect(memory.calls).toEqual(["move 198.51.100.10 restore default/default"]);
    expect(steps.trunks!.detail).toContain("itsp: no record of its own expiry, Asterisk's default (3600 s) put back");
  });

  test("one damaged copy of the baseline: the other one is used", async () => {
    const { memory, stateDir, run } = setUp();
    await run("wan2", { afterSwitch: true, cause: "switch" });
    writeFileSync(baselineFile(stateDir), "{ damaged");
    expect(loadBaseline(stateDir)).toMatchObject({ baseline: { trunks: { pjsip: { registrations: { itsp: { expiration: "3600" } } } } }, warning: expect.stringMatching(/baseline\.json: damaged .*; using .*baseline\.json\.bak$/) });
    memory.calls = [];
    await run("wan1", { afterSwitch: true, cause: "switch" });
    expect(memory.calls).toEqual(["move 198.51.100.10 restore 3600/1"]);
  });

  test("the settings hold but the trunk is not Registered: it registers again, saying why", async () => {
    const { memory, run } = setUp();
    memory.status = "Unregistered";
    const steps = await run("wan1");
    expect(memory.calls).toEqual(["register"]);
    expect(steps.trunks).toMatchObject({ ok: true, changed: true, detail: "itsp Registered (was: itsp Unregistered)" });
  });

  test("after a switch the PBX moves even when its settings already hold (the trunk's NAT binding moved)", async () => {
    const { memory, run } = setUp();
    await run("wan1", { afterSwitch: true, cause: "switch" });
    expect(memory.calls).toEqual(["move 198.51.100.10 restore 3600/1"]);
  });

  test("a conntrack step that fails (the binary missing) does not keep the trunks where they are", async () => {
    const { memory, run } = setUp({ flush: async () => Promise.reject(new Error("conntrack not found (install the Debian package conntrack)")) });
    const steps = await run("wan2", { afterSwitch: true, cause: "switch" });
    expect(steps.conntrack).toMatchObject({ ok: false });
    expect(steps.trunks).toMatchObject({ ok: true });
    expect(memory.calls).toEqual(["move 203.0.113.10 short 120"]);
  });

  test("only a run after a switch flushes: at other times a flow on another link may be a call that came in there", async () => {
    let flushed = 0;
    const { run } = setUp({ flush: async () => ++flushed });
    await run("wan1", { cause: "check" });
    await run("wan1", { cause: "start" });
    expect(flushed).toBe(0);
    await run("wan1", { cause: "switch", afterSwitch: true });
    expect(flushed).toBe(1);
  });
});

describe("the baseline store", () => {
  const settings = (expiration: string) => ({ driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration, max_random_initial_delay: "10" } } }) as unknown as SavedTrunkSettings;

  test("changes are kept in memory at once and written in their order, both copies", async () => {
    const stateDir = tempDir();
    const store = new BaselineStore(stateDir);
    const first = store.update("pjsip", { trunks: settings("3600") });
    const second = store.update("pjsip", { trunks: settings("1800") });
    expect(store.trunksOf("pjsip")).toEqual(settings("1800"));
    expect(await Promise.all([first, second])).toEqual([undefined, undefined]);
    expect(loadBaseline(stateDir).baseline?.trunks?.pjsip).toEqual(settings("1800"));
    rmSync(baselineFile(stateDir));
    expect(loadBaseline(stateDir).baseline?.trunks?.pjsip).toEqual(settings("1800")); // the backup copy
  });

  test("a write that fails (a full disk, a file where the state directory should be) is said, and memory keeps the change", async () => {
    const stateDir = join(tempDir(), "state");
    writeFileSync(stateDir, "not a directory");
    const store = new BaselineStore(stateDir);
    expect(await store.update("pjsip", { trunks: settings("3600") })).toMatch(/kept in memory only: cannot write .*baseline\.json/);
    expect(store.trunksOf("pjsip")).toEqual(settings("3600"));
  });
});

describe("following a router that switches by itself (route.backend none)", () => {
  /** The move's trunks part fails: the trunk was still not Registered when the time ran out, or its PJSIPRegister was refused. */
  const unanswered = (memory: MemoryPbx, how: "timed out" | "refused" = "timed out") => {
    const move = memory.pbx.moveTo;
    const detail = how === "timed out" ? "itsp not Registered within 15000 ms (no Registry event for it)" : "itsp: PJSIPRegister refused: Unable to retrieve registration entry";
    Object.assign(memory.pbx, {
      moveTo: async (...args: Parameters<Pbx["moveTo"]>) => {
        const moved = await move(...args);
        const trunks = moved.data!.trunks.trunks.map((t) => ({ ...t, ok: false, status: how === "timed out" ? ("Timeout" as const) : ("Unknown" as const), detail, ...(how === "timed out" ? { timedOut: true } : {}) }));
        return { ...moved, data: { ...moved.data!, trunks: { ...moved.data!.trunks, trunks }, trunksPart: { ok: false, detail } } };
      },
    });
  };

  test("a trunk left unregistered after a followed switch is a failed step that names the stale NAT entry on the router", async () => {
    const { memory, run } = setUp({ follows: true });
    unanswered(memory);
    const steps = await run("wan2", { afterSwitch: true, cause: "switch" });
    expect(steps.trunks!.ok).toBe(false);
    expect(steps.trunks!.detail).toBe(
      'itsp not Registered within 15000 ms (no Registry event for it); likely cause: a stale NAT entry on the router for the trunk\'s UDP 5060 flow (it still leaves with the address of the link the router left, and that ISP drops it); wanctl cannot clear the router\'s connection tracking: make the router flush its UDP connections when it changes WAN (see the README, route.backend "none")',
    );
  });

  test("a trunk whose REGISTER could not even be asked for is no stale NAT entry: no guess", async () => {
    const { memory, run } = setUp({ follows: true });
    unanswered(memory, "refused");
    const steps = await run("wan2", { afterSwitch: true, cause: "switch" });
    expect(steps.trunks!.ok).toBe(false);
    expect(steps.trunks!.detail).toBe("itsp: PJSIPRegister refused: Unable to retrieve registration entry");
  });

  test("wanctl's own switch has no such guess: it flushed the flows itself", async () => {
    const { memory, run } = setUp();
    unanswered(memory);
    const steps = await run("wan2", { afterSwitch: true, cause: "switch" });
    expect(steps.trunks!.detail).toBe("itsp not Registered within 15000 ms (no Registry event for it)");
  });
});

describe("PJSIP and chan_sip together", () => {
  test("a failover moves each driver once, and the failback puts back each one's own expiry (kept apart in the baseline)", async () => {
    const { memories, stateDir, run } = setUp({ drivers: ["pjsip", "chan_sip"] });
    const [pjsip, chanSip] = memories as [MemoryPbx, MemoryPbx];
    const out = await run("wan2", { afterSwitch: true, cause: "switch" });
    expect(pjsip.calls).toEqual(["move 203.0.113.10 short 120"]);
    expect(chanSip.calls).toEqual(["move 203.0.113.10 short 120"]);
    expect(out.asterisk).toMatchObject({ ok: true, changed: true, detail: "PJSIP: t on 203.0.113.10; chan_sip: general on 203.0.113.10" });
    expect(out.trunks).toMatchObject({ ok: true, detail: "PJSIP: itsp Registered; chan_sip: office2@192.0.2.60:5060/office2 Registered" });
    // Each driver's own settings were written down before its file changed, and neither replaced the other's.
    expect(pjsip.baselineAtChange).toBe(JSON.stringify({ driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "3600", max_random_initial_delay: "1" } } }));
    expect(chanSip.baselineAtChange).toBe(JSON.stringify({ driver: "chan_sip", file: "sip.conf", registers: [{ key: "office2@192.0.2.60:5060/office2", expiry: "1800" }] }));
    expect(loadBaseline(stateDir).baseline?.trunks).toEqual({
      pjsip: { driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "3600", max_random_initial_delay: "1" } } },
      chan_sip: { driver: "chan_sip", file: "sip.conf", registers: [{ key: "office2@192.0.2.60:5060/office2", expiry: "1800" }] },
    });

    pjsip.calls = [];
    chanSip.calls = [];
    const back = await run("wan1", { afterSwitch: true, cause: "switch" });
    expect(back.trunks).toMatchObject({ ok: true });
    expect(pjsip.calls).toEqual(["move 198.51.100.10 restore 3600/1"]);
    expect(chanSip.calls).toEqual(["move 198.51.100.10 restore 1800"]);
    expect(pjsip.live.expiration).toBe("3600");
    expect(chanSip.live.expiration).toBe("1800");
    // A check on the primary keeps each driver's transport settings, under its own key too.
    await run("wan1");
    expect(Object.keys(loadBaseline(stateDir).baseline?.transports ?? {}).sort()).toEqual(["chan_sip", "pjsip"]);
  });

  test("a check mends only the driver that drifted", async () => {
    const { memories, run } = setUp({ drivers: ["pjsip", "chan_sip"] });
    const [pjsip, chanSip] = memories as [MemoryPbx, MemoryPbx];
    chanSip.address = "203.0.113.10"; // chan_sip left on the backup's address
    const out = await run("wan1");
    expect(pjsip.calls).toEqual([]);
    expect(chanSip.calls).toEqual(["move 198.51.100.10 restore 1800"]);
    expect(out.asterisk!.detail).toBe("PJSIP: t already on 198.51.100.10 and live; chan_sip: general on 198.51.100.10 (was: general on 203.0.113.10)");
  });

  test('"auto": a driver Asterisk has not loaded is left alone, and said', async () => {
    const { memories, run } = setUp({ drivers: ["pjsip", "chan_sip"], detect: true });
    const [pjsip, chanSip] = memories as [MemoryPbx, MemoryPbx];
    chanSip.use = { loaded: false, manage: false };
    const out = await run("wan2", { afterSwitch: true, cause: "switch" });
    expect(pjsip.calls).toEqual(["move 203.0.113.10 short 120"]);
    expect(chanSip.calls).toEqual([]);
    expect(out.asterisk).toMatchObject({ ok: true, detail: "PJSIP: t on 203.0.113.10; chan_sip: not loaded" });
  });

  test('"auto": a driver in use that wanctl cannot manage fails the step, after the other driver moved', async () => {
    const { memories, run } = setUp({ drivers: ["pjsip", "chan_sip"], detect: true });
    const [pjsip, chanSip] = memories as [MemoryPbx, MemoryPbx];
    pjsip.use = "unmanageable";
    const out = await run("wan2", { afterSwitch: true, cause: "switch" });
    expect(chanSip.calls).toEqual(["move 203.0.113.10 short 120"]);
    expect(pjsip.calls).toEqual([]);
    expect(out.asterisk).toMatchObject({ ok: false, detail: expect.stringContaining("chan_sip: general on 203.0.113.10; pjsip has trunks wanctl cannot manage") });
  });

  test('"auto" with no driver to manage: the step fails and says what was found', async () => {
    const { memories, run } = setUp({ drivers: ["pjsip", "chan_sip"], detect: true });
    for (const m of memories) m.use = { loaded: m.driver === "chan_sip", manage: false };
    const out = await run("wan2", { afterSwitch: true, cause: "switch" });
    expect(out.asterisk).toMatchObject({ ok: false, detail: 'no SIP channel driver with anything for wanctl to manage (channelDriver "auto"): pjsip: not loaded; chan_sip: loaded' });
    expect(out.trunks).toMatchObject({ ok: false });
  });

  test("a baseline written by wanctl 0.1 (one driver's settings) is read as that driver's", async () => {
    const { memory, stateDir, run } = setUp();
    const legacy = { trunks: { driver: "pjsip", file: "pjsip.conf", registrations: { itsp: { expiration: "900", max_random_initial_delay: "2" } } }, savedAt: "2026-01-01T00:00:00.000Z" };
    writeFileSync(baselineFile(stateDir), JSON.stringify({ checksum: createHash("sha256").update(JSON.stringify(legacy)).digest("hex"), value: legacy }));
    expect(loadBaseline(stateDir).baseline?.trunks).toEqual({ pjsip: legacy.trunks });
    memory.file = { expiration: "120", max_random_initial_delay: "0" };
    memory.live = { ...memory.file };
    await run("wan1", { cause: "start" });
    expect(memory.calls).toEqual(["move 198.51.100.10 restore 900/2"]);
  });
});
