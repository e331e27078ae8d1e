// One TCP session with AMI: the socket and its parser, the banner awaited under the connect
// timeout, and the actions sent on it, each waiting under its ActionID for its response (and, for
// lists, its completion event) until its own timeout. A reconnect makes a new Connection, so no
// pending action leaks from one session into the next. What the session does not own (events for
// subscribers, protocol errors, the close) goes to the client through hooks.

import net from "node:net";

import { AmiActionError, AmiConnectionError, AmiError, AmiParseError, AmiStateError, AmiTimeoutError } from "./errors.js";
import {
  type AmiActionFields,
  type AmiEvent,
  type AmiFields,
  type AmiListResult,
  type AmiPacket,
  AmiParser,
  type AmiParserOutput,
  type AmiResponse,
  actionFieldPairs,
  isResponseStatus,
  redactFields,
  serializeAction,
} from "./wire.js";

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

/** What a connection needs to log, time out and name its server in messages. */
export interface AmiContext {
  /** `host:port`, as errors and logs name it. */
  readonly target: string;
  readonly log: AmiLogger;
  readonly timers: AmiTimers;
}

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly maxPacketSize: number | undefined;
}

export interface ConnectionHooks {
  /** An event that no pending list() claimed. */
  event(event: AmiEvent): void;
  /** Bad bytes from the server, already logged; the session carries on. */
  protocolError(error: AmiParseError): void;
  /** The socket closed (after the parser's tail was handled); call failAll() next. */
  closed(conn: Connection): void;
}

/** `single`: one response. `list`: a response and the events up to `EventList: Complete`. */
export type ActionKind = "single" | "list";

/** Why the socket closed: the first socket error, if there was one, and its message ready to append. */
export interface CloseCause {
  readonly cause: (Error & { code?: string }) | undefined;
  readonly code: string | undefined;
  readonly how: string;
}

interface Pending {
  readonly action: string;
  readonly actionId: string;
  /** Present for list() actions only. */
  readonly list: EventList | undefined;
  timer: unknown;
  readonly resolve: (value: AmiListResult) => void;
  readonly reject: (error: Error) => void;
}

interface BannerWait {
  resolve(version: string): void;
  reject(error: Error): void;
  timer: unknown;
}

export class Connection {
  /** Version from the banner, once it arrived (`9.0.0` for Asterisk 20). */
  banner: string | undefined = undefined;
  /** Logged in: only an established session's drop is worth a reconnect. */
  established = false;
  closed = false;

  readonly #ctx: AmiContext;
  readonly #hooks: ConnectionHooks;
  readonly #socket: net.Socket;
  readonly #parser: AmiParser;
  readonly #pending = new Map<string, Pending>();
  #tcpConnected = false;
  #socketError: (Error & { code?: string }) | undefined = undefined;
  #bannerWait: BannerWait | undefined = undefined;

  constructor(ctx: AmiContext, options: ConnectionOptions, hooks: ConnectionHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
    this.#parser = new AmiParser(options.maxPacketSize === undefined ? {} : { maxPacketSize: options.maxPacketSize });
    const socket = net.createConnection({ host: options.host, port: options.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("connect", () => {
      this.#tcpConnected = true;
      // Notice a PBX that vanished without a FIN (power cut, link gone) within a minute or so.
      socket.setKeepAlive(true, 15_000);
    });
    socket.on("data", (chunk: Buffer) => {
      if (this.closed) return;
      for (const out of this.#parser.push(chunk)) this.#route(out);
    });
    socket.on("error", (error: Error & { code?: string }) => {
      // The first error is the cause; "close" follows and reports it.
      this.#socketError ??= error;
    });
    socket.on("close", () => {
      if (this.closed) return;
      this.closed = true;
      for (const out of this.#parser.end()) this.#route(out);
      hooks.closed(this);
    });
  }

  /** Resolves with the banner's version; rejects if it does not come within timeoutMs, or the socket closes first. */
  waitForBanner(timeoutMs: number): Promise<string> {
    const target = this.#ctx.target;
    return new Promise<string>((resolve, reject) => {
      const timer = this.#ctx.timers.setTimeout(() => {
        const what = this.#tcpConnected ? "sent no AMI banner" : "did not accept a TCP connection";
        this.#bannerWait = undefined;
        reject(new AmiTimeoutError(`AMI connection to ${target} timed out: the server ${what} within ${timeoutMs} ms`, target, timeoutMs));
      }, timeoutMs);
      this.#bannerWait = { resolve, reject, timer };
    });
  }

  /** Write the action and wait for its answer; ActionIDs come from the client so they stay unique across reconnects. */
  send(actionId: string, action: string, fields: AmiActionFields, kind: ActionKind, timeoutMs: number): Promise<AmiListResult> {
    const { target, log, timers } = this.#ctx;
    let text: string;
    try {
      text = serializeAction(action, actionId, fields);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new AmiError(String(error)));
    }
    if (this.closed) {
      return Promise.reject(new AmiConnectionError(target, `AMI connection to ${target} is closed; action '${action}' not sent`));
    }
    return new Promise<AmiListResult>((resolve, reject) => {
      const p: Pending = { action, actionId, list: kind === "list" ? new EventList() : undefined, timer: undefined, resolve, reject };
      p.timer = timers.setTimeout(() => {
        if (this.#pending.get(actionId) !== p) return;
        this.#pending.delete(actionId);
        log.warn({ target, action, actionId, timeoutMs }, "AMI action timed out");
        reject(
          new AmiTimeoutError(
            `AMI action '${action}' (ActionID ${actionId}) got no ${p.list?.response ? "list completion" : "response"} from ${target} within ${timeoutMs} ms`,
            target,
            timeoutMs,
            action,
            actionId,
          ),
        );
      }, timeoutMs);
      this.#pending.set(actionId, p);
      // Fields are logged redacted: the Login's Secret never reaches a log line.
      log.debug({ target, action, actionId, fields: redactFields(actionFieldPairs(fields)) }, "AMI action");
      this.#socket.write(text);
    });
  }

  /** Destroy the socket; resolves once it has closed (and hooks.closed ran). */
  destroy(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once("close", () => resolve());
      this.#socket.destroy();
    });
  }

  /**
   * The socket closed: fail the banner wait and every action still waiting, naming the action and
   * the cause. `closing`: the client closed it on purpose (not a drop). Returns the cause.
   */
  failAll(closing: boolean): CloseCause {
    const { target, timers } = this.#ctx;
    const cause = this.#socketError;
    const closeCause: CloseCause = { cause, code: cause?.code, how: cause ? `: ${cause.message}` : "" };
    const { code, how } = closeCause;
    if (this.#bannerWait) {
      // Closed before the banner: say whether we closed it, or how far the server got.
      this.#failBanner(
        closing
          ? new AmiStateError(`AMI client for ${target} closed while connecting`)
          : this.#tcpConnected
            ? new AmiConnectionError(target, `AMI server ${target} closed the connection before sending its banner${how}`, { cause, code })
            : new AmiConnectionError(target, `AMI connection to ${target} failed${how}`, { cause, code }),
      );
    }
    const verb = closing ? "closed" : "lost";
    for (const p of this.#pending.values()) {
      timers.clearTimeout(p.timer);
      p.reject(new AmiConnectionError(target, `AMI connection to ${target} ${verb} before action '${p.action}' (ActionID ${p.actionId}) was answered${how}`, { cause, code }));
    }
    this.#pending.clear();
    return closeCause;
  }

  // --- where each piece the parser produced goes ---------------------------------------------------

  #route(out: AmiParserOutput): void {
    switch (out.kind) {
      case "banner":
        this.#bannerReceived(out.version);
        return;
      case "error":
        this.#onParseError(out.error);
        return;
      case "packet":
        if (this.banner === undefined) return; // not an AMI server: the banner error already failed the attempt
        this.#onPacket(out.packet, out.offset);
        return;
    }
  }

  /** Only the first banner counts: a later "Asterisk Call Manager" line is not a new session. */
  #bannerReceived(version: string): void {
    if (this.banner !== undefined) return;
    this.banner = version;
    const wait = this.#bannerWait;
    if (!wait) return;
    this.#bannerWait = undefined;
    this.#ctx.timers.clearTimeout(wait.timer);
    wait.resolve(version);
  }

  #failBanner(error: Error): void {
    const wait = this.#bannerWait;
    if (!wait) return;
    this.#bannerWait = undefined;
    this.#ctx.timers.clearTimeout(wait.timer);
    wait.reject(error);
  }

  #onParseError(error: AmiParseError): void {
    const target = this.#ctx.target;
    this.#ctx.log.warn(
      { target, code: error.code, offset: error.offset, length: error.length, preview: error.preview, actionId: error.actionId },
      error.message,
    );
    this.#hooks.protocolError(error);
    if (this.banner === undefined && this.#bannerWait) {
      this.#failBanner(new AmiConnectionError(target, `${target} is not an AMI server: ${error.message}`, { cause: error }));
      this.#socket.destroy();
      return;
    }
    // The dropped packet was the answer to (or an item of) a pending action: fail it now rather
    // than let it time out.
    const p = error.actionId !== undefined ? this.#pending.get(error.actionId) : undefined;
    if (p) this.#settle(p, error);
  }

  #onPacket(packet: AmiPacket, offset: number): void {
    const f = packet.fields;
    if (f.has("Response")) this.#onResponse(packet);
    else if (f.has("Event")) {
      const event: AmiEvent = { event: f.get("Event") ?? "", actionId: f.get("ActionID"), fields: f };
      // List items are the list() caller's, not subscribers'.
      if (!this.#takeListEvent(event)) this.#hooks.event(event);
    } else {
      const first = f.entries[0]?.[0] ?? "";
      this.#onParseError(
        new AmiParseError("unexpected", `AMI packet at byte ${offset} has neither Response nor Event (first key "${first}"); ignored`, {
          offset,
          length: 0,
          preview: `${first}:`,
          actionId: f.get("ActionID"),
        }),
      );
    }
  }

  #onResponse(packet: AmiPacket): void {
    const { target, log } = this.#ctx;
    const f = packet.fields;
    const actionId = f.get("ActionID");
    const p = actionId === undefined ? undefined : this.#pending.get(actionId);
    const status = (f.get("Response") ?? "").trim();
    if (!p || actionId === undefined) {
      // Typically the late answer to an action that already timed out.
      log.debug({ target, actionId, response: status }, "AMI response matches no pending action; ignored");
      return;
    }
    if (!isResponseStatus(status)) {
      const preview = status.slice(0, 16);
      this.#settle(
        p,
        new AmiParseError("unexpected", `AMI action '${p.action}' got an unknown response "${preview}"`, { offset: -1, length: 0, preview, actionId }),
      );
      return;
    }
    const message = f.get("Message");
    const response: AmiResponse = { response: status, message, actionId, fields: f, output: packet.body ?? f.getAll("Output") };
    log.debug({ target, action: p.action, actionId, response: status, message }, "AMI response");
    if (status === "Error") {
      this.#settle(p, new AmiActionError(p.action, actionId, message, response.output));
      return;
    }
    if (p.list && startsList(f)) {
      const result = p.list.start(response);
      if (result) this.#settle(p, result);
      return; // the items follow as events
    }
    // Not a list after all (or a plain action): done, with no items.
    this.#settle(p, { response, items: [], complete: undefined });
  }

  /** Take an event that belongs to a pending list(); false: not ours, it goes to subscribers. */
  #takeListEvent(event: AmiEvent): boolean {
    const p = event.actionId === undefined ? undefined : this.#pending.get(event.actionId);
    if (!p?.list) return false;
    const result = p.list.add(event);
    if (result) this.#settle(p, result);
    return true;
  }

  #settle(p: Pending, outcome: AmiListResult | Error): void {
    if (this.#pending.get(p.actionId) !== p) return;
    this.#pending.delete(p.actionId);
    this.#ctx.timers.clearTimeout(p.timer);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }
}

// Event lists: an action answered by `Response: Success` + `EventList: start`, then item events
// carrying its ActionID, then one `EventList: Complete` event. The events may overtake the
// response, so either side can be the one that completes the list.

function startsList(fields: AmiFields): boolean {
  return (fields.get("EventList") ?? "").toLowerCase() === "start";
}

function completesList(fields: AmiFields): boolean {
  return (fields.get("EventList") ?? "").toLowerCase() === "complete";
}

/** One list being collected; each method returns the result once both response and completion are in. */
class EventList {
  response: AmiResponse | undefined = undefined;
  readonly items: AmiEvent[] = [];
  complete: AmiEvent | undefined = undefined;

  start(response: AmiResponse): AmiListResult | undefined {
    this.response = response;
    return this.complete ? { response, items: this.items, complete: this.complete } : undefined;
  }

  add(event: AmiEvent): AmiListResult | undefined {
    if (!completesList(event.fields)) {
      this.items.push(event);
      return undefined;
    }
    this.complete = event;
    return this.response ? { response: this.response, items: this.items, complete: event } : undefined;
  }
}
