// One TCP connection to AMI: the socket, its parser, the wait for the banner under the connect
// timeout, and the actions pending on it. A reconnect makes a new one, so nothing leaks between
// sessions. What the bytes mean is decided by the hooks (dispatch.ts, client.ts).

import net from "node:net";

import { type ActionChannel, PendingActions } from "./actions.js";
import { AmiConnectionError, AmiStateError, AmiTimeoutError } from "./errors.js";
import type { AmiContext } from "./options.js";
import { AmiParser, type AmiParserOutput } from "./parser.js";

export interface ConnectionHooks {
  output(conn: Connection, out: AmiParserOutput): void;
  /** After the socket closed and the parser's tail was delivered to output(). */
  closed(conn: Connection): void;
}

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly maxPacketSize: number | undefined;
}

interface BannerWait {
  resolve(version: string): void;
  reject(error: Error): void;
  timer: unknown;
}

export class Connection implements ActionChannel {
  readonly socket: net.Socket;
  readonly parser: AmiParser;
  readonly pending: PendingActions;
  /** Version from the banner, once it arrived. */
  banner: string | undefined = undefined;
  tcpConnected = false;
  /** Logged in: only an established session's drop is worth a reconnect. */
  established = false;
  closed = false;
  socketError: (Error & { code?: string }) | undefined = undefined;

  readonly #ctx: AmiContext;
  #bannerWait: BannerWait | undefined = undefined;

  constructor(ctx: AmiContext, options: ConnectionOptions, hooks: ConnectionHooks) {
    this.#ctx = ctx;
    const socket = net.createConnection({ host: options.host, port: options.port });
    this.socket = socket;
    this.parser = new AmiParser(options.maxPacketSize === undefined ? {} : { maxPacketSize: options.maxPacketSize });
    this.pending = new PendingActions(ctx, this);
    socket.setNoDelay(true);
    socket.on("connect", () => {
      this.tcpConnected = true;
      // Notice a PBX that vanished without a FIN (power cut, link gone) within a minute or so.
      socket.setKeepAlive(true, 15_000);
    });
    socket.on("data", (chunk: Buffer) => {
      if (this.closed) return;
      for (const out of this.parser.push(chunk)) hooks.output(this, out);
    });
    socket.on("error", (error: Error & { code?: string }) => {
      // The first error is the cause; "close" follows and reports it.
      this.socketError ??= error;
    });
    socket.on("close", () => {
      if (this.closed) return;
      this.closed = true;
      for (const out of this.parser.end()) hooks.output(this, out);
      hooks.closed(this);
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Resolves with the banner's version; rejects if it does not come within timeoutMs, or via failBanner(). */
  waitForBanner(timeoutMs: number): Promise<string> {
    const target = this.#ctx.target;
    return new Promise<string>((resolve, reject) => {
      const timer = this.#ctx.timers.setTimeout(() => {
        const what = this.tcpConnected ? "sent no AMI banner" : "did not accept a TCP connection";
        this.#bannerWait = undefined;
        reject(new AmiTimeoutError(`AMI connection to ${target} timed out: the server ${what} within ${timeoutMs} ms`, target, timeoutMs));
      }, timeoutMs);
      this.#bannerWait = { resolve, reject, timer };
    });
  }

  get awaitingBanner(): boolean {
    return this.#bannerWait !== undefined;
  }

  /** Only the first banner counts: a later "Asterisk Call Manager" line is not a new session. */
  bannerReceived(version: string): void {
    if (this.banner !== undefined) return;
    this.banner = version;
    const wait = this.#bannerWait;
    if (!wait) return;
    this.#bannerWait = undefined;
    this.#ctx.timers.clearTimeout(wait.timer);
    wait.resolve(version);
  }

  failBanner(error: Error): void {
    const wait = this.#bannerWait;
    if (!wait) return;
    this.#bannerWait = undefined;
    this.#ctx.timers.clearTimeout(wait.timer);
    wait.reject(error);
  }

  /** The socket error behind the close, if any, and its message ready to append. */
  get closeCause(): { cause: (Error & { code?: string }) | undefined; code: string | undefined; how: string } {
    const cause = this.socketError;
    return { cause, code: cause?.code, how: cause ? `: ${cause.message}` : "" };
  }

  /** Closed before the banner: say whether we closed it, or how far the server got. */
  failBannerOnClose(closing: boolean): void {
    if (!this.#bannerWait) return;
    const target = this.#ctx.target;
    const { cause, code, how } = this.closeCause;
    const error = closing
      ? new AmiStateError(`AMI client for ${target} closed while connecting`)
      : this.tcpConnected
        ? new AmiConnectionError(target, `AMI server ${target} closed the connection before sending its banner${how}`, { cause, code })
        : new AmiConnectionError(target, `AMI connection to ${target} failed${how}`, { cause, code });
    this.failBanner(error);
  }
}
