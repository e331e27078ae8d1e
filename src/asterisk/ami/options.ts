// The client's configuration: the options callers pass, and the defaults that turn them into the
// settings every other module reads.

import { backoffPolicy, type BackoffPolicy } from "../../lib/backoff.js";
import { checkEventMask } from "./login.js";

/** pino-compatible: pass a pino logger (or a child) as is. */
export interface AmiLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Timer functions, injectable so tests control reconnect delays and timeouts. */
export interface AmiTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** `Events:` of the Login: all, none, or a list of classes (`system`, `call`, …). */
export type AmiEventMask = "on" | "off" | readonly string[];

/** Reconnect delays: the first retry after 125–250 ms, growing to at most 30 s apart. */
export const AMI_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 30_000, factor: 2, jitter: 0.5 };

export interface AmiReconnectOptions {
  /** Overrides of AMI_BACKOFF. */
  backoff?: Partial<BackoffPolicy>;
  /** Source of the backoff's jitter, in [0, 1). Default Math.random. */
  random?: () => number;
  /** Give up after this many failed retries in a row (state `disconnected`). Default: never. */
  maxAttempts?: number;
}

export interface AmiClientOptions {
  host: string;
  /** Default 5038. */
  port?: number;
  username: string;
  secret: string;
  /**
   * `Events:` sent with the Login. Default "off". `null` sends no `Events:` header, which leaves
   * Asterisk's default (every class the user may read).
   */
  events?: AmiEventMask | null;
  /** TCP connect + banner, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Default per-action timeout (Login included), ms. Default 10 000. */
  actionTimeoutMs?: number;
  /** Parser bound, bytes. Default 1 MiB. */
  maxPacketSize?: number;
  /** Reconnect after a drop of an established session. Default on; false disables. */
  reconnect?: boolean | AmiReconnectOptions;
  logger?: AmiLogger;
  timers?: AmiTimers;
}

export interface AmiActionOptions {
  /** Overrides actionTimeoutMs for this action (for lists: until the completion event). */
  timeoutMs?: number;
}

/** What every part of a client needs to log, time out and name its server in messages. */
export interface AmiContext {
  /** `host:port`, as errors and logs name it. */
  readonly target: string;
  readonly log: AmiLogger;
  readonly timers: AmiTimers;
}

/** The options with every default applied. */
export interface AmiSettings extends AmiContext {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly secret: string;
  readonly events: AmiEventMask | null;
  readonly connectTimeoutMs: number;
  readonly actionTimeoutMs: number;
  readonly maxPacketSize: number | undefined;
  readonly reconnect: boolean;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
  readonly maxAttempts: number | undefined;
}

const NO_LOGGER: AmiLogger = { debug() {}, info() {}, warn() {}, error() {} };

const DEFAULT_TIMERS: AmiTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Apply the defaults; throws on a bad event mask or bad backoff options, in that order. */
export function resolveOptions(options: AmiClientOptions): AmiSettings {
  const host = options.host;
  const port = options.port ?? 5038;
  const events = options.events === undefined ? "off" : options.events;
  checkEventMask(events);
  const rc = options.reconnect ?? true;
  const rcOptions: AmiReconnectOptions = typeof rc === "object" ? rc : {};
  return {
    host,
    port,
    // IPv6 literals need brackets to be readable next to the port.
    target: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    username: options.username,
    secret: options.secret,
    events,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    actionTimeoutMs: options.actionTimeoutMs ?? 10_000,
    maxPacketSize: options.maxPacketSize,
    reconnect: rc !== false,
    backoff: backoffPolicy(AMI_BACKOFF, rcOptions.backoff),
    random: rcOptions.random ?? Math.random,
    maxAttempts: rcOptions.maxAttempts,
    log: options.logger ?? NO_LOGGER,
    timers: options.timers ?? DEFAULT_TIMERS,
  };
}
