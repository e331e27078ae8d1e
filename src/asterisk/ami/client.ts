// The AMI client: its options, the session state machine (connect, log in, ready, drop, reconnect
// with backoff, close), the subscribers to events and state changes, and the public API. One TCP
// session (socket, banner, ActionID correlation, lists) is connection.ts; bytes and packets are
// wire.ts; every error type is errors.ts.

import { backoffDelay, backoffPolicy, type BackoffPolicy } from "../../lib/backoff.js";
import { type ActionKind, type AmiContext, type AmiLogger, type AmiTimers, Connection } from "./connection.js";
import { AmiActionError, AmiConnectionError, AmiError, AmiLoginError, type AmiParseError, AmiStateError, AmiTimeoutError } from "./errors.js";
import type { AmiActionFields, AmiEvent, AmiListResult, AmiResponse } from "./wire.js";

// Part of the client's options; defined next to the connection, which uses them too.
export type { AmiLogger, AmiTimers } from "./connection.js";

// --- options ---------------------------------------------------------------------------------------

/** `Events:` of the Login: all, none, or a list of classes (`system`, `call`, …). */
export type AmiEventMask = "on" | "off" | readonly string[];

/** Reconnect delays: the first retry after 125–250 ms, growing to at most 30 s apart. */
export const AMI_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 30_000, factor: 2, jitter: 0.5 };

export interface AmiReconnectOptions {
  /** Overrides of AMI_BACKOFF. */
  backoff?: Partial<BackoffPolicy>;
  /** Source of the backoff's jitter, in [0, 1). Default Math.random. */
  random?: () => number;
  /** Give up after this many failed retries in a row (state `disconnected`). Default: never. */
  maxAttempts?: number;
}

export interface AmiClientOptions {
  host: string;
  /** Default 5038. */
  port?: number;
  username: string;
  secret: string;
  /**
   * `Events:` sent with the Login. Default "off". `null` sends no `Events:` header, which leaves
   * Asterisk's default (every class the user may read).
   */
  events?: AmiEventMask | null;
  /** TCP connect + banner, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Default per-action timeout (Login included), ms. Default 10 000. */
  actionTimeoutMs?: number;
  /** Parser bound, bytes. Default 1 MiB. */
  maxPacketSize?: number;
  /** Reconnect after a drop of an established session. Default on; false disables. */
  reconnect?: boolean | AmiReconnectOptions;
  logger?: AmiLogger;
  timers?: AmiTimers;
}

export interface AmiActionOptions {
  /** Overrides actionTimeoutMs for this action (for lists: until the completion event). */
  timeoutMs?: number;
}

/** The options with every default applied. */
interface AmiSettings extends AmiContext {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly secret: string;
  readonly events: AmiEventMask | null;
  readonly connectTimeoutMs: number;
  readonly actionTimeoutMs: number;
  readonly maxPacketSize: number | undefined;
  readonly reconnect: boolean;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
  readonly maxAttempts: number | undefined;
}

const NO_LOGGER: AmiLogger = { debug() {}, info() {}, warn() {}, error() {} };

const DEFAULT_TIMERS: AmiTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Apply the defaults; throws on a bad event mask or bad backoff options, in that order. */
function resolveOptions(options: AmiClientOptions): AmiSettings {
  const host = options.host;
  const port = options.port ?? 5038;
  const events = options.events === undefined ? "off" : options.events;
  // The classes go into a header line, so anything but a word would corrupt it.
  if (Array.isArray(events) && !events.every((c) => /^[a-z_]+$/i.test(c))) {
    throw new AmiError("AMI event classes must be words like 'system' or 'call'");
  }
  const rc = options.reconnect ?? true;
  const rcOptions: AmiReconnectOptions = typeof rc === "object" ? rc : {};
  return {
    host,
    port,
    // IPv6 literals need brackets to be readable next to the port.
    target: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    username: options.username,
    secret: options.secret,
    events,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    actionTimeoutMs: options.actionTimeoutMs ?? 10_000,
    maxPacketSize: options.maxPacketSize,
    reconnect: rc !== false,
    backoff: backoffPolicy(AMI_BACKOFF, rcOptions.backoff),
    random: rcOptions.random ?? Math.random,
    maxAttempts: rcOptions.maxAttempts,
    log: options.logger ?? NO_LOGGER,
    timers: options.timers ?? DEFAULT_TIMERS,
  };
}

// --- states ----------------------------------------------------------------------------------------

export type AmiConnectionState =
  | "disconnected" // not connected, nothing scheduled (initial, or connect() failed)
  | "connecting" // TCP connect + waiting for the banner
  | "loggingIn"
  | "ready"
  | "reconnecting" // the connection dropped; a retry is scheduled
  | "closed"; // close()/logoff(): terminal

export interface AmiStateChange {
  readonly state: AmiConnectionState;
  readonly previous: AmiConnectionState;
  /** Why we left `ready` or why an attempt failed. */
  readonly error?: Error;
  /** For `reconnecting`: retry number (1-based) and the delay before it. */
  readonly attempt?: number;
  readonly delayMs?: number;
}

export type Listener<T> = (value: T) => void;

// --- the client ------------------------------------------------------------------------------------

export class AmiClient {
  readonly host: string;
  readonly port: number;
  /** `host:port`, as errors and logs name it. */
  readonly target: string;

  readonly #settings: AmiSettings;
  readonly #eventListeners = new Map<string, Set<Listener<AmiEvent>>>();
  readonly #stateListeners = new Set<Listener<AmiStateChange>>();
  readonly #errorListeners = new Set<Listener<AmiParseError>>();

  #state: AmiConnectionState = "disconnected";
  #conn: Connection | undefined;
  /** Set by close()/logoff(): the drops that follow are ours, not to be recovered from. */
  #closing = false;
  /** Client-wide, so an ActionID is never reused across reconnects. */
  #nextActionId = 1;
  /** The connect or retry under way, so that concurrent connect() calls share it. */
  #inflight: Promise<void> | undefined;
  /** Failed retries since the session was last up (counts toward maxAttempts and the backoff). */
  #retries = 0;
  #retryTimer: unknown = undefined;

  constructor(options: AmiClientOptions) {
    const settings = resolveOptions(options);
    this.#settings = settings;
    this.host = settings.host;
    this.port = settings.port;
    this.target = settings.target;
  }

  get state(): AmiConnectionState {
    return this.#state;
  }

  /** Version from the banner of the current connection (`9.0.0` for Asterisk 20). */
  get amiVersion(): string | undefined {
    return this.#conn?.banner;
  }

  // --- subscriptions (each returns its unsubscribe function) ---------------------------------------

  /** Events by name (case-insensitive), or every event with "*". List items of list() are not delivered here. */
  onEvent(name: string, listener: Listener<AmiEvent>): () => void {
    const key = name === "*" ? "*" : name.toLowerCase();
    let set = this.#eventListeners.get(key);
    if (!set) this.#eventListeners.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  onStateChange(listener: Listener<AmiStateChange>): () => void {
    this.#stateListeners.add(listener);
    return () => {
      this.#stateListeners.delete(listener);
    };
  }

  /** Bad bytes from the server (garbage lines, oversized packets); the client carries on. */
  onProtocolError(listener: Listener<AmiParseError>): () => void {
    this.#errorListeners.add(listener);
    return () => {
      this.#errorListeners.delete(listener);
    };
  }

  /** The next event `name` that satisfies `predicate`, within timeoutMs (default actionTimeoutMs); rejects once the client is closed. */
  waitForEvent(name: string, predicate: (e: AmiEvent) => boolean = () => true, options: AmiActionOptions = {}): Promise<AmiEvent> {
    const { target, timers } = this.#settings;
    const timeoutMs = options.timeoutMs ?? this.#settings.actionTimeoutMs;
    return new Promise((resolve, reject) => {
      const done = (): void => {
        offEvent();
        offState();
        timers.clearTimeout(timer);
      };
      const offEvent = this.onEvent(name, (e) => {
        if (!predicate(e)) return;
        done();
        resolve(e);
      });
      const offState = this.onStateChange((c) => {
        if (c.state !== "closed") return;
        done();
        reject(new AmiStateError(`AMI client for ${target} closed while waiting for event '${name}'`));
      });
      const timer = timers.setTimeout(() => {
        done();
        reject(new AmiTimeoutError(`no AMI event '${name}' from ${target} within ${timeoutMs} ms`, target, timeoutMs));
      }, timeoutMs);
    });
  }

  // --- connection ----------------------------------------------------------------------------------

  /**
   * Connect and log in, once: rejects with AmiConnectionError (refused, reset), AmiTimeoutError (no
   * TCP connection or banner in time) or AmiLoginError, and schedules nothing. Once a session has been
   * up, drops are retried with backoff until close().
   */
  connect(): Promise<void> {
    if (this.#state === "closed") return Promise.reject(new AmiStateError(`AMI client for ${this.target} is closed`));
    if (this.#state === "ready") return Promise.resolve();
    if (this.#inflight) return this.#inflight;
    if (this.#state === "reconnecting") {
      // Retry now instead of waiting for the timer.
      this.#cancelRetryTimer();
      return this.#retry();
    }
    this.#retries = 0; // a deliberate connect() starts the backoff afresh
    return this.#track(
      this.#attempt().then(
        () => {
          this.#retries = 0;
        },
        (error: Error) => {
          if (!this.#closing) this.#setState("disconnected", { error });
          throw error;
        },
      ),
    );
  }

  /** Send Logoff (Asterisk answers Goodbye and hangs up), then close. */
  async logoff(options: AmiActionOptions = {}): Promise<AmiResponse | undefined> {
    const conn = this.#conn;
    if (this.#state !== "ready" || !conn) {
      await this.close();
      return undefined;
    }
    this.#closing = true; // the hang-up that follows Goodbye is not a drop to recover from
    try {
      const result = await this.#send(conn, "Logoff", {}, "single", options.timeoutMs ?? this.#settings.actionTimeoutMs);
      return result.response;
    } finally {
      await this.close();
    }
  }

  /** Close now: pending actions are rejected, no reconnect. Idempotent. */
  close(): Promise<void> {
    this.#closing = true;
    this.#cancelRetryTimer();
    if (this.#state !== "closed") this.#setState("closed");
    return this.#conn?.destroy() ?? Promise.resolve();
  }

  // --- actions -------------------------------------------------------------------------------------

  /**
   * Send an action and wait for its response. `Response: Error` rejects with AmiActionError carrying
   * Asterisk's message. `ActionID` is set by the client.
   */
  action(action: string, fields: AmiActionFields = {}, options: AmiActionOptions = {}): Promise<AmiResponse> {
    return this.#sendReady(action, fields, "single", options).then((r) => r.response);
  }

  /**
   * An action answered with an event list (`EventList: start` … `EventList: Complete`): resolves once
   * the completion event arrived, with the items in order. An action that turns out not to be a list
   * resolves with no items and `complete` undefined.
   */
  list(action: string, fields: AmiActionFields = {}, options: AmiActionOptions = {}): Promise<AmiListResult> {
    return this.#sendReady(action, fields, "list", options);
  }

  /**
   * Run a CLI command; resolves with its output lines, from `Output:` (Asterisk ≥ 14) or the
   * `Response: Follows` body (older). An unknown command rejects with AmiActionError whose message
   * is Asterisk's output ("No such command …").
   */
  async command(cli: string, options: AmiActionOptions = {}): Promise<string[]> {
    const response = await this.action("Command", { Command: cli }, options);
    return [...response.output];
  }

  // --- internals: connecting -----------------------------------------------------------------------

  #track(p: Promise<void>): Promise<void> {
    this.#inflight = p;
    const clear = (): void => {
      if (this.#inflight === p) this.#inflight = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /** One attempt: TCP, banner, Login. Leaves the state `ready` or throws (socket destroyed). */
  async #attempt(): Promise<void> {
    const { target, log, username, secret, events } = this.#settings;
    this.#setState("connecting");
    // The settings are both the context (target, log, timers) and the socket options.
    const conn = new Connection(this.#settings, this.#settings, {
      event: (event) => this.#emit(this.#eventListenersFor(event.event), event, "event"),
      protocolError: (error) => this.#emit(this.#errorListeners, error, "protocolError"),
      closed: (c) => this.#onClose(c),
    });
    this.#conn = conn;
    try {
      const version = await conn.waitForBanner(this.#settings.connectTimeoutMs);
      log.debug({ target, amiVersion: version }, "AMI banner received");
      this.#setState("loggingIn");
      const fields: Array<[string, string]> = [
        ["Username", username],
        ["Secret", secret],
      ];
      // `null` leaves out `Events:`, so Asterisk applies the user's own read classes.
      if (events !== null) fields.push(["Events", typeof events === "string" ? events : events.join(",")]);
      try {
        await this.#send(conn, "Login", fields, "single", this.#settings.actionTimeoutMs);
      } catch (error) {
        // `Response: Error` to Login means bad credentials or ACL: say so; anything else passes.
        throw error instanceof AmiActionError ? new AmiLoginError(username, error.amiMessage) : error;
      }
      if (conn.closed) throw new AmiConnectionError(target, `AMI connection to ${target} closed right after login`);
      conn.established = true;
      log.info({ target, username, amiVersion: version }, "AMI logged in");
      this.#setState("ready");
    } catch (error) {
      void conn.destroy();
      throw error;
    }
  }

  #onClose(conn: Connection): void {
    const { cause, code, how } = conn.failAll(this.#closing);
    if (this.#conn === conn) this.#conn = undefined;

    if (!conn.established) return; // a failed attempt: its caller decides what comes next
    if (this.#closing) {
      if (this.#state !== "closed") this.#setState("closed");
      return;
    }
    const error = new AmiConnectionError(this.target, `AMI connection to ${this.target} lost${how}`, { cause, code });
    this.#settings.log.warn({ target: this.target, err: { message: error.message, code } }, "AMI connection lost");
    this.#scheduleRetry(error);
  }

  /** After a drop or a failed retry: schedule the next retry, or give up (state `disconnected`). */
  #scheduleRetry(error: Error): void {
    if (this.#closing) return;
    const { target, log, timers, backoff, random, maxAttempts } = this.#settings;
    if (!this.#settings.reconnect) {
      this.#setState("disconnected", { error });
      return;
    }
    const failed = this.#retries++;
    if (maxAttempts !== undefined && failed >= maxAttempts) {
      const gaveUp = new AmiConnectionError(target, `gave up reconnecting to AMI at ${target} after ${failed} attempts: ${error.message}`, {
        cause: error,
      });
      log.error({ target, attempts: failed }, "AMI reconnect gave up");
      this.#setState("disconnected", { error: gaveUp });
      return;
    }
    const attempt = failed + 1;
    const delayMs = backoffDelay(attempt, backoff, random);
    log.info({ target, attempt, delayMs }, "AMI reconnect scheduled");
    this.#setState("reconnecting", { error, attempt, delayMs });
    this.#retryTimer = timers.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#retry().catch(() => {}); // failures are logged and rescheduled by #retry()
    }, delayMs);
  }

  #cancelRetryTimer(): void {
    if (this.#retryTimer === undefined) return;
    this.#settings.timers.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  #retry(): Promise<void> {
    return this.#track(
      this.#attempt().then(
        () => {
          this.#retries = 0;
          this.#settings.log.info({ target: this.target }, "AMI reconnected");
        },
        (error: Error) => {
          const level = error instanceof AmiLoginError ? "error" : "warn";
          this.#settings.log[level]({ target: this.target, err: { message: error.message } }, "AMI reconnect attempt failed");
          this.#scheduleRetry(error);
          throw error;
        },
      ),
    );
  }

  #setState(state: AmiConnectionState, extra: Omit<AmiStateChange, "state" | "previous"> = {}): void {
    const previous = this.#state;
    if (previous === state && state !== "reconnecting") return;
    this.#state = state;
    const change: AmiStateChange = { state, previous, ...extra };
    this.#settings.log.debug({ target: this.target, state, previous }, "AMI state");
    this.#emit(this.#stateListeners, change, "state");
  }

  // --- internals: subscribers ----------------------------------------------------------------------

  #eventListenersFor(name: string): Listener<AmiEvent>[] {
    return [...(this.#eventListeners.get(name.toLowerCase()) ?? []), ...(this.#eventListeners.get("*") ?? [])];
  }

  /** Calls each listener of a copy (a listener may unsubscribe, or subscribe, while being called). */
  #emit<T>(listeners: Iterable<Listener<T>>, value: T, what: string): void {
    for (const listener of [...listeners]) {
      try {
        listener(value);
      } catch (error) {
        // A subscriber's bug must not break the connection.
        this.#settings.log.error(
          { target: this.target, err: { message: error instanceof Error ? error.message : String(error) } },
          `AMI ${what} listener threw`,
        );
      }
    }
  }

  // --- internals: actions --------------------------------------------------------------------------

  #sendReady(action: string, fields: AmiActionFields, kind: ActionKind, options: AmiActionOptions): Promise<AmiListResult> {
    const conn = this.#conn;
    if (this.#state !== "ready" || !conn || conn.closed) {
      return Promise.reject(
        new AmiStateError(`AMI client for ${this.target} is not connected (state: ${this.#state}); action '${action}' not sent`),
      );
    }
    return this.#send(conn, action, fields, kind, options.timeoutMs ?? this.#settings.actionTimeoutMs);
  }

  #send(conn: Connection, action: string, fields: AmiActionFields, kind: ActionKind, timeoutMs: number): Promise<AmiListResult> {
    return conn.send(`wanctl-${this.#nextActionId++}`, action, fields, kind, timeoutMs);
  }
}
