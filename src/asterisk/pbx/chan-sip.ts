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
// Registry event (`Username: <user>`, `Domain: <host>`).

import { isIP } from "node:net";
import { performance } from "node:perf_hooks";

import { AmiPbx, type Outcome } from "./base.js";
import { applyChanges, findSection, planChanges, readConfigFile, type SectionChange, valueOf, valuesOf } from "./config-file.js";
import { describeFailure, PbxError } from "./errors.js";
import type { TrunkWatch } from "./registry.js";
import { waitRegistered } from "./trunk-wait.js";
import type { ExternalAddressData, PbxResult, RegisterTrunksOptions, RegistrationState, SavedExternalAddress, SavedTrunkSettings, TrunkReport, TrunksData, TrunkStatus } from "./types.js";

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

const redact = (variable: string, value: string): string => (variable.toLowerCase() === "register" ? redactRegisterLine(value) : value);

export class ChanSipPbx extends AmiPbx {
  readonly driver = "chan_sip" as const;

  get #file(): string {
    return this.config.chanSip?.configFile ?? "sip.conf";
  }

  // --- external address ------------------------------------------------------------------------------

  setExternalAddress(address: string): Promise<PbxResult<ExternalAddressData>> {
    return this.run(`setting externip to ${address}`, this.operationTimeoutMs, async () => {
      if (isIP(address) === 0) throw new PbxError("config", `not an IP address: ${JSON.stringify(address)}`);
      return this.#applyAddress(address, (saved) => {
        // Whichever of externip/externaddr the file uses gets the address; neither: add externip.
        const present = (["externip", "externaddr"] as const).filter((k) => saved[k] !== null);
        return Object.fromEntries((present.length ? present : ["externip"]).map((k) => [k, address]));
      });
    });
  }

  restoreExternalAddress(saved: SavedExternalAddress): Promise<PbxResult<ExternalAddressData>> {
    return this.run("restoring the saved externip", this.operationTimeoutMs, async () => {
      if (saved.driver !== "chan_sip") throw new PbxError("config", `saved settings are for ${saved.driver}, the PBX is configured for chan_sip`);
      return this.#applyAddress("", () => ({ externip: saved.general.externip, externaddr: saved.general.externaddr }));
    });
  }

  async #applyAddress(address: string, wanted: (current: { externip: string | null; externaddr: string | null }) => Record<string, string | null>): Promise<Outcome<ExternalAddressData>> {
    const file = this.#file;
    const sections = await readConfigFile(this.client, file);
    const ref = findSection(sections, file, "general", null, "section");
    const current = { externip: valueOf(ref.section, "externip"), externaddr: valueOf(ref.section, "externaddr") };
    const saved: SavedExternalAddress = { driver: "chan_sip", file, general: current };
    const values = wanted(current);
    const changes: SectionChange[] = [{ ref, type: null, values }];
    const plan = planChanges(file, changes);
    // The address chan_sip should end up with: the last of externip/externaddr in the file.
    const after = (k: "externip" | "externaddr"): string | null => (values[k] !== undefined ? values[k]! : current[k]);
    const expected = after("externaddr") ?? after("externip") ?? "";
    let fileChanged = false;
    let reloaded = false;
    try {
      if (plan.actions.length) {
        await this.mutate(() => applyChanges(this.client, file, sections, changes, plan));
        fileChanged = true;
      }
      let live = await this.#liveExternaddr();
      if (fileChanged || live !== expected) {
        await this.mutate(() => this.client.command("sip reload"));
        reloaded = true;
        live = await this.#liveExternaddr();
      }
      const data: ExternalAddressData = { address, fileChanged, reloaded, targets: [{ name: "general", before: current, live: { externaddr: live } }], saved };
      if (live !== expected) {
        const message = `chan_sip (AMI ${this.target}) shows Externaddr ${live || "(none)"} after sip reload, expected ${expected || "(none)"}`;
        return { ok: false, detail: message, data, error: { kind: "verify", message } };
      }
      const detail = fileChanged
        ? `[general] ${plan.summary.map((s) => s.replace(/^\[general\] /, "")).join(", ")} in ${file}, sip reload, live`
        : `[general] of ${file} already on ${expected || "(none)"}${reloaded ? "; sip reload to make it live" : " and live"}`;
      return { ok: true, detail, data };
    } catch (error) {
      return this.failed(error, `changing externip in ${file}`, { address, fileChanged, reloaded, targets: [], saved });
    }
  }

  /** `sip show settings` → the address part of "Externaddr: a.b.c.d:port" ("" when unset). */
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
      if (short !== undefined && (!Number.isInteger(short) || short < 1)) throw new PbxError("config", `shortExpirySeconds must be a positive whole number, got ${short}`);
      const keep = options.keepOriginals;
      if (keep && keep.driver !== "chan_sip") throw new PbxError("config", `saved settings are for ${keep.driver}, the PBX is configured for chan_sip`);
      return this.#trunks(startedAt, short === undefined ? undefined : () => String(short), keep?.driver === "chan_sip" ? keep : undefined, options.onSaved);
    });
  }

  restoreTrunks(saved: SavedTrunkSettings): Promise<PbxResult<TrunksData>> {
    return this.run("restoring the chan_sip trunks' expiry and registering them again", this.trunkTimeoutMs, async (startedAt) => {
      if (saved.driver !== "chan_sip") throw new PbxError("config", `saved settings are for ${saved.driver}, the PBX is configured for chan_sip`);
      const byKey = new Map(saved.registers.map((r) => [r.key, r.expiry]));
      return this.#trunks(startedAt, (key) => (byKey.has(key) ? byKey.get(key)! : undefined), saved);
    });
  }

  registrations(): Promise<PbxResult<{ trunks: RegistrationState[] }>> {
    return this.run("reading the trunks' registrations", this.operationTimeoutMs, async () => {
      const registry = await this.client.list("SIPshowregistry");
      const trunks = registry.items
        .filter((e) => e.event.toLowerCase() === "registryentry")
        .map((e) => {
          const status = (e.fields.get("State") ?? "").trim();
          return { name: `${(e.fields.get("Username") ?? "").trim()}@${(e.fields.get("Host") ?? "").trim()}`, status, registered: status === "Registered", expirySeconds: null };
        });
      return { ok: true, detail: trunks.map((t) => `${t.name} ${t.status}`).join(", ") || "no register => lines", data: { trunks } };
    });
  }

  /** `expiryFor(key)`: the ~expiry to set (null: none), or undefined to leave the line alone. */
  async #trunks(
    startedAt: number,
    expiryFor: ((key: string) => string | null | undefined) | undefined,
    keep: Extract<SavedTrunkSettings, { driver: "chan_sip" }> | undefined,
    onSaved?: (saved: SavedTrunkSettings) => void,
  ): Promise<Outcome<TrunksData>> {
    const file = this.#file;
    const sections = await readConfigFile(this.client, file);
    const ref = findSection(sections, file, "general", null, "section");
    const lines = valuesOf(ref.section, "register");
    const parsed = lines.map((raw) => ({ raw, line: parseRegisterLine(raw) }));
    const notes = parsed.filter((p) => p.line === null).map((p) => `a register line of ${file} could not be read (${redactRegisterLine(p.raw)}); left alone`);
    const usable = parsed.filter((p): p is { raw: string; line: RegisterLine } => p.line !== null);
    const kept = new Map((keep?.registers ?? []).map((r) => [r.key, r.expiry]));
    const saved: SavedTrunkSettings = {
      driver: "chan_sip",
      file,
      registers: usable.map(({ line }) => ({ key: line.key, expiry: kept.has(line.key) ? kept.get(line.key)! : line.expiry })),
    };
    if (expiryFor) onSaved?.(saved);
    const changes: SectionChange[] = [];
    const wantedExpiry = new Map<string, string | null>();
    for (const { raw, line } of usable) {
      const e = expiryFor?.(line.key);
      if (e === undefined) continue;
      wantedExpiry.set(line.key, e);
      const next = withExpiry(raw, e);
      if (next !== raw) changes.push({ ref, type: null, values: { register: next }, match: { register: raw } });
    }
    const plan = planChanges(file, changes);
    const reports = new Map<string, TrunkReport>();
    const fail = (key: string, status: TrunkStatus, detail: string): void => {
      reports.set(key, { name: key, ok: false, status, durationMs: Math.round(performance.now() - startedAt), expirySeconds: null, detail });
    };
    const watches = new Map<string, TrunkWatch>(usable.map(({ line }) => [line.key, this.registry.watch({ channelType: "SIP", username: line.user, domain: line.host })]));
    try {
      let fileChanged = false;
      let fileProblem: string | undefined;
      if (plan.actions.length) {
        try {
          await this.mutate(() => applyChanges(this.client, file, sections, changes, plan, { redact }));
          fileChanged = true;
        } catch (error) {
          fileProblem = describeFailure(error, this.target, `changing the register lines' ~expiry in ${file}`).message;
        }
      }
      // sip reload sends every registration again (the recordings show Registered ~0.2 s later).
      await this.mutate(() => this.client.command("sip reload"));
      const marks = new Map([...watches].map(([k, w]) => [k, w.seen.length]));
      const deadline = performance.now() + this.config.registerTimeoutMs;
      await Promise.all(
        [...watches].map(async ([key, watch]) => {
          const r = await waitRegistered(watch, marks.get(key)!, deadline);
          const ms = Math.round(r.at - startedAt);
          if (r.registered) reports.set(key, { name: key, ok: true, status: "Registered", durationMs: ms, expirySeconds: null, detail: `${key} Registered after ${ms} ms` });
          else fail(key, r.last, `${key} not Registered within ${this.config.registerTimeoutMs} ms (${r.last === "Timeout" ? "no Registry event for it" : `last status ${r.last}`})${r.last === "Timeout" ? this.eventsHint() : ""}`);
        }),
      );
      // Read back: the lines as the file has them now, and chan_sip's own view of each registration.
      const after = await readConfigFile(this.client, file).catch(() => undefined);
      const afterLines = after ? valuesOf(findSection(after, file, "general", null, "section").section, "register").map(parseRegisterLine) : [];
      const defaultExpiry = after ? valueOf(findSection(after, file, "general", null, "section").section, "defaultexpiry") : null;
      const registry = await this.client.list("SIPshowregistry").catch(() => undefined);
      for (const [key, report] of reports) {
        const line = afterLines.find((l) => l?.key === key);
        const expiryText = line?.expiry ?? defaultExpiry ?? "120";
        const entry = registry?.items.find((e) => (e.fields.get("Username") ?? "") === line?.user && (e.fields.get("Host") ?? "").toLowerCase() === (line?.host ?? "").toLowerCase());
        let next: TrunkReport = { ...report, expirySeconds: /^\d+$/.test(expiryText) ? Number(expiryText) : null };
        const want = wantedExpiry.get(key);
        if (report.ok && fileChanged && want !== undefined && (line?.expiry ?? null) !== want) {
          next = { ...next, ok: false, detail: `${report.detail}, but the line's expiry is ${line?.expiry ?? "(none)"}, expected ${want ?? "(none)"}` };
        } else if (report.ok) {
          next = { ...next, detail: `${report.detail} (expiry ${expiryText} s${entry ? `, chan_sip: ${entry.fields.get("State") ?? "?"}, refresh ${entry.fields.get("Refresh") ?? "?"} s` : ""})` };
        }
        reports.set(key, next);
      }
      const trunks = usable.map(({ line }) => reports.get(line.key)!);
      const data: TrunksData = { trunks, fileChanged, saved };
      const failed = trunks.filter((t) => !t.ok);
      const detail = trunks.length === 0 ? `no register => lines in [general] of ${file}${notes.length ? `; ${notes.join("; ")}` : ""}` : [...(fileProblem ? [fileProblem] : []), ...notes, ...trunks.map((t) => t.detail)].join("; ");
      if (fileProblem) return { ok: false, detail, data, error: { kind: "refused", message: fileProblem } };
      if (failed.length) return { ok: false, detail, data, error: { kind: "register", message: failed.map((t) => t.detail).join("; ") } };
      return { ok: true, detail, data };
    } finally {
      for (const w of watches.values()) w.close();
    }
  }
}
