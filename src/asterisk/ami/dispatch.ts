// Routing of what the parser produced: the banner to the connection, responses and list items to
// the pending actions, other events to subscribers, bad bytes to the log and protocol-error
// listeners. Framing lives in parser.ts; this only decides where each piece goes.

import type { Connection } from "./connection.js";
import { AmiConnectionError, AmiParseError } from "./errors.js";
import type { AmiContext } from "./options.js";
import type { AmiEvent, AmiPacket } from "./packet.js";
import type { AmiParserOutput } from "./parser.js";
import type { Subscriptions } from "./subscriptions.js";

export class Dispatcher {
  readonly #ctx: AmiContext;
  readonly #subscriptions: Subscriptions;

  constructor(ctx: AmiContext, subscriptions: Subscriptions) {
    this.#ctx = ctx;
    this.#subscriptions = subscriptions;
  }

  route(conn: Connection, out: AmiParserOutput): void {
    switch (out.kind) {
      case "banner":
        conn.bannerReceived(out.version);
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
    const target = this.#ctx.target;
    this.#ctx.log.warn(
      { target, code: error.code, offset: error.offset, length: error.length, preview: error.preview, actionId: error.actionId },
      error.message,
    );
    this.#subscriptions.emitProtocolError(error);
    if (conn.banner === undefined && conn.awaitingBanner) {
      conn.failBanner(new AmiConnectionError(target, `${target} is not an AMI server: ${error.message}`, { cause: error }));
      conn.socket.destroy();
      return;
    }
    // The dropped packet was the answer to (or an item of) a pending action.
    conn.pending.fail(error.actionId, error);
  }

  #onPacket(conn: Connection, packet: AmiPacket, offset: number): void {
    const f = packet.fields;
    if (f.has("Response")) conn.pending.onResponse(packet);
    else if (f.has("Event")) {
      const event: AmiEvent = { event: f.get("Event") ?? "", actionId: f.get("ActionID"), fields: f };
      // List items are the list() caller's, not subscribers'.
      if (!conn.pending.takeListEvent(event)) this.#subscriptions.emitEvent(event);
    } else {
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
}
