// Following trunks through Asterisk's `Registry` events (class `system`, sent after every REGISTER
// response). PJSIP sends `ChannelType: PJSIP`, `Username: <client_uri>`, `Domain: <server_uri>`;
// chan_sip sends `ChannelType: SIP`, `Username: <user>`, `Domain: <host>`. Events carry no ActionID:
// a trunk is recognised by those fields, and a watch only sees events that arrive after it was made.

import { performance } from "node:perf_hooks";

import type { AmiClient } from "../ami/client.js";
import type { AmiEvent } from "../ami/wire.js";

export interface TrunkIdentity {
  readonly channelType: "PJSIP" | "SIP";
  readonly username: string;
  readonly domain: string;
}

export interface SeenStatus {
  readonly status: string;
  /** performance.now() when it arrived. */
  readonly at: number;
}

export class TrunkWatch {
  readonly identity: TrunkIdentity;
  readonly seen: SeenStatus[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #close: () => void;

  constructor(identity: TrunkIdentity, close: (w: TrunkWatch) => void) {
    this.identity = identity;
    this.#close = () => close(this);
  }

  /** @internal */
  push(status: string): void {
    this.seen.push({ status, at: performance.now() });
    for (const w of [...this.#waiters]) w();
  }

  /**
   * The first status at or after position `from` that satisfies `accept`, or null once `deadline`
   * (performance.now() value) passes. Returns its position too, to continue from there.
   */
  wait(from: number, accept: (status: string) => boolean, deadline: number): Promise<{ index: number; seen: SeenStatus } | null> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        for (let i = from; i < this.seen.length; i++) {
          if (accept(this.seen[i]!.status)) {
            done();
            resolve({ index: i, seen: this.seen[i]! });
            return true;
          }
        }
        return false;
      };
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter = (): void => void check();
      const timer = setTimeout(() => {
        done();
        resolve(null);
      }, Math.max(0, deadline - performance.now()));
      if (!check()) this.#waiters.add(waiter);
    });
  }

  close(): void {
    this.#close();
  }
}

export class RegistryTracker {
  readonly #watches = new Set<TrunkWatch>();
  /** Registry events seen in this process's life (any trunk): 0 suggests the user lacks read=system. */
  eventsSeen = 0;
  /** A FullyBooted arrived after a login: the session does receive `system` events. */
  systemEventsSeen = false;

  constructor(client: AmiClient) {
    client.onEvent("Registry", (e) => this.#onRegistry(e));
    client.onEvent("FullyBooted", () => {
      this.systemEventsSeen = true;
    });
  }

  watch(identity: TrunkIdentity): TrunkWatch {
    const w = new TrunkWatch(identity, (x) => this.#watches.delete(x));
    this.#watches.add(w);
    return w;
  }

  #onRegistry(e: AmiEvent): void {
    this.eventsSeen++;
    this.systemEventsSeen = true;
    const type = (e.fields.get("ChannelType") ?? "").trim();
    const username = (e.fields.get("Username") ?? "").trim();
    const domain = (e.fields.get("Domain") ?? "").trim();
    const status = (e.fields.get("Status") ?? "").trim();
    for (const w of this.#watches) {
      const id = w.identity;
      if (id.channelType.toLowerCase() !== type.toLowerCase()) continue;
      if (id.username !== username || id.domain.toLowerCase() !== domain.toLowerCase()) continue;
      w.push(status);
    }
  }
}
