// Action correlation on one connection: each action waits under its ActionID for its response
// (and, for lists, its completion event) until its own timeout; a close fails whatever is left.

import { AmiActionError, AmiConnectionError, AmiError, AmiParseError, AmiTimeoutError } from "./errors.js";
import { EventList, startsList } from "./event-list.js";
import type { AmiContext } from "./options.js";
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

export type ActionKind = "single" | "list";

/** The socket side of a connection, as far as sending actions goes. */
export interface ActionChannel {
  readonly closed: boolean;
  write(text: string): void;
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

export class PendingActions {
  readonly #ctx: AmiContext;
  readonly #channel: ActionChannel;
  readonly #pending = new Map<string, Pending>();

  constructor(ctx: AmiContext, channel: ActionChannel) {
    this.#ctx = ctx;
    this.#channel = channel;
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
    if (this.#channel.closed) {
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
      this.#channel.write(text);
    });
  }

  /** A packet for this action was dropped as malformed: fail it now rather than let it time out. */
  fail(actionId: string | undefined, error: Error): void {
    const p = actionId !== undefined ? this.#pending.get(actionId) : undefined;
    if (p) this.#settle(p, error);
  }

  onResponse(packet: AmiPacket): void {
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
  takeListEvent(event: AmiEvent): boolean {
    const p = event.actionId === undefined ? undefined : this.#pending.get(event.actionId);
    if (!p?.list) return false;
    const result = p.list.add(event);
    if (result) this.#settle(p, result);
    return true;
  }

  /** The connection is gone: every action still waiting fails, naming the action and the cause. */
  rejectAll(verb: "closed" | "lost", how: string, detail: { cause: Error | undefined; code: string | undefined }): void {
    const { target, timers } = this.#ctx;
    for (const p of this.#pending.values()) {
      timers.clearTimeout(p.timer);
      p.reject(
        new AmiConnectionError(target, `AMI connection to ${target} ${verb} before action '${p.action}' (ActionID ${p.actionId}) was answered${how}`, detail),
      );
    }
    this.#pending.clear();
  }

  #settle(p: Pending, outcome: AmiListResult | Error): void {
    if (this.#pending.get(p.actionId) !== p) return;
    this.#pending.delete(p.actionId);
    this.#ctx.timers.clearTimeout(p.timer);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }
}
