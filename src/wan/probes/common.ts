// What every socket-based probe shares: one attempt with a deadline, abort and cleanup; the RTT
// clock; error texts; host-name resolution bounded to one lookup in flight per probe.
import { createSocket, type Socket } from "node:dgram";
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
 * Base of the socket probes (TCP, DNS, HTTP, SIP): runs with a timeout and abort; `close()` aborts
 * the runs in flight and waits for them. TCP and HTTP open a connection per run (a connection is
 * the test); DNS and SIP send each run's request over their UdpChannel.
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

interface UdpWaiter {
  readonly match: (msg: Buffer) => string | null;
  readonly finish: (o: Outcome) => void;
  readonly refusedMeansUp: boolean;
  sentAt: number;
}

/**
 * One connected UDP socket per probe, kept from run to run (DNS, SIP). A socket per run cost the
 * daemon a socket, a bind, a connect and a close, and the kernel a new connection-tracking entry
 * in every namespace on the way, each round of each link (4 a second by default). Each run still
 * sends its own request (a new DNS ID, a new SIP branch and Call-ID) and takes only the answer
 * that matches it, so a late answer to an earlier run is never taken for the current one. A
 * socket error (ICMP port unreachable, no route, the source address gone) ends the runs waiting
 * and the socket: the next run opens a fresh one, as it does when the target's address changed.
 */
export class UdpChannel {
  private socket: Socket | undefined;
  private ready: Promise<Socket> | undefined;
  private remote = "";
  private readonly waiters = new Set<UdpWaiter>();

  constructor(
    private readonly family: 4 | 6,
    private readonly sourceAddress: string,
  ) {}

  /**
   * Sends `request(localPort)` to address:port and finishes with the first datagram that `match`
   * accepts (its detail; the RTT counted from the send), or with the socket's error.
   */
  async exchange(o: {
    address: string;
    port: number;
    request: (localPort: number) => Buffer | string;
    match: (msg: Buffer) => string | null;
    refusedMeansUp: boolean;
    finish: (o: Outcome) => void;
    onCleanup: (fn: () => void) => void;
  }): Promise<void> {
    const socket = await this.open(o.address, o.port);
    const waiter: UdpWaiter = { match: o.match, finish: o.finish, refusedMeansUp: o.refusedMeansUp, sentAt: 0 };
    this.waiters.add(waiter);
    o.onCleanup(() => this.waiters.delete(waiter));
    const payload = o.request(socket.address().port);
    waiter.sentAt = now();
    socket.send(payload, (err) => {
      if (err) this.fail(socket, err);
    });
  }

  /** Closes the socket; runs still waiting end by their timeout or abort. */
  close(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.ready = undefined;
    this.remote = "";
    try {
      socket?.close();
    } catch {
      // closed already
    }
  }

  private open(address: string, port: number): Promise<Socket> {
    const remote = `${address}|${port}`;
    if (this.ready && this.remote === remote) return this.ready;
    this.close();
    const socket = createSocket(this.family === 6 ? "udp6" : "udp4");
    this.socket = socket;
    this.remote = remote;
    let connected = false;
    this.ready = new Promise<Socket>((resolve, reject) => {
      socket.on("error", (err) => {
        if (!connected) reject(err);
        this.fail(socket, err);
      });
      socket.on("message", (msg) => {
        for (const w of this.waiters) {
          const detail = w.match(msg);
          if (detail !== null) w.finish({ ok: true, rttMs: elapsedMs(w.sentAt), detail });
        }
      });
      socket.bind({ address: this.sourceAddress, port: 0, exclusive: true }, () => {
        socket.connect(port, address, (err?: Error) => {
          if (err) {
            // No route to it now (ENETUNREACH): this run fails, and the next one connects anew.
            reject(err);
            return this.fail(socket, err);
          }
          connected = true;
          resolve(socket);
        });
      });
    });
    this.ready.catch(() => undefined); // the run that asked gets the error; this one is not left unhandled
    return this.ready;
  }

  /** The socket's error ends every run waiting on it, and the socket. */
  private fail(socket: Socket, err: unknown): void {
    if (socket === this.socket) {
      for (const w of this.waiters) w.finish(udpErrorOutcome(err, w.refusedMeansUp, w.sentAt));
      this.close();
    }
  }
}
