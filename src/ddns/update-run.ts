// One update run: what it takes (its options), what every step of it shares (the options, the
// clocks, and the deadlines and source address each network call gets), and what it gives back
// (each record's result, the alert raised when a record stops). Apart from the updater so that
// every step can use them without importing it.
import type { CallOptions, DnsProvider } from "./provider.js";

export type RecordOutcome = "updated" | "unchanged" | "failed" | "stopped" | "backing-off" | "kept";

export interface RecordResult {
  /** The record's name, e.g. office.example.com. */
  readonly record: string;
  readonly provider: string;
  readonly type: "A" | "SRV";
  /** Set for a link's own name (dns.sip): the link whose address it holds. */
  readonly link?: string;
  /** What it should hold: an address, or the SRV targets in one line; when kept, what it was last known to hold ("" if never). */
  readonly value: string;
  /** The record holds (or was just given) the value. */
  readonly ok: boolean;
  /** An update was sent and the provider changed the record. */
  readonly changed: boolean;
  readonly outcome: RecordOutcome;
  /** Plain words; never a secret. */
  readonly detail: string;
  readonly durationMs: number;
  /** From the update to the authoritative server's first right answer, when verified. */
  readonly verifiedMs?: number;
  /** What verification found: "verified", "not verified: ...", "pending" (background), absent when none ran. */
  readonly verification?: string;
  /** ISO time before which no automatic retry is made (backing off). */
  readonly retryAt?: string;
}

/** Raised once when a record is stopped by a permanent error. */
export interface DdnsAlert {
  readonly kind: "ddns-stopped";
  readonly record: string;
  readonly provider: string;
  readonly detail: string;
  readonly at: string;
}

export interface UpdateOptions {
  /** The state directory (config `stateDir`); ddns.json lives there. */
  readonly stateDir: string;
  /** Push even when the cache or the authoritative server says the record holds the value, and despite a back-off (ddclient -force). */
  readonly force?: boolean;
  /** Also try records stopped by a permanent error (their config unchanged). */
  readonly retryStopped?: boolean;
  /** The active link's source address: provider requests and DNS queries are bound to it. */
  readonly sourceAddress?: string;
  /** One request's deadline (an HTTP request, a DNS exchange). Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** One record's whole provider call (Cloudflare makes up to four requests). Default 3 × requestTimeoutMs. */
  readonly updateTimeoutMs?: number;
  /** The "does it hold the address already?" look-up's deadline. Default 3 s. */
  readonly checkTimeoutMs?: number;
  /** "wait" (default): results come after verification; "background": at once, verification reported to onVerified; "skip". */
  readonly verify?: "wait" | "background" | "skip";
  /** Verification gives up after this long. Default 30 s. */
  readonly verifyTimeoutMs?: number;
  /** Pause between verification queries. Default 500 ms. */
  readonly verifyIntervalMs?: number;
  /** Resolvers for finding a zone's authoritative servers; default the system's. */
  readonly resolvers?: readonly string[];
  /** Port of the authoritative servers found through NS records. Default 53 (tests use others). */
  readonly dnsPort?: number;
  /** Default `wanctl/<version>`. */
  readonly userAgent?: string;
  /** Wall clock (ms since the epoch), for back-off, time stamps, TSIG. */
  readonly now?: () => number;
  /** In [0, 1), for the back-off's jitter. */
  readonly random?: () => number;
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Providers by id instead of new ones from the config (reuse keeps Cloudflare's zone ids). They
   * still get this run's `sourceAddress` with every call.
   */
  readonly providers?: ReadonlyMap<string, DnsProvider>;
  readonly onAlert?: (alert: DdnsAlert) => void;
  /** Background verification's result for each record that was verified. */
  readonly onVerified?: (result: RecordResult) => void;
}

/** What every step of one run shares. */
export interface Ctx {
  readonly opts: UpdateOptions;
  readonly now: () => number;
  readonly random: () => number;
}

/** This run's source address reaches the providers' sockets, also for providers built earlier. */
export const callOptions = (ctx: Ctx): CallOptions => (ctx.opts.sourceAddress ? { sourceAddress: ctx.opts.sourceAddress } : {});

/** A deadline `ms` from now that the caller's signal can also end. */
export function abortAfter(ms: number, outer?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(ms);
  return outer ? AbortSignal.any([outer, t]) : t;
}

/** Durations to the microsecond; wall-clock times as ISO-8601. */
export const round = (ms: number): number => Math.round(ms * 1000) / 1000;
export const iso = (ms: number): string => new Date(ms).toISOString();
