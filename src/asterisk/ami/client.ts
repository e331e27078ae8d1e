// The AMI connection: TCP + banner + Login, actions correlated by ActionID, event lists, events to
// subscribers, reconnect with backoff. Framing lives in parser.ts; this file only routes packets.

import net from "node:net";

import { type Backoff, type BackoffOptions, exponentialBackoff } from "./backoff.js";
import {
  AmiActionError,
  AmiConnectionError,
  AmiError,
  AmiLoginError,
  AmiParseError,
  AmiStateError,
  AmiTimeoutError,
} from "./errors.js";
import {
  type AmiActionFields,
  type AmiEvent,
  type AmiListResult,
  type AmiPacket,
  type AmiResponse,
  actionFieldPairs,
  isResponseStatus,
  redactFields,
  serializeAction,
} from "./packet.js";
import { AmiParser, type AmiParserOutput } from "./parser.js";

/** pino-compatible: pass a pino logger (or a child) as is. */
export interface AmiLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Timer functions, injectable so tests control reconnect delays and timeouts. */
export interface AmiTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

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

/** `Events:` of the Login: all, none, or a list of classes (`system`, `call`, …). */
export type AmiEventMask = "on" | "off" | readonly string[];

export interface AmiReconnectOptions {
  /** A Backoff, or options for exponentialBackoff. */
  backoff?: Backoff | BackoffOptions;
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

type Listener<T> = (value: T) => void;

interface Pending {
  readonly action: string;
  readonly actionId: string;
  readonly kind: "single" | "list";
  readonly timeoutMs: number;
  timer: unknown;
  response: AmiResponse | undefined;
  readonly items: AmiEvent[];
  complete: AmiEvent | undefined;
  readonly resolve: (value: AmiListResult) => void;
  readonly reject: (error: Error) => void;
}

/** One TCP connection; a reconnect makes a new one, so nothing leaks between sessions. */
interface Connection {
  readonly socket: net.Socket;
  readonly parser: AmiParser;
  readonly pending: Map<string, Pending>;
  banner: string | undefined;
  tcpConnected: boolean;
  established: boolean;
  closed: boolean;
  socketError: (Error & { code?: string }) | undefined;
  bannerWait: { resolve: (version: string) => void; reject: (error: Error) => void; timer: unknown } | undefined;
}

const NO_LOGGER: AmiLogger = { debug() {}, info() {}, warn() {}, error() {} };

const DEFAULT_TIMERS: AmiTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class AmiClient {
  readonly host: string;
  readonly port: number;
  /** `host:port`, as errors and logs name it. */
  readonly target: string;

  readonly #username: string;
  readonly #secret: string;
  readonly #events: AmiEventMask | null;
  readonly #connectTimeoutMs: number;
  readonly #actionTimeoutMs: number;
  readonly #maxPacketSize: number | undefined;
  readonly #reconnect: boolean;
  readonly #backoff: Backoff;
  readonly #maxAttempts: number | undefined;
  readonly #log: AmiLogger;
  readonly #timers: AmiTimers;

  #state: AmiConnectionState = "disconnected";
  #conn: Connection | undefined;
  #closing = false;
  #nextActionId = 1;
  #reconnectAttempt = 0;
  #reconnectTimer: unknown;
  #inflight: Promise<void> | undefined;

  readonly #eventListeners = new Map<string, Set<Listener<AmiEvent>>>();
  readonly #stateListeners = new Set<Listener<AmiStateChange>>();
  readonly #errorListeners = new Set<Listener<AmiParseError>>();

  constructor(options: AmiClientOptions) {
    this.host = options.host;
    this.port = options.port ?? 5038;
    this.target = this.host.includes(":") ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
    this.#username = options.username;
    this.#secret = options.secret;
    this.#events = options.events === undefined ? "off" : options.events;
    if (Array.isArray(this.#events) && !this.#events.every((c) => /^[a-z_]+$/i.test(c))) {
      throw new AmiError("AMI event classes must be words like 'system' or 'call'");
    }
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.#actionTimeoutMs = options.actionTimeoutMs ?? 10_000;
    this.#maxPacketSize = options.maxPacketSize;
    const rc = options.reconnect ?? true;
    this.#reconnect = rc !== false;
    const rcOptions: AmiReconnectOptions = typeof rc === "object" ? rc : {};
    const b = rcOptions.backoff;
    this.#backoff = b !== undefined && "delay" in b && typeof b.delay === "function" ? b : exponentialBackoff((b ?? {}) as BackoffOptions);
    this.#maxAttempts = rcOptions.maxAttempts;
    this.#log = options.logger ?? NO_LOGGER;
    this.#timers = options.timers ?? DEFAULT_TIMERS;
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

  /** The next event `name` that satisfies `predicate`, within timeoutMs (default actionTimeoutMs). */
  waitForEvent(name: string, predicate: (e: AmiEvent) => boolean = () => true, options: AmiActionOptions = {}): Promise<AmiEvent> {
    const timeoutMs = options.timeoutMs ?? this.#actionTimeoutMs;
    return new Promise((resolve, reject) => {
      const done = (): void => {
        offEvent();
        offState();
        this.#timers.clearTimeout(timer);
      };
      const offEvent = this.onEvent(name, (e) => {
        if (!predicate(e)) return;
        done();
        resolve(e);
      });
      const offState = this.onStateChange((c) => {
        if (c.state !== "closed") return;
        done();
        reject(new AmiStateError(`AMI client for ${this.target} closed while waiting for event '${name}'`));
      });
      const timer = this.#timers.setTimeout(() => {
        done();
        reject(new AmiTimeoutError(`no AMI event '${name}' from ${this.target} within ${timeoutMs} ms`, this.target, timeoutMs));
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
      this.#timers.clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      return this.#retry();
    }
    this.#reconnectAttempt = 0; // a deliberate connect() starts the backoff afresh
    return this.#track(
      this.#attempt().then(
        () => {
          this.#reconnectAttempt = 0;
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
      const result = await this.#send(conn, "Logoff", {}, "single", options.timeoutMs ?? this.#actionTimeoutMs);
      return result.response;
    } finally {
      await this.close();
    }
  }

  /** Close now: pending actions are rejected, no reconnect. Idempotent. */
  close(): Promise<void> {
    this.#closing = true;
    if (this.#reconnectTimer !== undefined) {
      this.#timers.clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
    }
    if (this.#state !== "closed") this.#setState("closed");
    const conn = this.#conn;
    if (!conn || conn.closed) return Promise.resolve();
    return new Promise((resolve) => {
      conn.socket.once("close", () => resolve());
      conn.socket.destroy();
    });
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
    const conn = this.#open();
    try {
      const version = await new Promise<string>((resolve, reject) => {
        const timer = this.#timers.setTimeout(() => {
          const what = conn.tcpConnected ? "sent no AMI banner" : "did not accept a TCP connection";
          conn.bannerWait = undefined;
          reject(
            new AmiTimeoutError(
              `AMI connection to ${this.target} timed out: the server ${what} within ${this.#connectTimeoutMs} ms`,
              this.target,
              this.#connectTimeoutMs,
            ),
          );
        }, this.#connectTimeoutMs);
        conn.bannerWait = { resolve, reject, timer };
      });
      this.#log.debug({ target: this.target, amiVersion: version }, "AMI banner received");
      this.#setState("loggingIn");
      const login: Array<[string, string]> = [
        ["Username", this.#username],
        ["Secret", this.#secret],
      ];
      if (this.#events !== null) login.push(["Events", typeof this.#events === "string" ? this.#events : this.#events.join(",")]);
      try {
        await this.#send(conn, "Login", login, "single", this.#actionTimeoutMs);
      } catch (error) {
        if (error instanceof AmiActionError) throw new AmiLoginError(this.#username, error.amiMessage);
        throw error;
      }
      if (conn.closed) throw new AmiConnectionError(this.target, `AMI connection to ${this.target} closed right after login`);
      conn.established = true;
      this.#log.info({ target: this.target, username: this.#username, amiVersion: version }, "AMI logged in");
      this.#setState("ready");
    } catch (error) {
      if (!conn.closed) conn.socket.destroy();
      throw error;
    }
  }

  #open(): Connection {
    this.#setState("connecting");
    const socket = net.createConnection({ host: this.host, port: this.port });
    const conn: Connection = {
      socket,
      parser: new AmiParser(this.#maxPacketSize === undefined ? {} : { maxPacketSize: this.#maxPacketSize }),
      pending: new Map(),
      banner: undefined,
      tcpConnected: false,
      established: false,
      closed: false,
      socketError: undefined,
      bannerWait: undefined,
    };
    this.#conn = conn;
    socket.setNoDelay(true);
    socket.on("connect", () => {
      conn.tcpConnected = true;
      // Notice a PBX that vanished without a FIN (power cut, link gone) within a minute or so.
      socket.setKeepAlive(true, 15_000);
    });
    socket.on("data", (chunk: Buffer) => {
      if (conn.closed) return;
      for (const out of conn.parser.push(chunk)) this.#onOutput(conn, out);
    });
    socket.on("error", (error: Error & { code?: string }) => {
      conn.socketError ??= error;
    });
    socket.on("close", () => this.#onClose(conn));
    return conn;
  }

  #failBanner(conn: Connection, error: Error): void {
    const wait = conn.bannerWait;
    if (!wait) return;
    conn.bannerWait = undefined;
    this.#timers.clearTimeout(wait.timer);
    wait.reject(error);
  }

  #onClose(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    for (const out of conn.parser.end()) this.#onOutput(conn, out);
    const cause = conn.socketError;
    const code = cause?.code;
    const how = cause ? `: ${cause.message}` : "";

    if (conn.bannerWait) {
      const error = this.#closing
        ? new AmiStateError(`AMI client for ${this.target} closed while connecting`)
        : conn.tcpConnected
          ? new AmiConnectionError(this.target, `AMI server ${this.target} closed the connection before sending its banner${how}`, { cause, code })
          : new AmiConnectionError(this.target, `AMI connection to ${this.target} failed${how}`, { cause, code });
      this.#failBanner(conn, error);
    }

    for (const p of conn.pending.values()) {
      this.#timers.clearTimeout(p.timer);
      const verb = this.#closing ? "closed" : "lost";
      p.reject(
        new AmiConnectionError(
          this.target,
          `AMI connection to ${this.target} ${verb} before action '${p.action}' (ActionID ${p.actionId}) was answered${how}`,
          { cause, code },
        ),
      );
    }
    conn.pending.clear();
    if (this.#conn === conn) this.#conn = undefined;

    if (!conn.established) return; // a failed attempt: its caller decides what comes next
    if (this.#closing) {
      if (this.#state !== "closed") this.#setState("closed");
      return;
    }
    const error = new AmiConnectionError(this.target, `AMI connection to ${this.target} lost${how}`, { cause, code });
    this.#log.warn({ target: this.target, err: { message: error.message, code } }, "AMI connection lost");
    this.#scheduleReconnect(error);
  }

  #scheduleReconnect(error: Error): void {
    if (this.#closing) return;
    if (!this.#reconnect) {
      this.#setState("disconnected", { error });
      return;
    }
    const attempt = this.#reconnectAttempt++;
    if (this.#maxAttempts !== undefined && attempt >= this.#maxAttempts) {
      const gaveUp = new AmiConnectionError(this.target, `gave up reconnecting to AMI at ${this.target} after ${attempt} attempts: ${error.message}`, {
        cause: error,
      });
      this.#log.error({ target: this.target, attempts: attempt }, "AMI reconnect gave up");
      this.#setState("disconnected", { error: gaveUp });
      return;
    }
    const delayMs = this.#backoff.delay(attempt);
    this.#log.info({ target: this.target, attempt: attempt + 1, delayMs }, "AMI reconnect scheduled");
    this.#setState("reconnecting", { error, attempt: attempt + 1, delayMs });
    this.#reconnectTimer = this.#timers.setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#retry().catch(() => {}); // failures are logged and rescheduled by #retry
    }, delayMs);
  }

  #retry(): Promise<void> {
    return this.#track(
      this.#attempt().then(
        () => {
          this.#reconnectAttempt = 0;
          this.#log.info({ target: this.target }, "AMI reconnected");
        },
        (error: Error) => {
          const level = error instanceof AmiLoginError ? "error" : "warn";
          this.#log[level]({ target: this.target, err: { message: error.message } }, "AMI reconnect attempt failed");
          this.#scheduleReconnect(error);
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
    this.#log.debug({ target: this.target, state, previous }, "AMI state");
    for (const l of [...this.#stateListeners]) this.#callListener(l, change, "state");
  }

  // --- internals: packets --------------------------------------------------------------------------

  #onOutput(conn: Connection, out: AmiParserOutput): void {
    switch (out.kind) {
      case "banner":
        if (conn.banner !== undefined) return;
        conn.banner = out.version;
        if (conn.bannerWait) {
          const wait = conn.bannerWait;
          conn.bannerWait = undefined;
          this.#timers.clearTimeout(wait.timer);
          wait.resolve(out.version);
        }
        return;
      case "error":
        this.#onParseError(conn, out.error);
        return;
      case "packet":
        if (conn.banner === undefined) return; // not an AMI server: the banner error already failed the attempt
        this.#onPacket(conn, out.packet, out.offset);
        return;
    }
  }

  #onParseError(conn: Connection, error: AmiParseError): void {
    this.#log.warn(
      { target: this.target, code: error.code, offset: error.offset, length: error.length, preview: error.preview, actionId: error.actionId },
      error.message,
    );
    for (const l of [...this.#errorListeners]) this.#callListener(l, error, "protocolError");
    if (conn.banner === undefined && conn.bannerWait) {
      this.#failBanner(conn, new AmiConnectionError(this.target, `${this.target} is not an AMI server: ${error.message}`, { cause: error }));
      conn.socket.destroy();
      return;
    }
    // The dropped packet was the answer to (or an item of) a pending action: fail it now rather
    // than let it time out.
    const p = error.actionId !== undefined ? conn.pending.get(error.actionId) : undefined;
    if (p) this.#settle(conn, p, error);
  }

  #onPacket(conn: Connection, packet: AmiPacket, offset: number): void {
    const f = packet.fields;
    if (f.has("Response")) this.#onResponse(conn, packet);
    else if (f.has("Event")) this.#onEvent(conn, packet);
    else {
      const first = f.entries[0]?.[0] ?? "";
      this.#onParseError(
        conn,
        new AmiParseError("unexpected", `AMI packet at byte ${offset} has neither Response nor Event (first key "${first}"); ignored`, {
          offset,
          length: 0,
          preview: `${first}:`,
          actionId: f.get("ActionID"),
        }),
      );
    }
  }

  #onResponse(conn: Connection, packet: AmiPacket): void {
    const f = packet.fields;
    const actionId = f.get("ActionID");
    const p = actionId === undefined ? undefined : conn.pending.get(actionId);
    const status = (f.get("Response") ?? "").trim();
    if (!p || actionId === undefined) {
      // Typically the late answer to an action that already timed out.
      this.#log.debug({ target: this.target, actionId, response: status }, "AMI response matches no pending action; ignored");
      return;
    }
    if (!isResponseStatus(status)) {
      const preview = status.slice(0, 16);
      this.#settle(
        conn,
        p,
        new AmiParseError("unexpected", `AMI action '${p.action}' got an unknown response "${preview}"`, { offset: -1, length: 0, preview, actionId }),
      );
      return;
    }
    const message = f.get("Message");
    const response: AmiResponse = { response: status, message, actionId, fields: f, output: packet.body ?? f.getAll("Output") };
    this.#log.debug({ target: this.target, action: p.action, actionId, response: status, message }, "AMI response");
    if (status === "Error") {
      this.#settle(conn, p, new AmiActionError(p.action, actionId, message, response.output));
      return;
    }
    if (p.kind === "list" && (f.get("EventList") ?? "").toLowerCase() === "start") {
      p.response = response;
      if (p.complete) this.#settle(conn, p, { response, items: p.items, complete: p.complete });
      return; // the items follow as events
    }
    this.#settle(conn, p, { response, items: [], complete: undefined });
  }

  #onEvent(conn: Connection, packet: AmiPacket): void {
    const f = packet.fields;
    const actionId = f.get("ActionID");
    const event: AmiEvent = { event: f.get("Event") ?? "", actionId, fields: f };
    const p = actionId === undefined ? undefined : conn.pending.get(actionId);
    if (p && p.kind === "list") {
      if ((f.get("EventList") ?? "").toLowerCase() === "complete") {
        p.complete = event;
        if (p.response) this.#settle(conn, p, { response: p.response, items: p.items, complete: event });
      } else {
        p.items.push(event);
      }
      return;
    }
    const named = this.#eventListeners.get(event.event.toLowerCase());
    const all = this.#eventListeners.get("*");
    for (const l of [...(named ?? []), ...(all ?? [])]) this.#callListener(l, event, "event");
  }

  #settle(conn: Connection, p: Pending, outcome: AmiListResult | Error): void {
    if (conn.pending.get(p.actionId) !== p) return;
    conn.pending.delete(p.actionId);
    this.#timers.clearTimeout(p.timer);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  #sendReady(action: string, fields: AmiActionFields, kind: "single" | "list", options: AmiActionOptions): Promise<AmiListResult> {
    const conn = this.#conn;
    if (this.#state !== "ready" || !conn || conn.closed) {
      return Promise.reject(
        new AmiStateError(`AMI client for ${this.target} is not connected (state: ${this.#state}); action '${action}' not sent`),
      );
    }
    return this.#send(conn, action, fields, kind, options.timeoutMs ?? this.#actionTimeoutMs);
  }

  #send(conn: Connection, action: string, fields: AmiActionFields, kind: "single" | "list", timeoutMs: number): Promise<AmiListResult> {
    const actionId = `wanctl-${this.#nextActionId++}`;
    let text: string;
    try {
      text = serializeAction(action, actionId, fields);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new AmiError(String(error)));
    }
    if (conn.closed) {
      return Promise.reject(new AmiConnectionError(this.target, `AMI connection to ${this.target} is closed; action '${action}' not sent`));
    }
    return new Promise<AmiListResult>((resolve, reject) => {
      const p: Pending = { action, actionId, kind, timeoutMs, timer: undefined, response: undefined, items: [], complete: undefined, resolve, reject };
      p.timer = this.#timers.setTimeout(() => {
        if (conn.pending.get(actionId) !== p) return;
        conn.pending.delete(actionId);
        this.#log.warn({ target: this.target, action, actionId, timeoutMs }, "AMI action timed out");
        reject(
          new AmiTimeoutError(
            `AMI action '${action}' (ActionID ${actionId}) got no ${p.response ? "list completion" : "response"} from ${this.target} within ${timeoutMs} ms`,
            this.target,
            timeoutMs,
            action,
            actionId,
          ),
        );
      }, timeoutMs);
      conn.pending.set(actionId, p);
      // Fields are logged redacted: the Login's Secret never reaches a log line.
      this.#log.debug({ target: this.target, action, actionId, fields: redactFields(actionFieldPairs(fields)) }, "AMI action");
      conn.socket.write(text);
    });
  }

  #callListener<T>(listener: Listener<T>, value: T, what: string): void {
    try {
      listener(value);
    } catch (error) {
      // A subscriber's bug must not break the connection.
      this.#log.error({ target: this.target, err: { message: error instanceof Error ? error.message : String(error) } }, `AMI ${what} listener threw`);
    }
  }
}
