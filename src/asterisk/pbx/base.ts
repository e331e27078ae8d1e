// What the PJSIP and chan_sip adapters share: one AMI connection (logged in with `Events: system`
// for the Registry events), operations run one at a time with a time limit, errors turned into
// results, module reloads, active calls and health.

import { performance } from "node:perf_hooks";

import type { AsteriskConfig } from "../../config/schema/asterisk.js";
import { AmiClient, type AmiClientOptions, type AmiLogger } from "../ami/client.js";
import { AmiActionError, AmiConnectionError, AmiStateError } from "../ami/errors.js";
import { type AriSettings, ariInfo } from "./ari.js";
import { describeFailure, PbxError } from "./errors.js";
import { RegistryTracker } from "./registry.js";
import type { ActiveCallsData, HealthData, Pbx, PbxDriver, PbxFailure, PbxResult } from "./types.js";

export interface PbxOptions {
  /** The AMI secret, already read (createPbx() reads it from the config). */
  readonly secret: string;
  /** The ARI password, when asterisk.ari is configured. */
  readonly ariPassword?: string;
  readonly logger?: AmiLogger;
  /** Overall limit of an address or calls operation (ms). Default 6 × asterisk.ami.timeoutMs. */
  readonly operationTimeoutMs?: number;
  /**
   * A registration whose settings changed is re-registered by the reload itself; if no Registry
   * event for it arrives within this (ms), PJSIPRegister is sent anyway. Default 3000.
   */
  readonly reloadRegisterGraceMs?: number;
  /** AMI reconnect policy (default: AmiClient's, exponential backoff, forever). */
  readonly reconnect?: AmiClientOptions["reconnect"];
  /** fetch for ARI (tests). */
  readonly fetch?: typeof fetch;
}

/** What an operation's body returns; run() adds the duration. */
export interface Outcome<D> {
  readonly ok: boolean;
  readonly detail: string;
  readonly data?: D;
  readonly error?: PbxFailure;
}

const NO_LOGGER: AmiLogger = { debug() {}, info() {}, warn() {}, error() {} };

export abstract class AmiPbx implements Pbx {
  abstract readonly driver: PbxDriver;
  readonly target: string;
  protected readonly client: AmiClient;
  protected readonly config: AsteriskConfig;
  protected readonly registry: RegistryTracker;
  protected readonly log: AmiLogger;
  protected readonly options: PbxOptions;
  protected readonly actionTimeoutMs: number;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #writes = 0;

  constructor(config: AsteriskConfig, options: PbxOptions) {
    this.config = config;
    this.options = options;
    this.log = options.logger ?? NO_LOGGER;
    this.actionTimeoutMs = config.ami.timeoutMs;
    this.client = new AmiClient({
      host: config.ami.host,
      port: config.ami.port,
      username: config.ami.username,
      secret: options.secret,
      events: ["system"],
      connectTimeoutMs: config.ami.timeoutMs,
      actionTimeoutMs: config.ami.timeoutMs,
      ...(options.reconnect !== undefined ? { reconnect: options.reconnect } : {}),
      logger: this.log,
    });
    this.target = this.client.target;
    this.registry = new RegistryTracker(this.client);
  }

  // --- the operation frame -------------------------------------------------------------------------

  /** Serialise operations (two of them must never interleave UpdateConfig/Reload on one file). */
  async #lock(): Promise<() => void> {
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return release;
  }

  /**
   * Run one operation: connect if needed, bounded by `limitMs`, errors turned into a failed result.
   * On the deadline the result is returned at once; the work itself (every AMI action bounded)
   * finishes in the background before the next operation starts.
   */
  protected async run<D>(what: string, limitMs: number, work: (startedAt: number) => Promise<Outcome<D>>): Promise<PbxResult<D>> {
    const release = await this.#lock();
    const started = performance.now();
    const writesBefore = this.#writes;
    let wasConnected = false;
    const attempt = async (): Promise<Outcome<D>> => {
      if (this.#closed) throw new PbxError("connect", `the PBX adapter for ${this.target} is closed`);
      await this.connected();
      wasConnected = true;
      return work(started);
    };
    const body = attempt().catch(async (error: unknown): Promise<Outcome<D>> => {
      // The connection dropped under a session that was up (Asterisk restarted, say) before
      // anything was changed: once more on a fresh connection. After a change, never: the caller
      // gets the failure and the saved values, and retries knowingly.
      if (wasConnected && this.#writes === writesBefore && !this.#closed && (error instanceof AmiConnectionError || error instanceof AmiStateError)) {
        this.log.info({ target: this.target }, `PBX: connection lost while ${what}; trying once more`);
        try {
          return await attempt();
        } catch (again) {
          return this.failed(again, what);
        }
      }
      return this.failed(error, what);
    });
    void body.finally(release);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<Outcome<D>>((resolve) => {
      timer = setTimeout(() => {
        const message = `${what}: not finished within ${limitMs} ms (AMI ${this.target})`;
        resolve({ ok: false, detail: message, error: { kind: "deadline", message } });
      }, limitMs);
    });
    const outcome = await Promise.race([body, deadline]);
    clearTimeout(timer);
    const result: PbxResult<D> = { ...outcome, durationMs: Math.round(performance.now() - started) };
    const level = result.ok ? "info" : "warn";
    this.log[level]({ target: this.target, driver: this.driver, ok: result.ok, durationMs: result.durationMs, detail: result.detail }, `PBX: ${what}`);
    return result;
  }

  protected failed<D>(error: unknown, what: string, data?: D): Outcome<D> {
    const f = describeFailure(error, this.target, what);
    return { ok: false, detail: f.message, error: f, ...(data !== undefined ? { data } : {}) };
  }

  /** Mark what follows as a change to Asterisk (no automatic retry of the operation after it). */
  protected async mutate<T>(fn: () => Promise<T>): Promise<T> {
    this.#writes++;
    return fn();
  }

  protected async connected(): Promise<void> {
    if (this.client.state !== "ready") await this.client.connect();
  }

  protected get operationTimeoutMs(): number {
    return this.options.operationTimeoutMs ?? 6 * this.actionTimeoutMs;
  }

  protected get trunkTimeoutMs(): number {
    return this.config.registerTimeoutMs + (this.options.operationTimeoutMs ?? 6 * this.actionTimeoutMs);
  }

  /** Reload a module; Asterisk's "A reload is in progress" is retried a few times. */
  protected async reloadModule(module: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.mutate(() => this.client.action("Reload", { Module: module }));
        return;
      } catch (error) {
        if (attempt < 4 && error instanceof AmiActionError && /reload is in progress/i.test(error.amiMessage ?? "")) {
          await new Promise((r) => setTimeout(r, 250 * attempt));
          continue;
        }
        throw error;
      }
    }
  }

  /**
   * AMI ModuleCheck (write=system): Asterisk 20 answers `Response: Success` for a loaded module and
   * `Response: Error`, `Message: Module not loaded` otherwise (manager.c manager_modulecheck()).
   */
  protected async moduleLoaded(module: string): Promise<boolean> {
    try {
      await this.client.action("ModuleCheck", { Module: module });
      return true;
    } catch (error) {
      if (error instanceof AmiActionError && /^Module not loaded/i.test(error.amiMessage ?? "")) return false;
      throw error;
    }
  }

  /** Trailer for a registration failure when no Registry event ever arrived. */
  protected eventsHint(): string {
    if (this.registry.systemEventsSeen) return "";
    return " (no system events from Asterisk at all: does the manager user have read=system in manager.conf?)";
  }

  // --- shared operations ---------------------------------------------------------------------------

  activeCalls(): Promise<PbxResult<ActiveCallsData>> {
    return this.run("counting active calls", this.operationTimeoutMs, async () => {
      const list = await this.client.list("CoreShowChannels");
      const groups = new Set<string>();
      let local = 0;
      for (const item of list.items) {
        if (item.event.toLowerCase() !== "coreshowchannel") continue;
        const channel = item.fields.get("Channel") ?? "";
        if (/^Local\//i.test(channel)) local++;
        groups.add(item.fields.get("Linkedid") || item.fields.get("Uniqueid") || channel);
      }
      const channels = list.items.filter((i) => i.event.toLowerCase() === "coreshowchannel").length;
      const data: ActiveCallsData = { calls: groups.size, channels, localChannels: local };
      return { ok: true, detail: `${data.calls} call(s) up (${channels} channel(s), ${local} of them Local)`, data };
    });
  }

  health(): Promise<PbxResult<HealthData>> {
    return this.run("checking Asterisk's health", this.operationTimeoutMs, async () => {
      await this.client.action("Ping");
      let asteriskVersion: string | undefined;
      try {
        asteriskVersion = (await this.client.action("CoreSettings")).fields.get("AsteriskVersion");
      } catch (error) {
        if (!(error instanceof AmiActionError)) throw error; // a user without write=system still passes Ping
      }
      const amiVersion = this.client.amiVersion;
      let ari: HealthData["ari"];
      if (this.config.ari) {
        const settings: AriSettings = { url: this.config.ari.url, username: this.config.ari.username, password: this.options.ariPassword ?? "" };
        try {
          const info = await ariInfo(settings, { timeoutMs: this.actionTimeoutMs, ...(this.options.fetch ? { fetch: this.options.fetch } : {}) });
          ari = { ok: true, ...(info.version !== undefined ? { version: info.version } : {}), detail: `ARI answers (Asterisk ${info.version ?? "?"})` };
        } catch (error) {
          ari = { ok: false, detail: error instanceof Error ? error.message : String(error) };
        }
      }
      const data: HealthData = { amiVersion, asteriskVersion, ...(ari ? { ari } : {}) };
      const ok = ari === undefined || ari.ok;
      const detail = `AMI ${this.target} answers (AMI ${amiVersion ?? "?"}, Asterisk ${asteriskVersion ?? "?"})${ari ? `; ${ari.detail}` : ""}`;
      return ok ? { ok, detail, data } : { ok, detail, data, error: { kind: "connect", message: ari!.detail } };
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue.catch(() => {});
    if (this.client.state === "ready") await this.client.logoff({ timeoutMs: Math.min(2000, this.actionTimeoutMs) }).catch(() => this.client.close());
    else await this.client.close();
  }

  abstract setExternalAddress(address: string): ReturnType<Pbx["setExternalAddress"]>;
  abstract restoreExternalAddress(saved: Parameters<Pbx["restoreExternalAddress"]>[0]): ReturnType<Pbx["restoreExternalAddress"]>;
  abstract registerTrunks(options?: Parameters<Pbx["registerTrunks"]>[0]): ReturnType<Pbx["registerTrunks"]>;
  abstract restoreTrunks(saved: Parameters<Pbx["restoreTrunks"]>[0]): ReturnType<Pbx["restoreTrunks"]>;
  abstract readTrunks(): ReturnType<Pbx["readTrunks"]>;
  abstract readAddress(): ReturnType<Pbx["readAddress"]>;
  abstract inUse(): ReturnType<Pbx["inUse"]>;
  abstract moveTo(address: string, options?: Parameters<Pbx["moveTo"]>[1]): ReturnType<Pbx["moveTo"]>;
}
