// Who gets told what: event, state and protocol-error listeners, and waiting for one event.

import { type AmiParseError, AmiStateError, AmiTimeoutError } from "./errors.js";
import type { AmiContext } from "./options.js";
import type { AmiEvent } from "./packet.js";
import type { AmiStateChange } from "./state.js";

export type Listener<T> = (value: T) => void;

export class Subscriptions {
  readonly #ctx: AmiContext;
  readonly #eventListeners = new Map<string, Set<Listener<AmiEvent>>>();
  readonly #stateListeners = new Set<Listener<AmiStateChange>>();
  readonly #errorListeners = new Set<Listener<AmiParseError>>();

  constructor(ctx: AmiContext) {
    this.#ctx = ctx;
  }

  // Each on* returns its unsubscribe function.

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

  onProtocolError(listener: Listener<AmiParseError>): () => void {
    this.#errorListeners.add(listener);
    return () => {
      this.#errorListeners.delete(listener);
    };
  }

  /** The next event `name` that satisfies `predicate`; rejects on timeout or once the client is closed. */
  waitForEvent(name: string, predicate: (e: AmiEvent) => boolean, timeoutMs: number): Promise<AmiEvent> {
    const { target, timers } = this.#ctx;
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

  // The emitters iterate over copies: a listener may unsubscribe (or subscribe) while being called.

  emitEvent(event: AmiEvent): void {
    const named = this.#eventListeners.get(event.event.toLowerCase());
    const all = this.#eventListeners.get("*");
    for (const l of [...(named ?? []), ...(all ?? [])]) this.#call(l, event, "event");
  }

  emitState(change: AmiStateChange): void {
    for (const l of [...this.#stateListeners]) this.#call(l, change, "state");
  }

  emitProtocolError(error: AmiParseError): void {
    for (const l of [...this.#errorListeners]) this.#call(l, error, "protocolError");
  }

  #call<T>(listener: Listener<T>, value: T, what: string): void {
    try {
      listener(value);
    } catch (error) {
      // A subscriber's bug must not break the connection.
      this.#ctx.log.error(
        { target: this.#ctx.target, err: { message: error instanceof Error ? error.message : String(error) } },
        `AMI ${what} listener threw`,
      );
    }
  }
}
