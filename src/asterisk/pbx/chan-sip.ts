// chan_sip over AMI (Asterisk ≤ 20).
//
// External address: `externip` (or `externaddr`, whichever the file uses; both are the same
// setting) in [general] of sip.conf, then `Command: sip reload`, read back from `sip show settings`
// ("Externaddr: 203.0.113.10:0").
//
// Trunks: every `register =>` line of [general]. The expiry is the line's `~expiry` suffix; it is
// changed with `Update` + `Match-` on the whole old line. Those lines carry the trunk's password:
// they never appear in a result, a log line or the saved settings — a line is named by
// `user@host:port/extension`, and the saved settings keep only that key and the old ~expiry.
// `sip reload` makes chan_sip send every registration again; each is then followed by its
// Registry event (`Username: <user>`, `Domain: <host>`). moveTo() does both in one UpdateConfig and
// one `sip reload`, so each trunk sends one REGISTER per move, with the new Contact and expiry.

import { isIP } from "node:net";
import { performance } from "node:perf_hooks";

import { AmiPbx, type Outcome } from "./base.js";
import { applyChanges, type ChangePlan, type ConfigSection, findSection, planChanges, readConfigFile, type SectionChange, type SectionRef, valueOf, valuesOf } from "./config-file.js";
import { describeFailure, PbxError } from "./errors.js";
import type { TrunkWatch } from "./registry.js";
import { asTrunkStatus, waitRegistered } from "./trunk-wait.js";
import type {
  DriverUse,
  ExternalAddressData,
  LiveAddressData,
  LiveTrunk,
  MoveData,
  MoveOptions,
  PbxResult,
  RegisterTrunksOptions,
  SavedExternalAddress,
  SavedTrunkSettings,
  TrunkReport,
  TrunksData,
  TrunkSettingsData,
  TrunkStatus,
} from "./types.js";

export interface RegisterLine {
  /** `user@host:port/extension`: names the line without its secret. */
  readonly key: string;
  readonly user: string;
  readonly host: string;
  readonly port: number;
  /** The `~expiry` suffix, or null. */
  readonly expiry: string | null;
}

/** Parse `[proto://]user[:secret[:authuser]]@host[:port][/extension][~expiry]`. */
export function parseRegisterLine(value: string): RegisterLine | null {
  const m = /^(?:[a-z]+:\/\/)?([^@\s]+)@([^:/~\s]+)(?::(\d+))?(?:\/([^~\s]*))?(?:~(\d+))?$/i.exec(value.trim());
  if (!m) return null;
  const user = m[1]!.split(":")[0]!;
  const port = m[3] ? Number(m[3]) : 5060;
  return { key: `${user}@${m[2]}:${port}/${m[4] ?? "s"}`, user, host: m[2]!, port, expiry: m[5] ?? null };
}

/** The same line with `~expiry` set (or removed with null). */
export function withExpiry(value: string, expiry: string | null): string {
  const base = value.trim().replace(/~\d+$/, "");
  return expiry === null ? base : `${base}~${expiry}`;
}

/** A register line fit for a message: the secret replaced. */
export function redactRegisterLine(value: string): string {
  return value.replace(/^((?:[a-z]+:\/\/)?[^:@\s]+):[^@\s]*@/i, "$1:[REDACTED]@");
}

/** How long a `sip reload` may take to show in `sip show settings` (it runs in chan_sip's monitor thread). */
const RELOAD_SETTLE_MS = 2_000;

const redact = (variable: string, value: string): string => (variable.toLowerCase() === "register" ? redactRegisterLine(value) : value);

type ChanSipSaved = Extract<SavedTrunkSettings, { driver: "chan_sip" }>;
type ExternValues = { externip: string | null; externaddr: string | null };

/** The externip half of a change. */
interface AddressPart {
  readonly address: string;
  readonly saved: Extract<SavedExternalAddress, { driver: "chan_sip" }>;
  readonly change: SectionChange;
  /** The address chan_sip should end up with: the last of externip/externaddr in the file. */
  readonly expected: string;
}

/** The register lines half. */
interface TrunksPart {
  readonly usable: ReadonlyArray<{ raw: string; line: RegisterLine }>;
  readonly notes: readonly string[];
  readonly saved: ChanSipSaved;
  readonly changes: SectionChange[];
  readonly wantedExpiry: Map<string, string | null>;
}

export class ChanSipPbx extends AmiPbx {
  readonly driver = "chan_sip" as const;

  get #file(): string {
    return this.config.chanSip?.configFile ?? "sip.conf";
  }

  // --- external address ------------------------------------------------------------------------------

  setExternalAddress(address: string): Promise<PbxResult<ExternalAddressData>> {
    return this.run(`setting externip to ${address}`, this.operationTimeoutMs, async () => {
      checkAddress(address);
      const { sections, general } = await this.#read();
      return this.#applyAddress(this.#addressPart(general, address, setTo(address)), sections);
    });
  }

  restoreExternalAddress(saved: SavedExternalAddress): Promise<PbxResult<ExternalAddressData>> {
    return this.run("restoring the saved externip", this.operationTimeoutMs, async () => {
      if (saved.driver !== "chan_sip") throw new PbxError("config", `saved settings are for ${saved.driver}, the PBX is configured for chan_sip`);
      const { sections, general } = await this.#read();
      return this.#applyAddress(this.#addressPart(general, "", () => ({ externip: saved.general.externip, externaddr: saved.general.externaddr })), sections);
    });
  }

  async #read(): Promise<{ sections: ConfigSection[]; general: SectionRef }> {
    const sections = await readConfigFile(this.client, this.#file);
    return { sections, general: findSection(sections, this.#file, "general", null, "section") };
  }

  #addressPart(general: SectionRef, address: string, wanted: (current: ExternValues) => Record<string, string | null>): AddressPart {
    const current = { externip: valueOf(general.section, "externip"), externaddr: valueOf(general.section, "externaddr") };
    const values = wanted(current);
    const after = (k: "externip" | "externaddr"): string | null => (values[k] !== undefined ? values[k]! : current[k]);
    return { address, saved: { driver: "chan_sip", file: this.#file, general: current }, change: { ref: general, type: null, values }, expected: after("externaddr") ?? after("externip") ?? "" };
  }

  #addressOutcome(part: AddressPart, plan: ChangePlan, fileChanged: boolean, reloaded: boolean, live: string): Outcome<ExternalAddressData> {
    const data: ExternalAddressData = { address: part.address, fileChanged, reloaded, targets: [{ name: "general", before: part.saved.general, live: { externaddr: live } }], saved: part.saved };
    if (live !== part.expected) {
      const message = `chan_sip (AMI ${this.target}) shows Externaddr ${live || "(none)"} after sip reload, expected ${part.expected || "(none)"}`;
      return { ok: false, detail: message, data, error: { kind: "verify", message } };
    }
    const detail = fileChanged
      ? `[general] ${plan.summary.map((s) => s.replace(/^\[general\] /, "")).join(", ")} in ${this.#file}, sip reload, live`
      : `[general] of ${this.#file} already on ${part.expected || "(none)"}${reloaded ? "; sip reload to make it live" : " and live"}`;
    return { ok: true, detail, data };
  }

  async #applyAddress(part: AddressPart, sections: readonly ConfigSection[]): Promise<Outcome<ExternalAddressData>> {
    const file = this.#file;
    const plan = planChanges(file, [part.change]);
    let fileChanged = false;
    let reloaded = false;
    try {
      if (plan.actions.length) {
        await this.mutate(() => applyChanges(this.client, file, sections, [part.change], plan));
        fileChanged = true;
      }
      let live = await this.#liveExternaddr();
      if (fileChanged || live !== part.expected) {
        await this.mutate(() => this.client.command("sip reload"));
        reloaded = true;
        live = await this.#externaddrAfterReload(part.expected);
      }
      return this.#addressOutcome(part, plan, fileChanged, reloaded, live);
    } catch (error) {
      return this.failed(error, `changing externip in ${file}`, { address: part.address, fileChanged, reloaded, targets: [], saved: part.saved });
    }
  }

  /** `sip show settings` → the address part of "Externaddr: a.b.c.d:port" ("" when unset). */
  readAddress(): Promise<PbxResult<LiveAddressData>> {
    return this.run("reading chan_sip's live external address", this.operationTimeoutMs, async () => {
      const live = (await this.#liveExternaddr()) || null;
      return { ok: true, detail: `[general]: ${live ?? "no external address"}`, data: { targets: [{ name: "general", media: live, signaling: live }] } };
    });
  }

  /**
   * The live Externaddr once a `sip reload` has taken effect. chan_sip only flags the reload and
   * its monitor thread reloads later (chan_sip.c: sip_reload() sets sip_reloading), so the first
   * read may still show the old value: read again every 50 ms until it shows `expected`, for at
   * most RELOAD_SETTLE_MS, then return what it shows (the caller reports a mismatch).
   */
  async #externaddrAfterReload(expected: string): Promise<string> {
    const deadline = performance.now() + RELOAD_SETTLE_MS;
    for (let reads = 1; ; reads++) {
      const live = await this.#liveExternaddr();
      if (live === expected || performance.now() >= deadline || reads >= RELOAD_SETTLE_MS / 50) return live;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async #liveExternaddr(): Promise<string> {
    const lines = await this.client.command("sip show settings");
    for (const line of lines) {
      const m = /^\s*Externaddr:\s*(\S*)/.exec(line);
      if (!m) continue;
      const v = m[1]!.replace(/:\d+$/, "");
      return v === "(null)" || v === "0.0.0.0" ? "" : v;
    }
    throw new PbxError("verify", `chan_sip (AMI ${this.target}): 'sip show settings' has no Externaddr line; is chan_sip loaded?`);
  }

  // --- trunks -----------------------------------------------------------------------------------------

  registerTrunks(options: RegisterTrunksOptions = {}): Promise<PbxResult<TrunksData>> {
    const short = options.shortExpirySeconds;
    const what = short === undefined ? "registering the chan_sip trunks again" : `registering the chan_sip trunks again with a ${short} s expiry`;
    return this.run(what, this.trunkTimeoutMs, async (startedAt) => {
      const expiryFor = shortExpiry(short);
      const { sections, general } = await this.#read();
      const part = this.#trunksPart(general, expiryFor);
      return this.#applyTrunks(startedAt, sections, part, []);
    });
  }

  restoreTrunks(saved: SavedTrunkSettings): Promise<PbxResult<TrunksData>> {
    return this.run("restoring the chan_sip trunks' expiry and registering them again", this.trunkTimeoutMs, async (startedAt) => {
      if (saved.driver !== "chan_sip") throw new PbxError("config", `saved settings are for ${saved.driver}, the PBX is configured for chan_sip`);
      const { sections, general } = await this.#read();
      return this.#applyTrunks(startedAt, sections, this.#trunksPart(general, restoredExpiry(saved)), []);
    });
  }

  readTrunks(): Promise<PbxResult<TrunkSettingsData>> {
    return this.run("reading the chan_sip trunks' settings", this.operationTimeoutMs, async () => {
      const { general } = await this.#read();
      const lines = valuesOf(general.section, "register").flatMap((raw) => parseRegisterLine(raw) ?? []);
      const registry = await this.client.list("SIPshowregistry");
      const live: LiveTrunk[] = lines.map((line) => {
        const entry = registry.items.find((e) => (e.fields.get("Username") ?? "") === line.user && (e.fields.get("Host") ?? "").toLowerCase() === line.host.toLowerCase());
        return { name: line.key, status: entry ? asTrunkStatus((entry.fields.get("State") ?? "").trim()) : "Unknown", expiration: line.expiry };
      });
      const data: TrunkSettingsData = { settings: { driver: "chan_sip", file: this.#file, registers: lines.map((l) => ({ key: l.key, expiry: l.expiry })) }, live };
      return { ok: true, detail: `${lines.length} register line(s): ${live.map((t) => `${t.name} ${t.status}, expiry ${t.expiration ?? "default"}`).join("; ")}`, data };
    });
  }

  /** `expiryFor(key)`: the ~expiry to set (null: none), or undefined to leave the line alone. */
  #trunksPart(general: SectionRef, expiryFor: ((key: string) => string | null | undefined) | undefined): TrunksPart {
    const file = this.#file;
    const parsed = valuesOf(general.section, "register").map((raw) => ({ raw, line: parseRegisterLine(raw) }));
    const notes = parsed.filter((p) => p.line === null).map((p) => `a register line of ${file} could not be read (${redactRegisterLine(p.raw)}); left alone`);
    const usable = parsed.filter((p): p is { raw: string; line: RegisterLine } => p.line !== null);
    const saved: ChanSipSaved = { driver: "chan_sip", file, registers: usable.map(({ line }) => ({ key: line.key, expiry: line.expiry })) };
    const changes: SectionChange[] = [];
    const wantedExpiry = new Map<string, string | null>();
    for (const { raw, line } of usable) {
      const e = expiryFor?.(line.key);
      if (e === undefined) continue;
      wantedExpiry.set(line.key, e);
      const next = withExpiry(raw, e);
      if (next !== raw) changes.push({ ref: general, type: null, values: { register: next }, match: { register: raw } });
    }
    return { usable, notes, saved, changes, wantedExpiry };
  }

  /**
   * One UpdateConfig with the trunks' changes and `extra` (the externip change of a move), one
   * `sip reload` (it sends every registration again, with the new externip and expiry; the
   * recordings show Registered ~0.2 s later), then wait for each. Returns the trunks' outcome and
   * whether the file changed.
   */
  async #applyTrunks(startedAt: number, sections: readonly ConfigSection[], part: TrunksPart, extra: readonly SectionChange[]): Promise<Outcome<TrunksData>> {
    const file = this.#file;
    const changes = [...extra, ...part.changes];
    const plan = planChanges(file, changes);
    const reports = new Map<string, TrunkReport>();
    const fail = (key: string, status: TrunkStatus, detail: string, timedOut = false): void => {
      reports.set(key, { name: key, ok: false, status, durationMs: Math.round(performance.now() - startedAt), expirySeconds: null, detail, ...(timedOut ? { timedOut } : {}) });
    };
    const watches = new Map<string, TrunkWatch>(part.usable.map(({ line }) => [line.key, this.registry.watch({ channelType: "SIP", username: line.user, domain: line.host })]));
    try {
      let fileChanged = false;
      let fileProblem: string | undefined;
      if (plan.actions.length) {
        try {
          await this.mutate(() => applyChanges(this.client, file, sections, changes, plan, { redact }));
          fileChanged = true;
        } catch (error) {
          if (extra.length) throw error; // a move whose address cannot be written fails as a whole
          fileProblem = describeFailure(error, this.target, `changing the register lines' ~expiry in ${file}`).message;
        }
      }
      await this.mutate(() => this.client.command("sip reload"));
      const marks = new Map([...watches].map(([k, w]) => [k, w.seen.length]));
      const deadline = performance.now() + this.config.registerTimeoutMs;
      await Promise.all(
        [...watches].map(async ([key, watch]) => {
          const r = await waitRegistered(watch, marks.get(key)!, deadline);
          const ms = Math.round(r.at - startedAt);
          if (r.registered) reports.set(key, { name: key, ok: true, status: "Registered", durationMs: ms, expirySeconds: null, detail: `${key} Registered after ${ms} ms` });
          else fail(key, r.last, `${key} not Registered within ${this.config.registerTimeoutMs} ms (${r.last === "Timeout" ? "no Registry event for it" : `last status ${r.last}`})${r.last === "Timeout" ? this.eventsHint() : ""}`, true);
        }),
      );
      return await this.#trunksOutcome(part, reports, fileChanged && part.changes.length > 0, fileProblem);
    } finally {
      for (const w of watches.values()) w.close();
    }
  }

  /** Read back: the lines as the file has them now, and chan_sip's own view of each registration. */
  async #trunksOutcome(part: TrunksPart, reports: Map<string, TrunkReport>, fileChanged: boolean, fileProblem: string | undefined): Promise<Outcome<TrunksData>> {
    const file = this.#file;
    const after = await readConfigFile(this.client, file).catch(() => undefined);
    const afterGeneral = after ? findSection(after, file, "general", null, "section").section : undefined;
    const afterLines = afterGeneral ? valuesOf(afterGeneral, "register").map(parseRegisterLine) : [];
    const defaultExpiry = afterGeneral ? valueOf(afterGeneral, "defaultexpiry") : null;
    const registry = await this.client.list("SIPshowregistry").catch(() => undefined);
    for (const [key, report] of reports) {
      const line = afterLines.find((l) => l?.key === key);
      const expiryText = line?.expiry ?? defaultExpiry ?? "120";
      const entry = registry?.items.find((e) => (e.fields.get("Username") ?? "") === line?.user && (e.fields.get("Host") ?? "").toLowerCase() === (line?.host ?? "").toLowerCase());
      let next: TrunkReport = { ...report, expirySeconds: /^\d+$/.test(expiryText) ? Number(expiryText) : null };
      const want = part.wantedExpiry.get(key);
      if (report.ok && fileChanged && want !== undefined && (line?.expiry ?? null) !== want) {
        next = { ...next, ok: false, detail: `${report.detail}, but the line's expiry is ${line?.expiry ?? "(none)"}, expected ${want ?? "(none)"}` };
      } else if (report.ok) {
        next = { ...next, detail: `${report.detail} (expiry ${expiryText} s${entry ? `, chan_sip: ${entry.fields.get("State") ?? "?"}, refresh ${entry.fields.get("Refresh") ?? "?"} s` : ""})` };
      }
      reports.set(key, next);
    }
    const trunks = part.usable.map(({ line }) => reports.get(line.key)!);
    const data: TrunksData = { trunks, fileChanged, saved: part.saved };
    const failed = trunks.filter((t) => !t.ok);
    const detail = trunks.length === 0 ? `no register => lines in [general] of ${file}${part.notes.length ? `; ${part.notes.join("; ")}` : ""}` : [...(fileProblem ? [fileProblem] : []), ...part.notes, ...trunks.map((t) => t.detail)].join("; ");
    if (fileProblem) return { ok: false, detail, data, error: { kind: "refused", message: fileProblem } };
    if (failed.length) return { ok: false, detail, data, error: { kind: "register", message: failed.map((t) => t.detail).join("; ") } };
    return { ok: true, detail, data };
  }

  // --- in use? ----------------------------------------------------------------------------------------

  /** Loaded, and [general] has register lines or an externip/externaddr (a chan_sip left loaded but unused has neither). */
  inUse(): Promise<PbxResult<DriverUse>> {
    return this.run("finding whether chan_sip is loaded and used", this.operationTimeoutMs, async (): Promise<Outcome<DriverUse>> => {
      if (!(await this.moduleLoaded("chan_sip.so"))) return { ok: true, detail: "chan_sip: chan_sip.so not loaded", data: { loaded: false, manage: false } };
      const { general } = await this.#read();
      const lines = valuesOf(general.section, "register").length;
      const extern = valueOf(general.section, "externaddr") ?? valueOf(general.section, "externip");
      const manage = lines > 0 || extern !== null;
      const what = manage ? `${lines} register line(s), externip ${extern ?? "(absent)"}` : "no register line and no externip: nothing to manage";
      return { ok: true, detail: `chan_sip: chan_sip.so loaded; [general] of ${this.#file}: ${what}`, data: { loaded: true, manage } };
    });
  }

  // --- the whole move ----------------------------------------------------------------------------------

  /**
   * externip and the register lines' ~expiry in one UpdateConfig, one `sip reload`: one REGISTER per
   * trunk, with the new Contact and the right expiry. chan_sip has no way to unregister an outbound
   * registration, so the binding at the old address stays at the ITSP until it expires there.
   */
  moveTo(address: string, options: MoveOptions = {}): Promise<PbxResult<MoveData>> {
    const short = options.shortExpirySeconds;
    const what = `moving chan_sip to ${address}${short !== undefined ? ` with a ${short} s trunk expiry` : options.restore ? " with the trunks' own expiry" : ""}`;
    return this.run(what, this.trunkTimeoutMs, async (startedAt) => {
      checkAddress(address);
      if (options.restore && options.restore.driver !== "chan_sip") throw new PbxError("config", `saved settings are for ${options.restore.driver}, the PBX is configured for chan_sip`);
      const expiryFor = options.restore ? restoredExpiry(options.restore) : shortExpiry(short);
      const { sections, general } = await this.#read();
      const addressPart = this.#addressPart(general, address, setTo(address));
      const addressPlan = planChanges(this.#file, [addressPart.change]);
      const trunks = this.#trunksPart(general, expiryFor);
      try {
        const trunksOutcome = await this.#applyTrunks(startedAt, sections, trunks, [addressPart.change]);
        const addressOutcome = this.#addressOutcome(addressPart, addressPlan, addressPlan.actions.length > 0, true, await this.#externaddrAfterReload(addressPart.expected));
        const data: MoveData = {
          address: addressOutcome.data!,
          trunks: trunksOutcome.data!,
          unregistered: [],
          addressPart: { ok: addressOutcome.ok, detail: addressOutcome.detail },
          trunksPart: { ok: trunksOutcome.ok, detail: trunksOutcome.detail },
        };
        const detail = `${addressOutcome.detail}; ${trunksOutcome.detail}`;
        if (!addressOutcome.ok) return { ok: false, detail, data, error: addressOutcome.error! };
        return trunksOutcome.ok ? { ok: true, detail, data } : { ok: false, detail, data, error: trunksOutcome.error! };
      } catch (error) {
        const failure = this.failed(error, `changing externip and the register lines in ${this.#file}`);
        const part = { ok: false, detail: failure.detail };
        const data: MoveData = {
          address: { address, fileChanged: false, reloaded: false, targets: [], saved: addressPart.saved },
          trunks: { trunks: [], fileChanged: false, saved: trunks.saved },
          unregistered: [],
          addressPart: part,
          trunksPart: part,
        };
        return { ...failure, data };
      }
    });
  }
}

function checkAddress(address: string): void {
  if (isIP(address) === 0) throw new PbxError("config", `not an IP address: ${JSON.stringify(address)}`);
}

/** Whichever of externip/externaddr the file uses gets the address; neither: add externip. */
function setTo(address: string): (current: ExternValues) => Record<string, string> {
  return (current) => {
    const present = (["externip", "externaddr"] as const).filter((k) => current[k] !== null);
    return Object.fromEntries((present.length ? present : ["externip"]).map((k) => [k, address]));
  };
}

function shortExpiry(short: number | undefined): ((key: string) => string) | undefined {
  if (short !== undefined && (!Number.isInteger(short) || short < 1)) throw new PbxError("config", `shortExpirySeconds must be a positive whole number, got ${short}`);
  return short === undefined ? undefined : () => String(short);
}

function restoredExpiry(saved: ChanSipSaved): (key: string) => string | null | undefined {
  const byKey = new Map(saved.registers.map((r) => [r.key, r.expiry]));
  return (key) => (byKey.has(key) ? byKey.get(key)! : undefined);
}

