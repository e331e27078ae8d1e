// PJSIP over AMI.
//
// External address: for each configured transport, external_media_address and
// external_signaling_address via UpdateConfig (Update, or Append when absent), then
// `Reload Module: res_pjsip.so` (Asterisk ≥ 16.18/18.4 applies these without allow_reload), then
// `pjsip show transport <name>` must show the new values live.
//
// Trunks: the outbound registrations (PJSIPShowRegistrationsOutbound, or the configured names).
// On a backup link: expiration = shortExpirySeconds and max_random_initial_delay = 0 in their
// sections, one reload (which makes Asterisk unregister and register each changed registration by
// itself, as the recordings show), PJSIPRegister for the others (or for a changed one that stays
// silent), then wait for each `Registered` Registry event, and read the Expiration back.
//
// moveTo() does both with one UpdateConfig and one reload, and first removes the trunks' bindings
// at the old address: Asterisk's own un-REGISTER (on a reload or PJSIPRegister) carries the Contact
// as the transport gives it at that moment, so once the address has changed it names the new one
// and the ITSP keeps the old binding, for up to the old expiry (test/fixtures/asterisk/README.md).
// PJSIPUnregister while the transport still has the old address sends it with the old Contact.
// Asterisk registers 1 s after a reload or PJSIPRegister whatever max_random_initial_delay says.

import { isIP } from "node:net";
import { performance } from "node:perf_hooks";

import { AmiActionError } from "../ami/errors.js";
import type { AmiEvent } from "../ami/wire.js";
import { AmiPbx, type Outcome } from "./base.js";
import { applyChanges, type ChangePlan, type ConfigSection, findSection, planChanges, readConfigFile, type SectionChange, type SectionRef, valueOf } from "./config-file.js";
import { describeFailure, PbxError } from "./errors.js";
import type { TrunkWatch } from "./registry.js";
import { asTrunkStatus, waitRegistered } from "./trunk-wait.js";
import type {
  DriverUse,
  ExternalAddressData,
  LiveAddressData,
  LiveTrunk,
  TrunkSettingsData,
  ExternalAddressTarget,
  MoveData,
  MoveOptions,
  MovePart,
  PbxResult,
  RegisterTrunksOptions,
  SavedExternalAddress,
  SavedTrunkSettings,
  TrunkReport,
  TrunksData,
  TrunkStatus,
} from "./types.js";

const MEDIA = "external_media_address";
const SIGNALING = "external_signaling_address";
const RELOAD_MODULE = "res_pjsip.so";
/** How long the un-REGISTER of the old binding may take to be answered before the move goes on. */
const UNREGISTER_WAIT_MS = 500;
/** What Asterisk runs when a registration has no expiration / max_random_initial_delay of its own. */
const PJSIP_DEFAULT_EXPIRATION = "3600";
const PJSIP_DEFAULT_INITIAL_DELAY = "10";

interface ListedRegistration {
  readonly name: string;
  readonly clientUri: string;
  readonly serverUri: string;
  readonly expiration: string;
  readonly maxRandomInitialDelay: string;
  readonly status: string;
}

type PjsipSavedTrunks = Extract<SavedTrunkSettings, { driver: "pjsip" }>;
type TrunkPlan = (name: string, current: { expiration: string | null; max_random_initial_delay: string | null }) => Record<string, string | null> | null;
type TransportValues = Record<string, string | null>;

/** The external-address half of a change: which transports, what they hold, what they get. */
interface AddressPart {
  readonly address: string;
  readonly names: readonly string[];
  readonly saved: Extract<SavedExternalAddress, { driver: "pjsip" }>;
  readonly changes: SectionChange[];
  readonly desired: Map<string, TransportValues>;
}

/** The trunks half: which registrations, their settings before, what they get. */
interface TrunksPart {
  readonly names: readonly string[];
  readonly listed: ReadonlyMap<string, ListedRegistration>;
  readonly saved: PjsipSavedTrunks;
  readonly changes: SectionChange[];
  readonly wanted: Map<string, Record<string, string | null>>;
  /** The registrations' expiry cannot be changed (file unreadable, ambiguous): they still re-register. */
  fileProblem: string | undefined;
  readonly notes: string[];
  readonly planned: boolean;
}

export class PjsipPbx extends AmiPbx {
  readonly driver = "pjsip" as const;

  get #file(): string {
    return this.config.pjsip?.configFile ?? "pjsip.conf";
  }

  #transports(): readonly string[] {
    const t = this.config.pjsip?.transports;
    if (!t || t.length === 0) throw new PbxError("config", "asterisk.pjsip.transports is not set: wanctl does not know which transports to change");
    return t;
  }

  // --- external address ----------------------------------------------------------------------------

  setExternalAddress(address: string): Promise<PbxResult<ExternalAddressData>> {
    return this.run(`setting the external address to ${address}`, this.operationTimeoutMs, async () => {
      checkAddress(address);
      const sections = await readConfigFile(this.client, this.#file);
      return this.#applyAddress(this.#addressPart(sections, address, () => ({ [MEDIA]: address, [SIGNALING]: address })), sections);
    });
  }

  restoreExternalAddress(saved: SavedExternalAddress): Promise<PbxResult<ExternalAddressData>> {
    return this.run("restoring the saved external address", this.operationTimeoutMs, async () => {
      if (saved.driver !== "pjsip") throw new PbxError("config", `saved settings are for ${saved.driver}, the PBX is configured for pjsip`);
      const sections = await readConfigFile(this.client, this.#file);
      const part = this.#addressPart(sections, "", (name) => {
        const s = saved.transports[name];
        return s ? { [MEDIA]: s.external_media_address, [SIGNALING]: s.external_signaling_address } : null;
      });
      return this.#applyAddress(part, sections);
    });
  }

  #addressPart(sections: readonly ConfigSection[], address: string, wanted: (transport: string) => TransportValues | null): AddressPart {
    const file = this.#file;
    const names = this.#transports();
    const refs = names.map((n) => findSection(sections, file, n, "transport", "transport"));
    const saved: AddressPart["saved"] = {
      driver: "pjsip",
      file,
      transports: Object.fromEntries(refs.map((r, i) => [names[i]!, { [MEDIA]: valueOf(r.section, MEDIA), [SIGNALING]: valueOf(r.section, SIGNALING) }])) as AddressPart["saved"]["transports"],
    };
    const changes: SectionChange[] = [];
    const desired = new Map<string, TransportValues>();
    refs.forEach((ref, i) => {
      const values = wanted(names[i]!);
      if (!values) return;
      desired.set(names[i]!, values);
      changes.push({ ref, type: "transport", values });
    });
    return { address, names, saved, changes, desired };
  }

  /** Transport values that are not live as wanted ("external_media_address of transport 'x' is …"). */
  #mismatches(part: AddressPart, live: Map<string, TransportValues>): string[] {
    const out: string[] = [];
    for (const [n, values] of part.desired) {
      for (const [k, v] of Object.entries(values)) {
        const have = live.get(n)?.[k] ?? null;
        if ((have ?? "") !== (v ?? "")) out.push(`${k} of transport '${n}' is ${have === null || have === "" ? "empty" : have}, expected ${v ?? "empty"}`);
      }
    }
    return out;
  }

  #addressData(part: AddressPart, fileChanged: boolean, reloaded: boolean, live: Map<string, TransportValues>): ExternalAddressData {
    const targets: ExternalAddressTarget[] = part.names.map((n) => ({ name: n, before: part.saved.transports[n]!, live: live.get(n) ?? {} }));
    return { address: part.address, fileChanged, reloaded, targets, saved: part.saved };
  }

  /** After the file change (if any) and the reload (if any): is it live? */
  #addressOutcome(part: AddressPart, plan: ChangePlan, fileChanged: boolean, reloaded: boolean, live: Map<string, TransportValues>): Outcome<ExternalAddressData> {
    const data = this.#addressData(part, fileChanged, reloaded, live);
    const problems = this.#mismatches(part, live);
    if (problems.length) {
      const message = `Asterisk (AMI ${this.target}) does not show the change live after reloading ${RELOAD_MODULE}: ${problems.join("; ")} — Asterisk older than 16.18/18.4 needs allow_reload=yes on the transport`;
      return { ok: false, detail: message, data, error: { kind: "verify", message } };
    }
    const what = part.address === "" ? "restored" : part.address;
    const names = part.names.join(", ");
    const detail = fileChanged
      ? `${names}: ${MEDIA} and ${SIGNALING} ${what} in ${this.#file} (${plan.summary.length} change(s)), ${RELOAD_MODULE} reloaded, live`
      : `${names} already on ${what} in ${this.#file}${reloaded ? `; ${RELOAD_MODULE} reloaded to make it live` : " and live"}`;
    return { ok: true, detail, data };
  }

  async #applyAddress(part: AddressPart, before: readonly ConfigSection[]): Promise<Outcome<ExternalAddressData>> {
    const file = this.#file;
    const plan = planChanges(file, part.changes);
    let fileChanged = false;
    let reloaded = false;
    try {
      if (plan.actions.length) {
        await this.mutate(() => applyChanges(this.client, file, before, part.changes, plan));
        fileChanged = true;
      }
      let live = await this.#liveTransports(part.names);
      if (fileChanged || this.#mismatches(part, live).length) {
        await this.reloadModule(RELOAD_MODULE);
        reloaded = true;
        live = await this.#liveTransports(part.names);
      }
      return this.#addressOutcome(part, plan, fileChanged, reloaded, live);
    } catch (error) {
      // The file may already be changed: hand back what is needed to put it back.
      return this.failed(error, `changing ${MEDIA}/${SIGNALING} in ${file}`, this.#addressData(part, fileChanged, reloaded, new Map()));
    }
  }

  readAddress(): Promise<PbxResult<LiveAddressData>> {
    return this.run("reading the transports' live external address", this.operationTimeoutMs, async () => {
      const live = await this.#liveTransports(this.#transports());
      const targets = [...live].map(([name, v]) => ({ name, media: v[MEDIA] || null, signaling: v[SIGNALING] || null }));
      return { ok: true, detail: targets.map((t) => `${t.name}: ${t.signaling ?? "no external address"}`).join("; "), data: { targets } };
    });
  }

  /** `pjsip show transport <name>` → the two external values as Asterisk runs them. */
  async #liveTransports(names: readonly string[]): Promise<Map<string, TransportValues>> {
    const out = new Map<string, TransportValues>();
    for (const name of names) {
      const lines = await this.client.command(`pjsip show transport ${name}`);
      const values: TransportValues = {};
      for (const line of lines) {
        const m = /^\s*(external_media_address|external_signaling_address)\s*:\s?(.*)$/.exec(line);
        if (m) values[m[1]!] = m[2]!.trim();
      }
      if (!(MEDIA in values) || !(SIGNALING in values)) {
        const said = lines.map((l) => l.trim()).filter((l) => l !== "").slice(0, 2).join(" / ");
        throw new PbxError("verify", `Asterisk (AMI ${this.target}) has no transport '${name}' loaded (pjsip show transport: ${said || "no output"}); is it in ${this.#file} and did it load?`);
      }
      out.set(name, values);
    }
    return out;
  }

  // --- trunks -----------------------------------------------------------------------------------------

  registerTrunks(options: RegisterTrunksOptions = {}): Promise<PbxResult<TrunksData>> {
    const short = options.shortExpirySeconds;
    const what = short === undefined ? "registering the trunks again" : `registering the trunks again with a ${short} s expiry`;
    return this.run(what, this.trunkTimeoutMs, async (startedAt) => {
      const plan = shortPlan(short);
      const sections = await this.#readForTrunks(plan !== undefined);
      const part = await this.#trunksPart(sections.sections, sections.problem, plan);
      return this.#applyTrunks(startedAt, part, sections.sections);
    });
  }

  restoreTrunks(saved: SavedTrunkSettings): Promise<PbxResult<TrunksData>> {
    return this.run("restoring the trunks' expiry and registering them again", this.trunkTimeoutMs, async (startedAt) => {
      if (saved.driver !== "pjsip") throw new PbxError("config", `saved settings are for ${saved.driver}, the PBX is configured for pjsip`);
      const sections = await this.#readForTrunks(true);
      const part = await this.#trunksPart(sections.sections, sections.problem, restorePlan(saved));
      return this.#applyTrunks(startedAt, part, sections.sections);
    });
  }

  readTrunks(): Promise<PbxResult<TrunkSettingsData>> {
    return this.run("reading the trunks' settings", this.operationTimeoutMs, async () => {
      const file = this.#file;
      const configured = this.config.pjsip?.registrations ?? "auto";
      const listed = await this.#listRegistrations();
      const names = configured === "auto" ? listed.map((r) => r.name) : [...configured];
      const sections = await readConfigFile(this.client, file);
      const registrations: Record<string, { expiration: string | null; max_random_initial_delay: string | null }> = {};
      const notes: string[] = [];
      for (const name of names) {
        try {
          const ref = findSection(sections, file, name, "registration", "registration");
          registrations[name] = { expiration: valueOf(ref.section, "expiration"), max_random_initial_delay: valueOf(ref.section, "max_random_initial_delay") };
        } catch (error) {
          if (!(error instanceof PbxError)) throw error;
          notes.push(error.message);
        }
      }
      const live: LiveTrunk[] = names.flatMap((name) => {
        const r = listed.find((x) => x.name === name);
        return r ? [{ name, status: asTrunkStatus(r.status), expiration: r.expiration || null, maxRandomInitialDelay: r.maxRandomInitialDelay || null }] : [];
      });
      const data: TrunkSettingsData = { settings: { driver: "pjsip", file, registrations }, live };
      const detail = `${names.length} registration(s): ${live.map((t) => `${t.name} ${t.status}, expiry ${t.expiration ?? "?"} s`).join("; ")}${notes.length ? `; ${notes.join("; ")}` : ""}`;
      return { ok: true, detail, data };
    });
  }

  /** The file, for the trunks' expiry; when it cannot be read the trunks still re-register. */
  async #readForTrunks(planned: boolean): Promise<{ sections: ConfigSection[]; problem: string | undefined }> {
    try {
      return { sections: await readConfigFile(this.client, this.#file), problem: undefined };
    } catch (error) {
      if (!(error instanceof PbxError) && !(error instanceof AmiActionError)) throw error;
      return { sections: [], problem: planned ? describeFailure(error, this.target, `reading ${this.#file}`).message : undefined };
    }
  }

  async #listRegistrations(): Promise<ListedRegistration[]> {
    const list = await this.client.list("PJSIPShowRegistrationsOutbound");
    return list.items
      .filter((e: AmiEvent) => e.event.toLowerCase() === "outboundregistrationdetail")
      .map((e) => ({
        name: e.fields.get("ObjectName") ?? "",
        clientUri: (e.fields.get("ClientUri") ?? "").trim(),
        serverUri: (e.fields.get("ServerUri") ?? "").trim(),
        expiration: (e.fields.get("Expiration") ?? "").trim(),
        maxRandomInitialDelay: (e.fields.get("MaxRandomInitialDelay") ?? "").trim(),
        status: (e.fields.get("Status") ?? "").trim(),
      }));
  }

  async #trunksPart(
    sections: readonly ConfigSection[],
    fileProblem: string | undefined,
    planFor: TrunkPlan | undefined,
  ): Promise<TrunksPart> {
    const file = this.#file;
    const configured = this.config.pjsip?.registrations ?? "auto";
    const listed = await this.#listRegistrations();
    const names = configured === "auto" ? listed.map((r) => r.name) : [...configured];
    const refs = new Map<string, SectionRef>();
    const notes: string[] = [];
    for (const name of names) {
      try {
        refs.set(name, findSection(sections, file, name, "registration", "registration"));
      } catch (error) {
        if (!(error instanceof PbxError)) throw error;
        if (planFor) notes.push(`${error.message}: its expiry cannot be changed`);
      }
    }
    const current = (ref: SectionRef) => ({ expiration: valueOf(ref.section, "expiration"), max_random_initial_delay: valueOf(ref.section, "max_random_initial_delay") });
    const saved: PjsipSavedTrunks = {
      driver: "pjsip",
      file,
      registrations: Object.fromEntries([...refs].map(([n, ref]) => [n, current(ref)])),
    };
    const changes: SectionChange[] = [];
    const wanted = new Map<string, Record<string, string | null>>();
    for (const [name, ref] of refs) {
      const values = planFor?.(name, current(ref));
      if (!values) continue;
      wanted.set(name, values);
      changes.push({ ref, type: "registration", values });
    }
    return { names, listed: new Map(listed.map((r) => [r.name, r])), saved, changes, wanted, fileProblem, notes, planned: planFor !== undefined };
  }

  /** Watch every trunk Asterisk knows before anything can make it re-register; the unknown ones fail. */
  #watch(part: TrunksPart, fail: (name: string, status: TrunkStatus, detail: string) => void): Map<string, TrunkWatch> {
    const watches = new Map<string, TrunkWatch>();
    for (const name of part.names) {
      const r = part.listed.get(name);
      if (!r) {
        fail(name, "Unknown", `registration '${name}' is not known to Asterisk (PJSIPShowRegistrationsOutbound does not list it)`);
        continue;
      }
      watches.set(name, this.registry.watch({ channelType: "PJSIP", username: r.clientUri, domain: r.serverUri }));
    }
    return watches;
  }

  /** The trunks' half of the plan; a change that cannot be made safely becomes the file problem. */
  #trunksPlan(part: TrunksPart): ChangePlan {
    try {
      return planChanges(this.#file, part.changes);
    } catch (error) {
      if (!(error instanceof PbxError)) throw error;
      part.fileProblem = error.message;
      return { actions: [], summary: [] };
    }
  }

  async #applyTrunks(startedAt: number, part: TrunksPart, sections: readonly ConfigSection[]): Promise<Outcome<TrunksData>> {
    const reports = new Map<string, TrunkReport>();
    const fail = failer(reports, startedAt);
    const plan = this.#trunksPlan(part);
    const watches = this.#watch(part, fail);
    try {
      let reloadedAt: number | undefined;
      let fileChanged = false;
      const stale = this.#liveStale(part);
      if (plan.actions.length || stale.size) {
        try {
          if (plan.actions.length) {
            await this.mutate(() => applyChanges(this.client, this.#file, sections, part.changes, plan));
            fileChanged = true;
          }
          await this.reloadModule(RELOAD_MODULE);
          reloadedAt = performance.now();
        } catch (error) {
          // The expiry could not be changed (or the reload failed): still re-register every trunk.
          part.fileProblem = describeFailure(error, this.target, `changing the registrations' expiry in ${this.#file}`).message;
        }
      }
      const reloaded = reloadedAt === undefined ? new Set<string>() : new Set([...this.#changedBy(plan, part), ...stale]);
      const marks = new Map([...watches].map(([n, w]) => [n, w.seen.length]));
      await this.#awaitRegistered(startedAt, watches, marks, reloaded, reports, fail);
      return await this.#trunksOutcome(part, reports, fileChanged);
    } finally {
      for (const w of watches.values()) w.close();
    }
  }

  /** The registrations a plan of the trunks' changes touches: the reload re-registers those by itself. */
  #changedBy(plan: ChangePlan, part: TrunksPart): Set<string> {
    return new Set(plan.actions.map((a) => part.names.find((n) => n.toLowerCase() === a.section.toLowerCase()) ?? a.section));
  }

  /**
   * Registrations whose file already holds the wanted values while Asterisk runs others (a crash
   * between the file change and the reload): they need the reload all the same.
   */
  #liveStale(part: TrunksPart): Set<string> {
    const stale = new Set<string>();
    for (const [name, values] of part.wanted) {
      const live = part.listed.get(name);
      if (!live) continue;
      const expiration = values.expiration === undefined ? undefined : (values.expiration ?? PJSIP_DEFAULT_EXPIRATION);
      const delay = values.max_random_initial_delay === undefined ? undefined : (values.max_random_initial_delay ?? PJSIP_DEFAULT_INITIAL_DELAY);
      if ((expiration !== undefined && live.expiration !== "" && live.expiration !== expiration) || (delay !== undefined && live.maxRandomInitialDelay !== "" && live.maxRandomInitialDelay !== delay)) stale.add(name);
    }
    return stale;
  }

  /**
   * Until every watched trunk is Registered: those re-registered by the reload are waited for (and
   * PJSIPRegister'd if they stay silent for the grace time), the others get PJSIPRegister now.
   */
  async #awaitRegistered(
    startedAt: number,
    watches: ReadonlyMap<string, TrunkWatch>,
    marks: ReadonlyMap<string, number>,
    byReload: ReadonlySet<string>,
    reports: Map<string, TrunkReport>,
    fail: ReturnType<typeof failer>,
  ): Promise<void> {
    const deadline = performance.now() + this.config.registerTimeoutMs;
    const grace = this.options.reloadRegisterGraceMs ?? 3000;
    await Promise.all(
      [...watches].map(async ([name, watch]) => {
        let from = marks.get(name) ?? watch.seen.length;
        if (byReload.has(name)) {
          const any = await watch.wait(from, () => true, Math.min(deadline, performance.now() + grace));
          if (!any) from = await this.#pjsipRegister(name, watch, fail);
        } else {
          from = await this.#pjsipRegister(name, watch, fail);
        }
        if (from < 0) return;
        const r = await waitRegistered(watch, from, deadline);
        const ms = Math.round(r.at - startedAt);
        if (r.registered) {
          reports.set(name, { name, ok: true, status: "Registered", durationMs: ms, expirySeconds: null, detail: `${name} Registered after ${ms} ms` });
        } else {
          const how = r.last === "Timeout" ? "no Registry event for it" : `last status ${r.last}`;
          fail(name, r.last, `${name} not Registered within ${this.config.registerTimeoutMs} ms (${how})${r.last === "Timeout" ? this.eventsHint() : ""}`, true);
        }
      }),
    );
  }

  /** Read back the Expiration as Asterisk runs it now, and say how it went. */
  async #trunksOutcome(part: TrunksPart, reports: Map<string, TrunkReport>, fileChanged: boolean): Promise<Outcome<TrunksData>> {
    const after = await this.#listRegistrations().catch(() => undefined);
    for (const [name, report] of reports) {
      const r = after?.find((x) => x.name === name);
      if (!r) continue;
      const expiry = /^\d+$/.test(r.expiration) ? Number(r.expiration) : null;
      const want = part.wanted.get(name)?.expiration;
      let next: TrunkReport = { ...report, expirySeconds: expiry };
      if (report.ok && fileChanged && want !== undefined && (want ?? PJSIP_DEFAULT_EXPIRATION) !== r.expiration) {
        next = { ...next, ok: false, detail: `${report.detail}, but Asterisk lists Expiration ${r.expiration}, expected ${want ?? "3600 (default)"}` };
      } else if (report.ok) {
        next = { ...next, detail: `${report.detail} (expiry ${r.expiration} s)` };
      }
      reports.set(name, next);
    }
    const trunks = part.names.map((n) => reports.get(n)).filter((r): r is TrunkReport => r !== undefined);
    const data: TrunksData = { trunks, fileChanged, saved: part.saved };
    const failed = trunks.filter((t) => !t.ok);
    const problem = part.planned ? part.fileProblem : undefined;
    const parts = [...(problem ? [problem] : []), ...part.notes, ...trunks.map((t) => t.detail)];
    const detail = trunks.length === 0 ? `no outbound registrations to manage${part.notes.length ? `; ${part.notes.join("; ")}` : ""}` : parts.join("; ");
    if (problem) return { ok: false, detail, data, error: { kind: "refused", message: problem } };
    if (failed.length) return { ok: false, detail, data, error: { kind: "register", message: failed.map((t) => t.detail).join("; ") } };
    return { ok: true, detail, data };
  }

  /** PJSIPRegister; returns the watch position after its response, or -1 (trunk report written) when refused. */
  async #pjsipRegister(name: string, watch: TrunkWatch, fail: (name: string, status: TrunkStatus, detail: string) => void): Promise<number> {
    try {
      await this.mutate(() => this.client.action("PJSIPRegister", { Registration: name }));
      return watch.seen.length;
    } catch (error) {
      fail(name, "Unknown", describeFailure(error, this.target, `asking Asterisk to register '${name}' again`).message);
      return -1;
    }
  }

  // --- in use? ----------------------------------------------------------------------------------------

  inUse(): Promise<PbxResult<DriverUse>> {
    return this.run("finding whether PJSIP is loaded and used", this.operationTimeoutMs, async (): Promise<Outcome<DriverUse>> => {
      if (!(await this.moduleLoaded(RELOAD_MODULE))) return { ok: true, detail: `PJSIP: ${RELOAD_MODULE} not loaded`, data: { loaded: false, manage: false } };
      if (this.config.pjsip) return { ok: true, detail: `PJSIP: ${RELOAD_MODULE} loaded; transport(s) ${this.#transports().join(", ")}`, data: { loaded: true, manage: true } };
      const names = (await this.#listRegistrations()).map((r) => r.name);
      if (names.length === 0) return { ok: true, detail: `PJSIP: ${RELOAD_MODULE} loaded, no outbound registration and no asterisk.pjsip section: nothing to manage`, data: { loaded: true, manage: false } };
      const message = `PJSIP is loaded with outbound registration(s) ${names.join(", ")}, but the config has no asterisk.pjsip section naming the transports whose external address follows the link: add "pjsip": { "transports": [...] } (see wanctl asterisk check)`;
      return { ok: false, detail: message, data: { loaded: true, manage: false }, error: { kind: "config", message } };
    });
  }

  // --- the whole move ----------------------------------------------------------------------------------

  moveTo(address: string, options: MoveOptions = {}): Promise<PbxResult<MoveData>> {
    const short = options.shortExpirySeconds;
    const what = `moving the PBX to ${address}${short !== undefined ? ` with a ${short} s trunk expiry` : options.restore ? " with the trunks' own expiry" : ""}`;
    return this.run(what, this.trunkTimeoutMs, async (startedAt) => {
      checkAddress(address);
      if (options.restore && options.restore.driver !== "pjsip") throw new PbxError("config", `saved settings are for ${options.restore.driver}, the PBX is configured for pjsip`);
      const planFor = options.restore ? restorePlan(options.restore) : shortPlan(short);
      const file = this.#file;
      const sections = await readConfigFile(this.client, file);
      const addressPart = this.#addressPart(sections, address, () => ({ [MEDIA]: address, [SIGNALING]: address }));
      const addressPlan = planChanges(file, addressPart.changes); // a transport that cannot be changed safely stops the move
      const trunks = await this.#trunksPart(sections, undefined, planFor);
      const trunksPlan = this.#trunksPlan(trunks);
      const reports = new Map<string, TrunkReport>();
      const fail = failer(reports, startedAt);
      const watches = this.#watch(trunks, fail);
      let fileChanged = false;
      let reloaded = false;
      try {
        // 1. The bindings at the old address go first, through the new link, while the transport
        //    still gives the old Contact.
        const live = await this.#liveTransports(addressPart.names);
        const moving = this.#mismatches(addressPart, live).length > 0;
        if (moving && options.primeFirst) await this.#prime(sections, [...watches.keys()]);
        const unregistered = moving ? await this.#unregisterOld(trunks, watches) : [];
        // 2. One change of the file, one reload: the address, and the expiry of every trunk.
        const plan: ChangePlan = { actions: [...addressPlan.actions, ...trunksPlan.actions], summary: [...addressPlan.summary, ...trunksPlan.summary] };
        const changes = [...addressPart.changes, ...(trunksPlan.actions.length ? trunks.changes : [])];
        if (plan.actions.length) {
          await this.mutate(() => applyChanges(this.client, file, sections, changes, plan));
          fileChanged = true;
        }
        const marks = new Map([...watches].map(([n, w]) => [n, w.seen.length]));
        const stale = this.#liveStale(trunks);
        if (fileChanged || moving || stale.size) {
          await this.reloadModule(RELOAD_MODULE);
          reloaded = true;
        }
        // 3. Live? Then every trunk Registered: by the reload (changed ones), or PJSIPRegister (the others,
        //    and those unregistered above that the reload does not touch).
        const addressOutcome = this.#addressOutcome(addressPart, addressPlan, fileChanged && addressPlan.actions.length > 0, reloaded, await this.#liveTransports(addressPart.names));
        const note = unregistered.length ? `; the old binding(s) of ${unregistered.join(", ")} removed first` : "";
        const addressDone: MovePart = { ok: addressOutcome.ok, detail: `${addressOutcome.detail}${note}` };
        if (!addressOutcome.ok) {
          const skipped: MovePart = { ok: false, detail: "not registered again: the address is not live" };
          return { ...addressOutcome, data: { address: addressOutcome.data!, trunks: { trunks: [], fileChanged, saved: trunks.saved }, unregistered, addressPart: addressDone, trunksPart: skipped } };
        }
        const byReload = reloaded ? new Set([...(trunksPlan.actions.length ? this.#changedBy(trunksPlan, trunks) : []), ...stale]) : new Set<string>();
        await this.#awaitRegistered(startedAt, watches, marks, byReload, reports, fail);
        const trunksOutcome = await this.#trunksOutcome(trunks, reports, fileChanged && trunksPlan.actions.length > 0);
        const data: MoveData = { address: addressOutcome.data!, trunks: trunksOutcome.data!, unregistered, addressPart: addressDone, trunksPart: { ok: trunksOutcome.ok, detail: trunksOutcome.detail } };
        const detail = `${addressDone.detail}; ${trunksOutcome.detail}`;
        return trunksOutcome.ok ? { ok: true, detail, data } : { ok: false, detail, data, error: trunksOutcome.error! };
      } catch (error) {
        const failure = this.failed(error, `moving ${MEDIA}/${SIGNALING} and the trunks in ${file}`);
        const part: MovePart = { ok: false, detail: failure.detail };
        const data: MoveData = { address: this.#addressData(addressPart, fileChanged, reloaded, new Map()), trunks: { trunks: [], fileChanged, saved: trunks.saved }, unregistered: [], addressPart: part, trunksPart: part };
        return { ...failure, data };
      } finally {
        for (const w of watches.values()) w.close();
      }
    });
  }

  /**
   * One OPTIONS from each trunk's endpoint (PJSIPQualify, acknowledged once the request is sent) as
   * the first packet of the trunk's flow after a router's own switch. A MASQUERADE router drops the
   * packet that meets the mapping its switch made stale (and forgets the mapping): let that be this
   * one, not the un-REGISTER, whose retransmission would come half a second later. The endpoint is
   * the registration's `endpoint`, else the section of the registration's name. Best effort.
   */
  async #prime(sections: readonly ConfigSection[], registrations: readonly string[]): Promise<void> {
    const endpoints = new Set(
      registrations.map((name) => {
        const reg = sections.find((s) => !s.template && s.name === name && valueOf(s, "type")?.trim() === "registration");
        return (reg && valueOf(reg, "endpoint")?.trim()) || name;
      }),
    );
    await Promise.all([...endpoints].map((endpoint) => this.client.action("PJSIPQualify", { Endpoint: endpoint }).catch(() => undefined)));
  }

  /**
   * PJSIPUnregister for every Registered trunk: its un-REGISTER leaves at once with the Contact the
   * transport gives now (the old address). Waits, bounded, for the answers: the address must not
   * change before the un-REGISTERs are out. Returns the trunks unregistered.
   */
  async #unregisterOld(part: TrunksPart, watches: ReadonlyMap<string, TrunkWatch>): Promise<string[]> {
    const registered = [...watches.keys()].filter((n) => part.listed.get(n)?.status === "Registered");
    const deadline = performance.now() + UNREGISTER_WAIT_MS;
    const done = await Promise.all(
      registered.map(async (name) => {
        const watch = watches.get(name)!;
        const from = watch.seen.length;
        try {
          await this.mutate(() => this.client.action("PJSIPUnregister", { Registration: name }));
        } catch (error) {
          if (error instanceof AmiActionError) return null; // an older Asterisk, or no permission: the move goes on without it
          throw error;
        }
        await watch.wait(from, () => true, deadline);
        return name;
      }),
    );
    return done.filter((n): n is string => n !== null);
  }
}

function checkAddress(address: string): void {
  if (isIP(address) === 0) throw new PbxError("config", `not an IP address: ${JSON.stringify(address)}`);
}

function shortPlan(short: number | undefined): TrunkPlan | undefined {
  if (short !== undefined && (!Number.isInteger(short) || short < 1)) throw new PbxError("config", `shortExpirySeconds must be a positive whole number, got ${short}`);
  return short === undefined ? undefined : () => ({ expiration: String(short), max_random_initial_delay: "0" });
}

function restorePlan(saved: PjsipSavedTrunks): TrunkPlan {
  return (name) => {
    const s = saved.registrations[name];
    return s ? { expiration: s.expiration, max_random_initial_delay: s.max_random_initial_delay } : null;
  };
}


function failer(reports: Map<string, TrunkReport>, startedAt: number) {
  return (name: string, status: TrunkStatus, detail: string, timedOut = false): void => {
    reports.set(name, { name, ok: false, status, durationMs: Math.round(performance.now() - startedAt), expirySeconds: null, detail, ...(timedOut ? { timedOut } : {}) });
  };
}
