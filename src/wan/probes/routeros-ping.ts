/**
 * ICMP probes run by a RouterOS router: wanctl sits on the LAN and the router's own `/ping` tests
 * each WAN link, leaving through it with `interface=`, `routing-table=` (RouterOS 7) or
 * `src-address=`. The same idea as the persistent `ping -O` of icmp.ts:
 *
 * - over the API, ONE long-running `/ping address=<target> interval=<intervalMs>ms ...` per
 *   (link, target), streamed: each `!re` is one echo: `seq`, `time` (the RTT, e.g. "1ms537us")
 *   when answered, `status` ("timeout", or why it failed) when not;
 * - over REST, which cannot stream, one `/ping count=1` per interval (one in flight at most).
 *
 * Each seq is settled once; a reply slower than `timeoutMs` counts as lost. When the stream ends
 * (router refused it, connection lost) it is started again with exponential backoff; when it goes
 * silent for `stallMs` the connection is taken for dead and dropped, and the stream restarted.
 */
import { performance } from "node:perf_hooks";
import { parseRouterDuration, type RouterClient, type RouterError, type RouterRecord, type RouterStream } from "../route/routeros/client.js";
import { EchoSessionProbe, type EchoOutcome, type EchoSession, type PingSessionState } from "./icmp.js";
import type { LinkBinding, ProbeTiming } from "./types.js";

const now = (): number => performance.now();

/** How the router's ping leaves through the link: the `/ping` arguments besides the address. */
export type RouterPingVia = { readonly interface: string } | { readonly "routing-table": string } | { readonly "src-address": string };

export interface RouterPingSessionOptions {
  readonly client: RouterClient;
  readonly target: string;
  readonly via: RouterPingVia;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** First restart delay after the stream ended. Default 500 ms. */
  readonly restartMinMs?: number;
  /** Longest restart delay. Default 10 s. */
  readonly restartMaxMs?: number;
  /** Silence after which the connection is dropped and the stream restarted. Default max(3 × interval, timeout) + 2 s. */
  readonly stallMs?: number;
}

/** Seqs remembered as settled. */
const SETTLED_KEEP = 512;

/** One echo record of RouterOS's /ping, read: null for a record that is not about an echo. */
export function readPingRecord(record: RouterRecord, timeoutMs: number): Omit<EchoOutcome, "at"> | null {
  const seq = record.seq === undefined ? null : Number(record.seq);
  if (seq !== null && !Number.isInteger(seq)) return null;
  const status = record.status;
  if (status) return { seq, ok: false, error: status === "timeout" ? `timeout: the router got no reply to seq=${seq}` : `${status} (seq=${seq}${record.host ? `, from ${record.host}` : ""})` };
  const rtt = parseRouterDuration(record.time);
  if (rtt === null) return null;
  if (rtt > timeoutMs) return { seq, ok: false, error: `timeout: reply to seq=${seq} after ${rtt} ms, over ${timeoutMs} ms` };
  return { seq, ok: true, rttMs: rtt, detail: `seq=${seq} via the router` };
}

export class RouterPingSession implements EchoSession {
  private stateValue: PingSessionState = "idle";
  private latestValue: EchoOutcome | null = null;
  private lastErrorValue: string | null = null;
  private readonly listeners = new Set<(o: EchoOutcome) => void>();
  private readonly settled = new Set<number>();
  private stream: RouterStream | undefined;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private pollSeq = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private restartAt = 0;
  private backoffMs: number;
  private startsValue = 0;
  private readonly restartMinMs: number;
  private readonly restartMaxMs: number;
  private readonly stallMs: number;

  constructor(readonly options: RouterPingSessionOptions) {
    this.restartMinMs = options.restartMinMs ?? 500;
    this.restartMaxMs = options.restartMaxMs ?? 10_000;
    this.stallMs = options.stallMs ?? Math.max(3 * options.intervalMs, options.timeoutMs) + 2_000;
    this.backoffMs = this.restartMinMs;
  }

  /** The `/ping` arguments of this session (the API's words without the `=`). */
  static pingArgs(o: Pick<RouterPingSessionOptions, "target" | "via" | "intervalMs">, count?: number): Record<string, string> {
    return { address: o.target, ...o.via, ...(count === undefined ? { interval: `${o.intervalMs}ms` } : { count: String(count) }) };
  }

  get state(): PingSessionState {
    return this.stateValue;
  }
  get latest(): EchoOutcome | null {
    return this.latestValue;
  }
  get lastError(): string | null {
    return this.lastErrorValue;
  }
  get restartInMs(): number {
    return this.stateValue === "backoff" ? Math.max(0, Math.round(this.restartAt - now())) : 0;
  }
  /** How many times the stream (or the poller) was started. */
  get starts(): number {
    return this.startsValue;
  }

  start(): void {
    if (this.stateValue === "idle") this.begin();
  }

  subscribe(fn: (o: EchoOutcome) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async stop(): Promise<void> {
    if (this.stateValue === "stopped") return;
    this.stateValue = "stopped";
    clearTimeout(this.restartTimer);
    clearTimeout(this.stallTimer);
    clearInterval(this.poller);
    this.listeners.clear();
    const stream = this.stream;
    this.stream = undefined;
    await stream?.stop();
  }

  private begin(): void {
    this.stateValue = "running";
    this.startsValue++;
    const { client } = this.options;
    if (!client.stream) return this.startPolling();
    const stream = client.stream("/ping", RouterPingSession.pingArgs(this.options), {
      onRecord: (record) => {
        if (this.stream !== stream) return;
        this.stallTimer?.refresh();
        this.onRecord(record);
      },
      onEnd: (error) => {
        if (this.stream === stream) this.ended(error?.message ?? "the router ended the ping");
      },
    });
    this.stream = stream;
    this.stallTimer = setTimeout(() => {
      // Not even a timeout record for this long: the connection (or the router) is gone.
      client.reset(`the ping of ${this.options.target} was silent for ${this.stallMs} ms`);
      if (this.stream === stream) this.ended(`the router's ping was silent for ${this.stallMs} ms; connection dropped`);
    }, this.stallMs);
  }

  /** REST: a `/ping count=1` per interval, never two at once. */
  private startPolling(): void {
    const poll = (): void => {
      if (this.polling || this.stateValue !== "running") return;
      this.polling = true;
      const seq = this.pollSeq++;
      this.options.client.call("/ping", RouterPingSession.pingArgs(this.options, 1), this.stallMs).then(
        (records) => {
          const record = records.find((r) => r.time !== undefined || r.status !== undefined);
          if (record) this.onRecord({ ...record, seq: String(seq) });
          else this.emit({ seq, ok: false, error: "the router's ping returned no echo", at: now() });
        },
        (error: RouterError) => this.emit({ seq, ok: false, error: error.message, at: now() }),
      ).finally(() => (this.polling = false));
    };
    this.poller = setInterval(poll, this.options.intervalMs);
    poll();
  }

  private onRecord(record: RouterRecord): void {
    const outcome = readPingRecord(record, this.options.timeoutMs);
    if (!outcome) return;
    this.backoffMs = this.restartMinMs;
    if (outcome.seq !== null) {
      if (this.settled.has(outcome.seq)) return;
      this.settled.add(outcome.seq);
      if (this.settled.size > SETTLED_KEEP) this.settled.delete(this.settled.values().next().value!);
    }
    this.emit({ ...outcome, at: now() });
  }

  private ended(why: string): void {
    clearTimeout(this.stallTimer);
    const stream = this.stream;
    this.stream = undefined;
    void stream?.stop();
    if (this.stateValue === "stopped") return;
    this.lastErrorValue = why;
    this.settled.clear(); // a new stream counts from seq 0 again
    this.stateValue = "backoff";
    this.restartAt = now() + this.backoffMs;
    this.restartTimer = setTimeout(() => {
      if (this.stateValue === "backoff") this.begin();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.restartMaxMs);
    this.emit({ seq: null, ok: false, error: why, at: now() });
  }

  private emit(o: EchoOutcome): void {
    this.latestValue = o;
    for (const fn of [...this.listeners]) fn(o);
  }
}

export interface RouterPingProbeOptions {
  readonly client: RouterClient;
  readonly via: RouterPingVia;
  /** A round reuses an echo outcome at most this old (ms). Default `intervalMs`. */
  readonly maxAgeMs?: number;
  readonly restartMinMs?: number;
  readonly restartMaxMs?: number;
  readonly stallMs?: number;
}

/** An ICMP probe of `host` through `link`, sent by the router. */
export class RouterPingProbe extends EchoSessionProbe<RouterPingSession> {
  constructor(link: LinkBinding, host: string, timing: ProbeTiming, options: RouterPingProbeOptions) {
    const session = new RouterPingSession({
      client: options.client,
      target: host,
      via: options.via,
      intervalMs: timing.intervalMs,
      timeoutMs: timing.timeoutMs,
      ...(options.restartMinMs !== undefined ? { restartMinMs: options.restartMinMs } : {}),
      ...(options.restartMaxMs !== undefined ? { restartMaxMs: options.restartMaxMs } : {}),
      ...(options.stallMs !== undefined ? { stallMs: options.stallMs } : {}),
    });
    super(link, host, session, timing, "the router's /ping", options.maxAgeMs);
  }
}
