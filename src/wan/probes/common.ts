// What every socket-based probe shares: one attempt with a deadline, abort and cleanup; the RTT
// clock; error texts; host-name resolution bounded to one lookup in flight per probe.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import { errorCode } from "../../lib/net-errors.js";
import type { LinkBinding, Probe, ProbeResult, ProbeTiming, ProbeType } from "./types.js";

export type Outcome = Omit<ProbeResult, "target">;

/** Milliseconds since `start` (a `performance.now()` value), never negative, 3 decimals. */
export function elapsedMs(start: number): number {
  const ms = performance.now() - start;
  return ms > 0 ? Math.round(ms * 1000) / 1000 : 0;
}

export const now = (): number => performance.now();

/** "ECONNRESET: read ECONNRESET" style text of anything thrown. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * A UDP probe's socket error as an outcome. An ICMP port unreachable after the request left
 * (`sentAt` > 0) proves the host answered, so it counts as up when `refusedMeansUp`.
 */
export function udpErrorOutcome(err: unknown, refusedMeansUp: boolean, sentAt: number): Outcome {
  if (errorCode(err) === "ECONNREFUSED" && refusedMeansUp && sentAt > 0) {
    return { ok: true, rttMs: elapsedMs(sentAt), detail: "port unreachable (the host answered)" };
  }
  return { ok: false, error: errorText(err) };
}

/** The text an aborted attempt reports: the abort reason when it is a string, else "aborted". */
function abortText(signal: AbortSignal): string {
  return typeof signal.reason === "string" ? signal.reason : "aborted";
}

/**
 * Runs one attempt: `start` opens what it needs, registers its cleanup with `onCleanup` and calls
 * `finish` once it knows the outcome. The attempt ends at the first of: `finish`, the timeout,
 * an abort of any of `signals`, or an exception in `start`. Cleanups then run (each once, errors
 * swallowed), the timer is cleared and the abort listeners removed: nothing outlives the promise.
 * (Not `AbortSignal.any`: a daemon that combines signals 20 times a second should not depend on
 * the garbage collector to drop them.)
 */
export function attempt(
  target: string,
  timeoutMs: number,
  signals: readonly (AbortSignal | undefined)[],
  start: (finish: (o: Outcome) => void, onCleanup: (fn: () => void) => void) => void | Promise<void>,
  timeoutError: () => string = () => `timeout: no answer within ${timeoutMs} ms`,
): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => {
    const cleanups: (() => void)[] = [];
    const live = signals.filter((s): s is AbortSignal => s !== undefined);
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const listeners = live.map((s) => [s, () => finish({ ok: false, error: abortText(s) })] as const);
    function finish(o: Outcome): void {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      for (const [s, fn] of listeners) s.removeEventListener("abort", fn);
      for (const fn of cleanups.splice(0)) {
        try {
          fn();
        } catch {
          // a socket already closed: nothing left to free
        }
      }
      resolve({ target, ...o });
    }
    const onCleanup = (fn: () => void): void => {
      if (!done) {
        cleanups.push(fn);
        return;
      }
      try {
        fn();
      } catch {
        // as above
      }
    };
    const aborted = live.find((s) => s.aborted);
    if (aborted) return finish({ ok: false, error: abortText(aborted) });
    for (const [s, fn] of listeners) s.addEventListener("abort", fn, { once: true });
    timer = setTimeout(() => finish({ ok: false, error: timeoutError() }), timeoutMs);
    try {
      const p = start(finish, onCleanup);
      if (p) p.catch((err: unknown) => finish({ ok: false, error: errorText(err) }));
    } catch (err) {
      finish({ ok: false, error: errorText(err) });
    }
  });
}

/**
 * Base of the probes that open a socket per run (TCP, DNS, HTTP, SIP): a fresh socket each time is
 * a real path test, survives the link's address going away and coming back, and can never receive
 * a stale answer meant for an earlier run. `close()` aborts the runs in flight and waits for them.
 */
export abstract class SocketProbe implements Probe {
  abstract readonly type: ProbeType;
  private readonly closer = new AbortController();
  private readonly running = new Set<Promise<ProbeResult>>();
  protected readonly family: 4 | 6;

  constructor(
    readonly target: string,
    readonly link: LinkBinding,
    protected readonly timing: ProbeTiming,
  ) {
    this.family = familyOf(link.sourceAddress);
  }

  run(signal?: AbortSignal): Promise<ProbeResult> {
    if (this.closer.signal.aborted) return Promise.resolve({ target: this.target, ok: false, error: "probe closed" });
    const p = attempt(this.target, this.timing.timeoutMs, [this.closer.signal, signal], (finish, onCleanup) =>
      this.start(finish, onCleanup),
    );
    this.running.add(p);
    void p.then(() => this.running.delete(p));
    return p;
  }

  async close(): Promise<void> {
    if (!this.closer.signal.aborted) this.closer.abort("probe closed");
    await Promise.all([...this.running]);
  }

  protected abstract start(finish: (o: Outcome) => void, onCleanup: (fn: () => void) => void): void | Promise<void>;
}

/** 4 for an IPv4 source address, 6 for IPv6. */
export function familyOf(address: string): 4 | 6 {
  const f = isIP(address);
  if (f !== 4 && f !== 6) throw new Error(`not an IP address: ${JSON.stringify(address)}`);
  return f;
}

/**
 * Turns a target host into an address of the source address's family.
 *
 * IP literals are used as they are. Names go to the system resolver (getaddrinfo), which does NOT
 * go through the probed link: prefer addresses for probe targets. To keep a hung resolver from
 * filling libuv's thread pool at 3 rounds a second, at most one lookup per probe is in flight, and
 * a resolved address is reused for `ttlMs` (and for as long as a refresh keeps failing).
 */
export class HostResolver {
  private address: string | null;
  private resolvedAt = -Infinity;
  private inFlight: Promise<string> | null = null;

  constructor(
    readonly host: string,
    readonly family: 4 | 6,
    private readonly ttlMs = 60_000,
  ) {
    const literal = isIP(host);
    if (literal !== 0 && literal !== family) {
      throw new Error(`target ${host} is IPv${literal} but the link's source address is IPv${family}`);
    }
    this.address = literal !== 0 ? host : null;
  }

  get isLiteral(): boolean {
    return isIP(this.host) !== 0;
  }

  /** The address to use now; rejects when none is known and the lookup fails. */
  resolve(): Promise<string> {
    if (this.isLiteral && this.address) return Promise.resolve(this.address);
    const fresh = now() - this.resolvedAt < this.ttlMs;
    if (this.address && fresh) return Promise.resolve(this.address);
    if (!this.inFlight) {
      this.inFlight = lookup(this.host, { family: this.family })
        .then((r) => {
          this.address = r.address;
          this.resolvedAt = now();
          return r.address;
        })
        .finally(() => {
          this.inFlight = null;
        });
      // A refresh that fails is not an error while an older address is still known.
      this.inFlight.catch(() => undefined);
    }
    if (this.address) return Promise.resolve(this.address);
    return this.inFlight.catch((err: unknown) => {
      throw new Error(`cannot resolve ${this.host}: ${errorText(err)}`);
    });
  }
}
