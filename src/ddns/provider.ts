// The one interface every DNS provider adapter implements, and the errors that tell the updater
// what to do next: stop the record (permanent) or try again later (transient).
import type { DnsConfig, DnsProviderConfig } from "../config/schema/dns.js";
import { normalizeName, type SrvData } from "../dns/wire.js";

export type RecordConfig = DnsConfig["records"][number];
export type { DnsProviderConfig, SrvData };

/** One SRV record as a zone file writes it: "10 0 5060 wan1.example.com". */
export const srvWords = (t: SrvData): string => `${t.priority} ${t.weight} ${t.port} ${normalizeName(t.target)}`;

/**
 * An SRV RRset in one canonical line (sorted as clients try them), to compare, store and show.
 * Names in code-point order: localeCompare's would follow the process's locale (see fingerprint.ts).
 */
export const srvText = (targets: readonly SrvData[]): string =>
  [...targets]
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight || codePointOrder(normalizeName(a.target), normalizeName(b.target)) || a.port - b.port)
    .map(srvWords)
    .join(", ");

/** Strings in code-point order, the same under every locale (see fingerprint.ts). */
export const codePointOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export interface UpdateOutcome {
  /** False when the provider said the record already held the address (dyndns2 `nochg`). */
  readonly changed: boolean;
  /** Plain words: what the provider answered. Never a secret. */
  readonly detail: string;
}

export type FailureKind = "permanent" | "transient";

/**
 * A failed provider call. `permanent`: retrying cannot help until the config changes (bad
 * credentials, unknown host name, abuse block). `transient`: try again after a back-off, at least
 * `retryAfterMs` when the provider asked for one (dyndns2 `911`, HTTP 429 Retry-After).
 */
export class DdnsError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly options: { readonly retryAfterMs?: number; readonly code?: string } = {},
  ) {
    super(message);
    this.name = "DdnsError";
  }
}

/** Where the updater can ask for a record's current value (verification, "already there?"). */
export interface AuthoritativeServer {
  readonly server: string;
  readonly port: number;
}

/** Per call: what may differ between two calls to one provider (the active link changes). */
export interface CallOptions {
  /** Bind this call's sockets to this address (the active link's); overrides the context's. */
  readonly sourceAddress?: string;
}

export interface DnsProvider {
  readonly id: string;
  readonly type: DnsProviderConfig["type"];
  /** Points `record` at `address`. Rejects with a DdnsError (anything else counts as transient). */
  update(record: RecordConfig, address: string, signal: AbortSignal, call?: CallOptions): Promise<UpdateOutcome>;
  /** The record's address as the provider holds it now (null: no A record), when the provider can tell. */
  current?(record: RecordConfig, signal: AbortSignal, call?: CallOptions): Promise<string | null>;
  /** Makes `targets` the SRV records of `record.name`, and only them (the providers that can hold SRV). */
  updateSrv?(record: RecordConfig, targets: readonly SrvData[], signal: AbortSignal, call?: CallOptions): Promise<UpdateOutcome>;
  /** The SRV records of `record.name` as the provider holds them now (none: []). */
  currentSrv?(record: RecordConfig, signal: AbortSignal, call?: CallOptions): Promise<SrvData[]>;
  /** The server to verify against when the provider knows it (RFC 2136: the primary). */
  authoritative?(record: RecordConfig): AuthoritativeServer;
}

/** What every adapter gets besides its config. */
export interface ProviderContext {
  /** `wanctl/<version>`. */
  readonly userAgent: string;
  /** Bind requests to this address, unless a call names its own (CallOptions). */
  readonly sourceAddress?: string;
  /** One request's deadline. */
  readonly requestTimeoutMs: number;
  /** Wall clock in ms (TSIG time signed). */
  readonly now: () => number;
  /** Environment for secrets given as systemd credentials. */
  readonly env?: NodeJS.ProcessEnv;
}

/** HTTP status to failure kind for the HTTP providers: 401/403 permanent, 429/5xx transient. */
export function httpFailureKind(status: number): FailureKind {
  if (status === 429 || status >= 500 || status === 408) return "transient";
  return "permanent";
}

/** Retry-After (seconds or an HTTP date) in ms, if present and sane (≤ 1 day). */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms > 0 && ms <= 86_400_000 ? ms : undefined;
}
