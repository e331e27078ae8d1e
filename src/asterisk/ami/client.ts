// The AMI client: the connection state machine (connect, log in, ready, drop, reconnect, close)
// and the public API. The pieces it composes each do one job: connection.ts (socket + banner),
// login.ts, actions.ts (ActionID correlation + timeouts), event-list.ts, dispatch.ts (routing),
// subscriptions.ts, reconnect.ts; framing lives in parser.ts.

import type { ActionKind } from "./actions.js";
import { Connection } from "./connection.js";
import { Dispatcher } from "./dispatch.js";
import { AmiConnectionError, AmiLoginError, type AmiParseError, AmiStateError } from "./errors.js";
import { loginFailure, loginFields } from "./login.js";
import { type AmiActionOptions, type AmiClientOptions, type AmiSettings, resolveOptions } from "./options.js";
import type { AmiActionFields, AmiEvent, AmiListResult, AmiResponse } from "./packet.js";
import { Reconnector } from "./reconnect.js";
import type { AmiConnectionState, AmiStateChange } from "./state.js";
import { type Listener, Subscriptions } from "./subscriptions.js";

// Re-exported: callers import these from here (or from index.ts).
export type { AmiActionOptions, AmiClientOptions, AmiEventMask, AmiLogger, AmiReconnectOptions, AmiTimers } from "./options.js";
export type { AmiConnectionState, AmiStateChange } from "./state.js";

export class AmiClient {
  readonly host: string;
  readonly port: number;
  /** `host:port`, as errors and logs name it. */
  readonly target: string;

  readonly #settings: AmiSettings;
  readonly #subscriptions: Subscriptions;
  readonly #dispatcher: Dispatcher;
  readonly #reconnector: Reconnector;

  #state: AmiConnectionState = "disconnected";
  #conn: Connection | undefined;
  /** Set by close()/logoff(): the drops that follow are ours, not to be recovered from. */
  #closing = false;
  /** Client-wide, so an ActionID is never reused across reconnects. */
  #nextActionId = 1;
  /** The connect or retry under way, so that concurrent connect() calls share it. */
  #inflight: Promise<void> | undefined;

  constructor(options: AmiClientOptions) {
    const settings = resolveOptions(options);
    this.#settings = settings;
    this.host = settings.host;
    this.port = settings.port;
    this.target = settings.target;
    this.#subscriptions = new Subscriptions(settings);
    this.#dispatcher = new Dispatcher(settings, this.#subscriptions);
    this.#reconnector = new Reconnector(settings, {
      setState: (state, extra) => this.#setState(state, extra),
      retry: () => this.#retry(),
    });
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
    return this.#subscriptions.onEvent(name, listener);
  }

  onStateChange(listener: Listener<AmiStateChange>): () => void {
    return this.#subscriptions.onStateChange(listener);
  }

  /** Bad bytes from the server (garbage lines, oversized packets); the client carries on. */
  onProtocolError(listener: Listener<AmiParseError>): () => void {
    return this.#subscriptions.onProtocolError(listener);
  }

  /** The next event `name` that satisfies `predicate`, within timeoutMs (default actionTimeoutMs). */
  waitForEvent(name: string, predicate: (e: AmiEvent) => boolean = () => true, options: AmiActionOptions = {}): Promise<AmiEvent> {
    return this.#subscriptions.waitForEvent(name, predicate, options.timeoutMs ?? this.#settings.actionTimeoutMs);
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
      this.#reconnector.cancelTimer();
      return this.#retry();
    }
    this.#reconnector.reset(); // a deliberate connect() starts the backoff afresh
    return this.#track(
      this.#attempt().then(
        () => {
          this.#reconnector.reset();
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
    this.#reconnector.stop();
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
    const { target, log, username } = this.#settings;
    this.#setState("connecting");
    // The settings are both the context (target, log, timers) and the socket options.
    const conn = new Connection(this.#settings, this.#settings, {
      output: (c, out) => this.#dispatcher.route(c, out),
      closed: (c) => this.#onClose(c),
    });
    this.#conn = conn;
    try {
      const version = await conn.waitForBanner(this.#settings.connectTimeoutMs);
      log.debug({ target, amiVersion: version }, "AMI banner received");
      this.#setState("loggingIn");
      const fields = loginFields(username, this.#settings.secret, this.#settings.events);
      try {
        await this.#send(conn, "Login", fields, "single", this.#settings.actionTimeoutMs);
      } catch (error) {
        throw loginFailure(error, username);
      }
      if (conn.closed) throw new AmiConnectionError(target, `AMI connection to ${target} closed right after login`);
      conn.established = true;
      log.info({ target, username, amiVersion: version }, "AMI logged in");
      this.#setState("ready");
    } catch (error) {
      if (!conn.closed) conn.socket.destroy();
      throw error;
    }
  }

  #onClose(conn: Connection): void {
    conn.failBannerOnClose(this.#closing);
    const { cause, code, how } = conn.closeCause;
    conn.pending.rejectAll(this.#closing ? "closed" : "lost", how, { cause, code });
    if (this.#conn === conn) this.#conn = undefined;

    if (!conn.established) return; // a failed attempt: its caller decides what comes next
    if (this.#closing) {
      if (this.#state !== "closed") this.#setState("closed");
      return;
    }
    const error = new AmiConnectionError(this.target, `AMI connection to ${this.target} lost${how}`, { cause, code });
    this.#settings.log.warn({ target: this.target, err: { message: error.message, code } }, "AMI connection lost");
    this.#scheduleReconnect(error);
  }

  #scheduleReconnect(error: Error): void {
    if (this.#closing) return;
    this.#reconnector.schedule(error);
  }

  #retry(): Promise<void> {
    return this.#track(
      this.#attempt().then(
        () => {
          this.#reconnector.reset();
          this.#settings.log.info({ target: this.target }, "AMI reconnected");
        },
        (error: Error) => {
          const level = error instanceof AmiLoginError ? "error" : "warn";
          this.#settings.log[level]({ target: this.target, err: { message: error.message } }, "AMI reconnect attempt failed");
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
    this.#settings.log.debug({ target: this.target, state, previous }, "AMI state");
    this.#subscriptions.emitState(change);
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
    return conn.pending.send(`wanctl-${this.#nextActionId++}`, action, fields, kind, timeoutMs);
  }
}
