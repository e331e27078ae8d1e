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

import { isIP } from "node:net";
import { performance } from "node:perf_hooks";

import { AmiActionError, type AmiEvent } from "../ami/index.js";
import { AmiPbx, type Outcome } from "./base.js";
import { applyChanges, type ChangePlan, type ConfigSection, findSection, planChanges, readConfigFile, type SectionChange, type SectionRef, valueOf } from "./config-file.js";
import { describeFailure, PbxError } from "./errors.js";
import type { TrunkWatch } from "./registry.js";
import { waitRegistered } from "./trunk-wait.js";
import type {
  ExternalAddressData,
  ExternalAddressTarget,
  PbxResult,
  RegisterTrunksOptions,
  RegistrationState,
  SavedExternalAddress,
  SavedTrunkSettings,
  TrunkReport,
  TrunksData,
  TrunkStatus,
} from "./types.js";

const MEDIA = "external_media_address";
const SIGNALING = "external_signaling_address";
const RELOAD_MODULE = "res_pjsip.so";

interface ListedRegistration {
  readonly name: string;
  readonly clientUri: string;
  readonly serverUri: string;
  readonly expiration: string;
  readonly status: string;
}

type TrunkPlan = (name: string, current: { expiration: string | null; max_random_initial_delay: string | null }) => Record<string, string | null> | null;

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
      if (isIP(address) === 0) throw new PbxError("config", `not an IP address: ${JSON.stringify(address)}`);
      return this.#applyAddress(address, () => ({ [MEDIA]: address, [SIGNALING]: address }));
    });
  }

  restoreExternalAddress(saved: SavedExternalAddress): Promise<PbxResult<ExternalAddressData>> {
    return this.run("restoring the saved external address", this.operationTimeoutMs, async () => {
      if (saved.driver !== "pjsip") throw new PbxError("config", `saved settings are for ${saved.driver}, the PBX is configured for pjsip`);
      return this.#applyAddress("", (name) => {
        const s = saved.transports[name];
        return s ? { [MEDIA]: s.external_media_address, [SIGNALING]: s.external_signaling_address } : null;
      });
    });
  }

  async #applyAddress(address: string, wanted: (transport: string) => Record<string, string | null> | null): Promise<Outcome<ExternalAddressData>> {
    const file = this.#file;
    const names = this.#transports();
    const before = await readConfigFile(this.client, file);
    const refs = names.map((n) => findSection(before, file, n, "transport", "transport"));
    const saved: SavedExternalAddress = {
      driver: "pjsip",
      file,
      transports: Object.fromEntries(refs.map((r, i) => [names[i]!, { [MEDIA]: valueOf(r.section, MEDIA), [SIGNALING]: valueOf(r.section, SIGNALING) }])) as Record<
        string,
        { external_media_address: string | null; external_signaling_address: string | null }
      >,
    };
    const changes: SectionChange[] = [];
    const desired = new Map<string, Record<string, string | null>>();
    refs.forEach((ref, i) => {
      const values = wanted(names[i]!);
      if (!values) return;
      desired.set(names[i]!, values);
      changes.push({ ref, type: "transport", values });
    });
    const plan = planChanges(file, changes);
    const targets = (live: Map<string, Record<string, string | null>>): ExternalAddressTarget[] =>
      names.map((n) => ({ name: n, before: saved.transports[n]!, live: live.get(n) ?? {} }));
    let fileChanged = false;
    let reloaded = false;
    try {
      if (plan.actions.length) {
        await this.mutate(() => applyChanges(this.client, file, before, changes, plan));
        fileChanged = true;
      }
      let live = await this.#liveTransports(names);
      const mismatch = (): string[] => {
        const out: string[] = [];
        for (const [n, values] of desired) {
          for (const [k, v] of Object.entries(values)) {
            const have = live.get(n)?.[k] ?? null;
            if ((have ?? "") !== (v ?? "")) out.push(`${k} of transport '${n}' is ${have === null || have === "" ? "empty" : have}, expected ${v ?? "empty"}`);
          }
        }
        return out;
      };
      if (fileChanged || mismatch().length) {
        await this.reloadModule(RELOAD_MODULE);
        reloaded = true;
        live = await this.#liveTransports(names);
      }
      const problems = mismatch();
      const data: ExternalAddressData = { address, fileChanged, reloaded, targets: targets(live), saved };
      if (problems.length) {
        const message = `Asterisk (AMI ${this.target}) does not show the change live after reloading ${RELOAD_MODULE}: ${problems.join("; ")} — Asterisk older than 16.18/18.4 needs allow_reload=yes on the transport`;
        return { ok: false, detail: message, data, error: { kind: "verify", message } };
      }
      const what = address === "" ? "restored" : address;
      const detail = fileChanged
        ? `${names.join(", ")}: ${MEDIA} and ${SIGNALING} ${what} in ${file} (${plan.summary.length} change(s)), ${RELOAD_MODULE} reloaded, live`
        : `${names.join(", ")} already on ${what} in ${file}${reloaded ? `; ${RELOAD_MODULE} reloaded to make it live` : " and live"}`;
      return { ok: true, detail, data };
    } catch (error) {
      // The file may already be changed: hand back what is needed to put it back.
      return this.failed(error, `changing ${MEDIA}/${SIGNALING} in ${file}`, { address, fileChanged, reloaded, targets: targets(new Map()), saved });
    }
  }

  /** `pjsip show transport <name>` → the two external values as Asterisk runs them. */
  async #liveTransports(names: readonly string[]): Promise<Map<string, Record<string, string | null>>> {
    const out = new Map<string, Record<string, string | null>>();
    for (const name of names) {
      const lines = await this.client.command(`pjsip show transport ${name}`);
      const values: Record<string, string | null> = {};
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
      if (short !== undefined && (!Number.isInteger(short) || short < 1)) throw new PbxError("config", `shortExpirySeconds must be a positive whole number, got ${short}`);
      const keep = options.keepOriginals;
      if (keep && keep.driver !== "pjsip") throw new PbxError("config", `saved settings are for ${keep.driver}, the PBX is configured for pjsip`);
      const plan: TrunkPlan | undefined = short === undefined ? undefined : () => ({ expiration: String(short), max_random_initial_delay: "0" });
      return this.#trunks(startedAt, plan, keep?.driver === "pjsip" ? keep : undefined, options.onSaved);
    });
  }

  restoreTrunks(saved: SavedTrunkSettings): Promise<PbxResult<TrunksData>> {
    return this.run("restoring the trunks' expiry and registering them again", this.trunkTimeoutMs, async (startedAt) => {
      if (saved.driver !== "pjsip") throw new PbxError("config", `saved settings are for ${saved.driver}, the PBX is configured for pjsip`);
      const plan: TrunkPlan = (name) => {
        const s = saved.registrations[name];
        return s ? { expiration: s.expiration, max_random_initial_delay: s.max_random_initial_delay } : null;
      };
      return this.#trunks(startedAt, plan, saved);
    });
  }

  registrations(): Promise<PbxResult<{ trunks: RegistrationState[] }>> {
    return this.run("reading the trunks' registrations", this.operationTimeoutMs, async () => {
      const configured = this.config.pjsip?.registrations ?? "auto";
      const listed = await this.#listRegistrations();
      const wanted = configured === "auto" ? listed : listed.filter((r) => configured.includes(r.name));
      const trunks = wanted.map((r) => ({ name: r.name, status: r.status, registered: r.status === "Registered", expirySeconds: /^\d+$/.test(r.expiration) ? Number(r.expiration) : null }));
      return { ok: true, detail: trunks.map((t) => `${t.name} ${t.status}`).join(", ") || "no outbound registrations", data: { trunks } };
    });
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
        status: (e.fields.get("Status") ?? "").trim(),
      }));
  }

  async #trunks(
    startedAt: number,
    planFor: TrunkPlan | undefined,
    keep: Extract<SavedTrunkSettings, { driver: "pjsip" }> | undefined,
    onSaved?: (saved: SavedTrunkSettings) => void,
  ): Promise<Outcome<TrunksData>> {
    const file = this.#file;
    const configured = this.config.pjsip?.registrations ?? "auto";
    const listed = await this.#listRegistrations();
    const byName = new Map(listed.map((r) => [r.name, r]));
    const names = configured === "auto" ? listed.map((r) => r.name) : [...configured];
    const reports = new Map<string, TrunkReport>();
    const fail = (name: string, status: TrunkStatus, detail: string, expiry: number | null = null): void => {
      reports.set(name, { name, ok: false, status, durationMs: Math.round(performance.now() - startedAt), expirySeconds: expiry, detail });
    };

    // The file: which registrations live there (and so can get a short expiry). If it cannot be read
    // or changed safely, the trunks are still registered again: that does not depend on it.
    let fileProblem: string | undefined;
    let sections: ConfigSection[] = [];
    try {
      sections = await readConfigFile(this.client, file);
    } catch (error) {
      if (!(error instanceof PbxError) && !(error instanceof AmiActionError)) throw error;
      if (planFor) fileProblem = describeFailure(error, this.target, `reading ${file}`).message;
    }
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
    const saved: SavedTrunkSettings = {
      driver: "pjsip",
      file,
      registrations: { ...Object.fromEntries([...refs].map(([n, ref]) => [n, current(ref)])), ...(keep?.registrations ?? {}) },
    };
    if (planFor) onSaved?.(saved);
    const changes: SectionChange[] = [];
    const wanted = new Map<string, Record<string, string | null>>();
    for (const [name, ref] of refs) {
      const values = planFor?.(name, current(ref));
      if (!values) continue;
      wanted.set(name, values);
      changes.push({ ref, type: "registration", values });
    }
    let plan: ChangePlan = { actions: [], summary: [] };
    try {
      plan = planChanges(file, changes);
    } catch (error) {
      if (!(error instanceof PbxError)) throw error;
      fileProblem = error.message;
    }
    const changedNames = new Set(plan.actions.map((a) => names.find((n) => n.toLowerCase() === a.section.toLowerCase()) ?? a.section));

    // Watch every trunk Asterisk knows before anything can make it re-register.
    const watches = new Map<string, TrunkWatch>();
    for (const name of names) {
      const r = byName.get(name);
      if (!r) {
        fail(name, "Unknown", `registration '${name}' is not known to Asterisk (PJSIPShowRegistrationsOutbound does not list it)`);
        continue;
      }
      watches.set(name, this.registry.watch({ channelType: "PJSIP", username: r.clientUri, domain: r.serverUri }));
    }
    try {
      let reloadedAt: number | undefined;
      let fileChanged = false;
      if (plan.actions.length) {
        try {
          await this.mutate(() => applyChanges(this.client, file, sections, changes, plan));
          fileChanged = true;
          await this.reloadModule(RELOAD_MODULE);
          reloadedAt = performance.now();
        } catch (error) {
          // The expiry could not be changed (or the reload failed): still re-register every trunk.
          fileProblem = describeFailure(error, this.target, `changing the registrations' expiry in ${file}`).message;
        }
      }
      const reloadMarks = new Map<string, number>();
      if (reloadedAt !== undefined) for (const [n, w] of watches) reloadMarks.set(n, w.seen.length);
      const deadline = performance.now() + this.config.registerTimeoutMs;
      const grace = this.options.reloadRegisterGraceMs ?? 3000;

      await Promise.all(
        [...watches].map(async ([name, watch]) => {
          let from = watch.seen.length;
          const byReload = reloadMarks.has(name) && changedNames.has(name);
          if (byReload) {
            from = reloadMarks.get(name)!;
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
            fail(name, r.last, `${name} not Registered within ${this.config.registerTimeoutMs} ms (${how})${r.last === "Timeout" ? this.eventsHint() : ""}`);
          }
        }),
      );

      // Read back: Expiration as Asterisk runs it now.
      const after = await this.#listRegistrations().catch(() => undefined);
      for (const [name, report] of reports) {
        const r = after?.find((x) => x.name === name);
        if (!r) continue;
        const expiry = /^\d+$/.test(r.expiration) ? Number(r.expiration) : null;
        const want = wanted.get(name)?.expiration;
        let next: TrunkReport = { ...report, expirySeconds: expiry };
        if (report.ok && fileChanged && want !== undefined && (want ?? "3600") !== r.expiration) {
          next = { ...next, ok: false, detail: `${report.detail}, but Asterisk lists Expiration ${r.expiration}, expected ${want ?? "3600 (default)"}` };
        } else if (report.ok) {
          next = { ...next, detail: `${report.detail} (expiry ${r.expiration} s)` };
        }
        reports.set(name, next);
      }
      const trunks = names.map((n) => reports.get(n)!).filter((r) => r !== undefined);
      const data: TrunksData = { trunks, fileChanged, saved };
      const failed = trunks.filter((t) => !t.ok);
      const parts = [...(fileProblem ? [fileProblem] : []), ...notes, ...trunks.map((t) => t.detail)];
      const detail = trunks.length === 0 ? `no outbound registrations to manage${notes.length ? `; ${notes.join("; ")}` : ""}` : parts.join("; ");
      if (fileProblem) return { ok: false, detail, data, error: { kind: "refused", message: fileProblem } };
      if (failed.length) return { ok: false, detail, data, error: { kind: "register", message: failed.map((t) => t.detail).join("; ") } };
      return { ok: true, detail, data };
    } finally {
      for (const w of watches.values()) w.close();
    }
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
}

