// Reconnecting after an established session dropped: retries spaced by the backoff, counted so
// that maxAttempts can give up, on a timer that close() or a deliberate connect() can cancel.

import { backoffDelay } from "../../lib/backoff.js";
import { AmiConnectionError } from "./errors.js";
import type { AmiSettings } from "./options.js";
import type { AmiConnectionState, AmiStateChange } from "./state.js";

export interface ReconnectHooks {
  setState(state: AmiConnectionState, extra?: Omit<AmiStateChange, "state" | "previous">): void;
  /** One retry; it reports its own failure back through schedule(). */
  retry(): Promise<void>;
}

export class Reconnector {
  readonly #settings: AmiSettings;
  readonly #hooks: ReconnectHooks;
  #attempt = 0;
  #timer: unknown = undefined;

  constructor(settings: AmiSettings, hooks: ReconnectHooks) {
    this.#settings = settings;
    this.#hooks = hooks;
  }

  /** A session came up, or the caller asked to connect: the next drop starts the backoff afresh. */
  reset(): void {
    this.#attempt = 0;
  }

  /** After a drop or a failed retry: schedule the next retry, or give up (state `disconnected`). */
  schedule(error: Error): void {
    const { target, log, timers, backoff, random, maxAttempts } = this.#settings;
    if (!this.#settings.reconnect) {
      this.#hooks.setState("disconnected", { error });
      return;
    }
    const attempt = this.#attempt++;
    if (maxAttempts !== undefined && attempt >= maxAttempts) {
      const gaveUp = new AmiConnectionError(target, `gave up reconnecting to AMI at ${target} after ${attempt} attempts: ${error.message}`, {
        cause: error,
      });
      log.error({ target, attempts: attempt }, "AMI reconnect gave up");
      this.#hooks.setState("disconnected", { error: gaveUp });
      return;
    }
    const delayMs = backoffDelay(attempt + 1, backoff, random);
    log.info({ target, attempt: attempt + 1, delayMs }, "AMI reconnect scheduled");
    this.#hooks.setState("reconnecting", { error, attempt: attempt + 1, delayMs });
    this.#timer = timers.setTimeout(() => {
      this.#timer = undefined;
      this.#hooks.retry().catch(() => {}); // failures are logged and rescheduled by retry()
    }, delayMs);
  }

  /** Drop the scheduled retry: connect() is about to retry at once. */
  cancelTimer(): void {
    this.#settings.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** close(): no more retries, if one was scheduled. */
  stop(): void {
    if (this.#timer !== undefined) this.cancelTimer();
  }
}
