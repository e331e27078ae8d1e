// A small scriptable AMI server on 127.0.0.1 for client behaviours the recordings do not show
// (timeouts, drops, reconnects, odd bytes), plus timers the test fires by hand.

import { listenOnLoopback, portOf } from "../loopback.js";
import net from "node:net";

import type { AmiTimers } from "../../src/asterisk/ami/client.js";
import { parseClientPacket } from "./transcript-server.js";

export interface FakeAction {
  readonly action: string;
  readonly actionId: string;
  readonly fields: Record<string, string>;
}

export class FakeConnection {
  readonly socket: net.Socket;
  readonly index: number;
  readonly actions: FakeAction[] = [];

  constructor(socket: net.Socket, index: number) {
    this.socket = socket;
    this.index = index;
  }

  raw(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Write a packet: `Key: Value` lines, ActionID of `to` first. */
  reply(to: FakeAction, fields: Record<string, string>): void {
    const { Response, Event, ...rest } = fields;
    const head = Response !== undefined ? `Response: ${Response}\r\n` : `Event: ${Event}\r\n`;
    this.raw(`${head}ActionID: ${to.actionId}\r\n${Object.entries(rest).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`);
  }
}

export type Handler = (action: FakeAction, conn: FakeConnection) => void;

export interface FakeServerOptions {
  /** Called on each new connection before the banner; return false to drop it at once. */
  onConnection?: (conn: FakeConnection) => boolean | void;
  banner?: string | null;
  username?: string;
  secret?: string;
}

export class FakeAmiServer {
  readonly connections: FakeConnection[] = [];
  /** Successful logins, in order of connection index. */
  readonly logins: number[] = [];
  readonly #server: net.Server;
  readonly #handler: Handler;
  readonly #options: FakeServerOptions;
  readonly #waiters: Array<() => void> = [];

  private constructor(handler: Handler, options: FakeServerOptions) {
    this.#handler = handler;
    this.#options = options;
    this.#server = net.createServer((socket) => this.#onConnection(socket));
  }

  static async start(handler: Handler = () => {}, options: FakeServerOptions = {}): Promise<FakeAmiServer> {
    const s = new FakeAmiServer(handler, options);
    await listenOnLoopback(s.#server);
    return s;
  }

  get port(): number {
    return portOf(this.#server);
  }

  /** Resolves once the server has seen `n` actions in total (over all connections). */
  async actionCount(n: number): Promise<void> {
    while (this.connections.reduce((sum, c) => sum + c.actions.length, 0) < n) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #onConnection(socket: net.Socket): void {
    const conn = new FakeConnection(socket, this.connections.length);
    this.connections.push(conn);
    socket.on("error", () => {});
    if (this.#options.onConnection?.(conn) === false) {
      socket.destroy();
      return;
    }
    const banner = this.#options.banner === undefined ? "Asterisk Call Manager/9.0.0" : this.#options.banner;
    if (banner !== null) socket.write(`${banner}\r\n`);
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      buffer += text;
      for (let end = buffer.indexOf("\r\n\r\n"); end !== -1; end = buffer.indexOf("\r\n\r\n")) {
        const pairs = parseClientPacket(buffer.slice(0, end));
        buffer = buffer.slice(end + 4);
        const fields = Object.fromEntries(pairs);
        const action: FakeAction = { action: fields.Action ?? "", actionId: fields.ActionID ?? "", fields };
        conn.actions.push(action);
        if (action.action === "Login") this.#login(action, conn);
        else this.#handler(action, conn);
        for (const w of this.#waiters.splice(0)) w();
      }
    });
  }

  /** Login as Asterisk does it: Success, or Error + hang-up. */
  #login(action: FakeAction, conn: FakeConnection): void {
    const ok = action.fields.Username === (this.#options.username ?? "wanctl") && action.fields.Secret === (this.#options.secret ?? "s3cret");
    if (ok) {
      this.logins.push(conn.index);
      conn.reply(action, { Response: "Success", Message: "Authentication accepted" });
    } else {
      conn.reply(action, { Response: "Error", Message: "Authentication failed" });
      conn.socket.end();
    }
  }
}

/** Timers that only fire when the test says so. */
export class ManualTimers implements AmiTimers {
  readonly #pending = new Map<number, { fn: () => void; ms: number }>();
  #next = 1;
  /** Every delay ever requested, in order. */
  readonly requested: number[] = [];

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#pending.set(id, { fn, ms });
    this.requested.push(ms);
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  /** Delays of the timers still pending. */
  pendingDelays(): number[] {
    return [...this.#pending.values()].map((t) => t.ms);
  }

  /** Fire the oldest pending timer of `ms`; throws if there is none. */
  fire(ms: number): void {
    for (const [id, t] of this.#pending) {
      if (t.ms !== ms) continue;
      this.#pending.delete(id);
      t.fn();
      return;
    }
    throw new Error(`no pending timer of ${ms} ms (pending: ${this.pendingDelays().join(", ") || "none"})`);
  }
}
