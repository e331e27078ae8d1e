// Delivers alerts on every channel, each on its own: its own outbox file, its own timer, its own
// retries. `enqueue` only writes the outbox and returns, so the failover never waits on a mail
// server; a channel that hangs is cut off by its send timeout and delays no other channel.
import { performance } from "node:perf_hooks";
import { backoffDelay, backoffPolicy, type BackoffPolicy } from "../lib/backoff.js";
import { alertSchema, type Alert } from "./alert.js";
import { NotifyError, sendWithin, type Notifier } from "./notifier.js";
import { loadOutbox, saveOutbox } from "./outbox-file.js";
import {
  addAlert,
  addUrgent,
  batchMessage,
  markFailed,
  markSent,
  plan,
  queuedAlerts,
  type Batch,
  type OutboxState,
  type QueuePolicy,
} from "./queue.js";
import { sanitizeAlert, scrubText } from "./sanitize.js";

/** Time and timers, injected so that tests drive them; `systemClock` in the daemon. */
export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

// setTimeout cannot wait longer than 2^31-1 ms; a longer wait is re-planned when it fires.
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  // Monotonic (it starts at the wall time and never jumps with it): backoff, coalescing and the
  // rate limit are durations. A wall clock stepped back an hour would otherwise stall deliveries.
  now: () => performance.timeOrigin + performance.now(),
  setTimer: (fn, ms) => {
    const timer = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    timer.unref(); // pending alerts never keep a one-off CLI process alive
    return timer;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The few logger methods used (a pino Logger fits). */
export interface NotifyLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const silent: NotifyLog = { info: () => {}, warn: () => {}, error: () => {} };

export interface AlertOutboxOptions {
  stateDir: string;
  notifiers: readonly Notifier[];
  /** config.alerts.coalesceSeconds */
  coalesceSeconds: number;
  /** config.alerts.maxPerHour */
  maxPerHour: number;
  clock?: Clock;
  random?: () => number;
  backoff?: Partial<BackoffPolicy>;
  /** One attempt on one channel may take this long before it is abandoned. Default 60 s. */
  sendTimeoutMs?: number;
  /**
   * Source address for a channel's next attempt: the active link's address, so that alerts
   * leave through the link that works. Return undefined for a server on the LAN.
   */
  localAddress?: (channel: string) => string | undefined;
  /** Secret values read from the config: scrubbed from alerts before they touch the disk. */
  secrets?: readonly string[];
  log?: NotifyLog;
}

export interface ChannelOutcome {
  channel: string;
  ok: boolean;
  /** Why it failed, worded for the operator (no secrets). */
  error?: string;
  code?: string;
  /** Alerts still waiting in this channel's outbox afterwards. */
  queued: number;
}

export interface ChannelStatus {
  channel: string;
  /** Alerts not yet accepted by the channel. */
  queued: number;
  /** Failed attempts of the message at the head of the line. */
  attempts: number;
  lastError?: string;
  /** When the next attempt is due (clock ms), null when nothing waits. */
  nextAttemptAt: number | null;
  sentLastHour: number;
}

/**
 * Retries of a channel that cannot be reached: the first after 2.5–5 s, at most 5 min apart, so
 * that once the channel is back the queue goes out within 5 min.
 */
export const NOTIFY_BACKOFF: BackoffPolicy = { initialMs: 5_000, maxMs: 300_000, factor: 2, jitter: 0.5 };

const MAX_SENDS_PER_PUMP = 100;

export class AlertOutbox {
  private constructor(
    private readonly workers: ChannelWorker[],
    private readonly options: AlertOutboxOptions,
    private readonly log: NotifyLog,
    /** Outbox files found damaged at open (moved aside; what they held is lost): people must hear of it. */
    readonly damaged: readonly string[],
  ) {}

  /** Opens the outboxes: what a previous run left is delivered. */
  static open(options: AlertOutboxOptions): AlertOutbox {
    const channels = options.notifiers.map((n) => n.channel);
    if (new Set(channels).size !== channels.length) throw new RangeError(`two notifiers share a channel name: ${channels.join(", ")}`);
    const damaged: string[] = [];
    const log = options.log ?? silent;
    const clock = options.clock ?? systemClock;
    const policy: QueuePolicy = { coalesceMs: Math.max(0, options.coalesceSeconds) * 1000, maxPerHour: Math.max(1, options.maxPerHour) };
    const workers = options.notifiers.map((notifier) => {
      const loaded = loadOutbox(options.stateDir, notifier.channel, clock.now());
      if (loaded.warning) {
        log.warn({ channel: notifier.channel }, loaded.warning);
        damaged.push(`alert outbox of ${notifier.channel}: ${loaded.warning}; alerts it held were not delivered`);
      }
      const worker = new ChannelWorker(notifier, loaded.state, {
        stateDir: options.stateDir,
        clock,
        policy,
        random: options.random ?? Math.random,
        backoff: backoffPolicy(NOTIFY_BACKOFF, options.backoff),
        sendTimeoutMs: options.sendTimeoutMs ?? 60_000,
        localAddress: options.localAddress ?? (() => undefined),
        secrets: options.secrets ?? [],
        log,
      });
      const left = queuedAlerts(loaded.state);
      if (left > 0) log.info({ channel: notifier.channel, queued: left }, "alerts left from the previous run will be delivered");
      return worker;
    });
    const outbox = new AlertOutbox(workers, options, log, damaged);
    for (const worker of workers) worker.kick();
    return outbox;
  }

  get channels(): string[] {
    return this.workers.map((w) => w.channel);
  }

  /** Queues the alert on every channel and returns at once; never throws. */
  enqueue(alert: Alert): void {
    const clean = this.prepare(alert);
    for (const worker of this.workers) worker.enqueue(clean);
  }

  /**
   * Sends the alert now on every channel as its own message (no coalescing, no rate limit), with
   * the outbox's guarantees: if a channel fails, the alert stays queued there and is retried.
   * Resolves with each channel's outcome of this first attempt.
   */
  sendNow(alert: Alert): Promise<ChannelOutcome[]> {
    const clean = this.prepare(alert);
    return Promise.all(this.workers.map((w) => w.sendNow(clean)));
  }

  /** Retry every channel now rather than after its backoff (e.g. after the office changed link). */
  retryNow(): void {
    for (const worker of this.workers) worker.retryNow();
  }

  /** Sends what waits now, ignoring backoff and coalescing (not the rate limit); one try each. */
  flush(): Promise<ChannelOutcome[]> {
    return Promise.all(this.workers.map((w) => w.flush()));
  }

  status(): ChannelStatus[] {
    return this.workers.map((w) => w.status());
  }

  /** Resolves once no channel has a send in progress or due now (what is waiting stays waiting). */
  async settled(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.settled()));
  }

  /**
   * Stops delivering: no new attempt starts; one in progress gets `graceMs` (default 5 s) and is
   * then abandoned. Everything not accepted stays in the outbox for the next start.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop(options.graceMs ?? 5_000)));
  }

  /** Secrets out, and an alert that would not read back from disk replaced by one that does. */
  private prepare(alert: Alert): Alert {
    const clean = sanitizeAlert(alert, this.options.secrets ?? []);
    let problem: string;
    try {
      const parsed = alertSchema.safeParse(JSON.parse(JSON.stringify(clean)));
      if (parsed.success) return parsed.data;
      const issue = parsed.error.issues[0];
      problem = `${issue?.path.join(".")}: ${issue?.message}`;
    } catch (error) {
      problem = (error as Error).message;
    }
    this.log.error({ alertId: clean.id }, `alert has an unusable field (${problem}); sending it without its figures and timeline`);
    return {
      id: String(clean.id || "invalid"),
      kind: clean.kind,
      at: typeof clean.at === "string" && !Number.isNaN(Date.parse(clean.at)) ? clean.at : new Date().toISOString(),
      reason: `${String(clean.reason ?? "")} (details could not be rendered)`.trim(),
      links: [],
      timeline: [],
      ...(typeof clean.from === "string" ? { from: clean.from } : {}),
      ...(typeof clean.to === "string" ? { to: clean.to } : {}),
    };
  }
}

interface WorkerDeps {
  stateDir: string;
  clock: Clock;
  policy: QueuePolicy;
  random: () => number;
  backoff: BackoffPolicy;
  sendTimeoutMs: number;
  localAddress: (channel: string) => string | undefined;
  secrets: readonly string[];
  log: NotifyLog;
}

type AttemptResult = { ok: true } | { ok: false; error: string; code: string };

/** One channel: its outbox state, one attempt at a time, and a timer for the next due time. */
class ChannelWorker {
  readonly channel: string;
  private chain: Promise<unknown> = Promise.resolve();
  private pumpQueued = false;
  private timer: unknown = undefined;
  private inflight: AbortController | undefined;
  private stopped = false;
  /** Callers of sendNow waiting for the outcome of their batch's first attempt. */
  private readonly waiters = new Map<string, (result: AttemptResult) => void>();

  constructor(
    private readonly notifier: Notifier,
    private state: OutboxState,
    private readonly deps: WorkerDeps,
  ) {
    this.channel = notifier.channel;
  }

  enqueue(alert: Alert): void {
    if (this.stopped) {
      // Stopped: writing now could race the next daemon (after a reload or a restart). Say so.
      this.deps.log.warn({ channel: this.channel, alertId: alert.id }, "alert raised after alerts were stopped; not queued");
      return;
    }
    this.update(addAlert(this.state, alert, this.deps.clock.now()));
    this.kick();
  }

  async sendNow(alert: Alert): Promise<ChannelOutcome> {
    if (this.stopped) return this.outcome({ ok: false, error: `${this.channel}: alerts are stopped`, code: "ESTOPPED" });
    const { state, batchId } = addUrgent(this.state, alert, this.deps.clock.now());
    if (batchId === null) {
      if (this.state.delivered.includes(alert.id)) return this.outcome({ ok: true });
      return this.outcome({ ok: false, error: `${this.channel}: this alert is already queued`, code: "EQUEUED" });
    }
    const result = new Promise<AttemptResult>((resolve) => this.waiters.set(batchId, resolve));
    this.update(state);
    this.kick();
    return this.outcome(await result);
  }

  retryNow(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    this.update({ ...this.state, batches: this.state.batches.map((b) => ({ ...b, notBefore: Math.min(b.notBefore, now) })) });
    this.kick();
  }

  flush(): Promise<ChannelOutcome> {
    if (this.stopped) return Promise.resolve(this.outcome({ ok: false, error: `${this.channel}: alerts are stopped`, code: "ESTOPPED" }));
    const run = this.chain.then(async () => {
      const result = await this.pump(true);
      this.schedule();
      return this.outcome(result ?? { ok: true });
    });
    this.chain = run.catch(() => {});
    return run;
  }

  /** Plans again soon (after whatever runs now): new alert, timer, retry request. */
  kick(): void {
    if (this.stopped || this.pumpQueued) return;
    this.pumpQueued = true;
    this.clearTimer();
    this.chain = this.chain
      .then(async () => {
        this.pumpQueued = false;
        await this.pump(false);
        this.schedule();
      })
      .catch((error: unknown) => this.deps.log.error({ channel: this.channel, err: String(error) }, "alert delivery loop failed"));
  }

  async settled(): Promise<void> {
    // Bounded: each round waits for the work queued so far; new work may queue behind it.
    for (let i = 0; i < 100; i++) {
      const current = this.chain;
      await current;
      if (current === this.chain && !this.pumpQueued) return;
    }
  }

  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    const inflight = this.inflight;
    if (inflight) {
      if (graceMs <= 0) inflight.abort();
      else {
        const timer = this.deps.clock.setTimer(() => inflight.abort(), graceMs);
        await this.chain;
        this.deps.clock.clearTimer(timer);
      }
    }
    await this.chain;
    for (const [, resolve] of this.waiters) resolve({ ok: false, error: `${this.channel}: stopped before the alert could be sent`, code: "ESTOPPED" });
    this.waiters.clear();
  }

  status(): ChannelStatus {
    const now = this.deps.clock.now();
    const head = this.state.batches[0];
    const p = plan(this.state, now, this.deps.policy);
    const next = head ? head.notBefore : p.kind === "wait" ? p.until : p.kind === "send" ? now : null;
    return {
      channel: this.channel,
      queued: queuedAlerts(this.state),
      attempts: head?.attempts ?? 0,
      ...(head?.lastError ? { lastError: head.lastError } : {}),
      nextAttemptAt: next,
      sentLastHour: this.state.sentAt.filter((t) => t > now - 3_600_000).length,
    };
  }

  /** Sends what is due, one message at a time; returns the last attempt's result, if any. */
  private async pump(force: boolean): Promise<AttemptResult | undefined> {
    let last: AttemptResult | undefined;
    for (let i = 0; i < MAX_SENDS_PER_PUMP && !this.stopped; i++) {
      const next = plan(this.state, this.deps.clock.now(), this.deps.policy, { force });
      if (next.kind !== "send") {
        if (force && next.kind === "wait" && next.why === "rate limit" && !last) {
          last = { ok: false, error: `${this.channel}: rate limit of ${this.deps.policy.maxPerHour} messages per hour reached; the alerts will go in the next message`, code: "ERATELIMIT" };
        }
        break;
      }
      // The batch is on disk before it leaves: after a crash it is sent again with the same id.
      this.update(next.state);
      last = await this.attempt(next.batch);
      if (!last.ok) break;
    }
    return last;
  }

  private async attempt(batch: Batch): Promise<AttemptResult> {
    const { clock, log } = this.deps;
    const controller = new AbortController();
    this.inflight = controller;
    const timeout = clock.setTimer(() => controller.abort(), this.deps.sendTimeoutMs);
    let result: AttemptResult;
    try {
      const localAddress = this.deps.localAddress(this.channel);
      await sendWithin(this.notifier, batchMessage(batch), { signal: controller.signal, ...(localAddress ? { localAddress } : {}) });
      result = { ok: true };
    } catch (error) {
      result = this.failure(error);
    } finally {
      clock.clearTimer(timeout);
      this.inflight = undefined;
    }
    const now = clock.now();
    if (result.ok) {
      this.update(markSent(this.state, batch.id, now));
      log.info({ channel: this.channel, messageId: batch.id, alerts: batch.alerts.length, attempts: batch.attempts + 1 }, "alert delivered");
    } else {
      // At least 1 ms, so that a zero policy cannot spin on a dead channel.
      const delay = Math.max(1, backoffDelay(batch.attempts + 1, this.deps.backoff, this.deps.random));
      this.update(markFailed(this.state, batch.id, now, result.error, delay));
      log.warn({ channel: this.channel, messageId: batch.id, code: result.code, attempts: batch.attempts + 1, retryInMs: delay }, `alert not delivered: ${result.error}`);
    }
    const waiter = this.waiters.get(batch.id);
    if (waiter) {
      this.waiters.delete(batch.id);
      waiter(result);
    }
    return result;
  }

  private failure(error: unknown): AttemptResult & { ok: false } {
    if (error instanceof NotifyError) return { ok: false, error: scrubText(error.message, this.deps.secrets), code: error.code };
    // Not an adapter's own error: keep only its message, scrubbed (a stack or cause may hold more).
    const text = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `${this.channel}: ${scrubText(text, this.deps.secrets)}`, code: "EUNKNOWN" };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.clearTimer();
    const now = this.deps.clock.now();
    const next = plan(this.state, now, this.deps.policy);
    if (next.kind === "idle") return;
    if (next.kind === "send") {
      this.kick(); // due already (e.g. a test alert queued behind the attempt that just failed)
      return;
    }
    this.timer = this.deps.clock.setTimer(() => {
      this.timer = undefined;
      this.kick();
    }, next.until - now);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Every change is written before anything else happens; a failed write is logged, not thrown. */
  private update(state: OutboxState): void {
    this.state = state;
    try {
      saveOutbox(this.deps.stateDir, state);
    } catch (error) {
      this.deps.log.error({ channel: this.channel, err: (error as Error).message }, "cannot write the alert outbox; alerts are kept in memory only");
    }
  }

  private outcome(result: AttemptResult): ChannelOutcome {
    return { channel: this.channel, ok: result.ok, ...(result.ok ? {} : { error: result.error, code: result.code }), queued: queuedAlerts(this.state) };
  }
}
