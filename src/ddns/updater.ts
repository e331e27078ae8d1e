// Pointing every configured record at an address: skip what already holds it, push the rest at
// once (each provider call bounded), stop a record after a permanent error until its config
// changes, back off with jitter after a transient one, and check the authoritative answer.
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { DnsConfig } from "../config/schema/dns.js";
import { readSecret, redactSecrets, SECRET_KEYS } from "../config/secrets.js";
import { packageVersion } from "../cli/version.js";
import { createCloudflareProvider } from "./cloudflare.js";
import { findAuthoritativeServers, queryA } from "./dns-client.js";
import { normalizeName } from "../dns/wire.js";
import { createDuckdnsProvider } from "./duckdns.js";
import { createDyndns2Provider } from "./dyndns2.js";
import { DdnsError, type CallOptions, type DnsProvider, type DnsProviderConfig, type ProviderContext, type RecordConfig } from "./provider.js";
import { createRfc2136Provider } from "./rfc2136.js";
import { readDdnsState, writeDdnsRecords, type LastResult, type RecordState } from "./state.js";

export type RecordOutcome = "updated" | "unchanged" | "failed" | "stopped" | "backing-off";

export interface RecordResult {
  /** The record's name, e.g. office.example.com. */
  readonly record: string;
  readonly provider: string;
  /** The address it should point at. */
  readonly address: string;
  /** The record holds (or was just given) the address. */
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
  /** Push even when the cache or the authoritative server says the record holds the address, and despite a back-off (ddclient -force). */
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

export const DEFAULT_USER_AGENT = (): string => `wanctl/${packageVersion()}`;

/** Back-off bounds: 30 s doubling per failure up to 30 min, jittered to 50–100 %; a provider's own wait is honoured up to 2 h. */
export const BACKOFF = { baseMs: 30_000, maxMs: 30 * 60_000, maxRetryAfterMs: 2 * 3_600_000 } as const;

export function backoffMs(failures: number, random: () => number, retryAfterMs?: number): number {
  const exp = Math.min(BACKOFF.maxMs, BACKOFF.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 16)));
  const jittered = Math.round(exp * (0.5 + 0.5 * Math.min(Math.max(random(), 0), 1)));
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, BACKOFF.maxRetryAfterMs));
}

/** Builds the provider adapters of the config, by id. */
export function createProviders(providers: readonly DnsProviderConfig[], ctx: ProviderContext): Map<string, DnsProvider> {
  const out = new Map<string, DnsProvider>();
  for (const p of providers) {
    switch (p.type) {
      case "dyndns2":
        out.set(p.id, createDyndns2Provider(p, ctx));
        break;
      case "cloudflare":
        out.set(p.id, createCloudflareProvider(p, ctx));
        break;
      case "rfc2136":
        out.set(p.id, createRfc2136Provider(p, ctx));
        break;
      case "duckdns":
        out.set(p.id, createDuckdnsProvider(p, ctx));
        break;
    }
  }
  return out;
}

/**
 * A digest of a record's config and its provider's, so a stop lasts until either changes. Secrets
 * count (a new password or token must lift a `badauth` stop) but only through this one-way
 * SHA-256: neither they nor their own hashes are stored anywhere.
 */
export function recordFingerprint(record: RecordConfig, provider: DnsProviderConfig | undefined, env?: NodeJS.ProcessEnv): string {
  return fingerprintOf(record, provider, env).digest;
}

/** The fingerprint, and whether every secret could be read (`wanctl status` as a user may not). */
function fingerprintOf(record: RecordConfig, provider: DnsProviderConfig | undefined, env?: NodeJS.ProcessEnv): { digest: string; complete: boolean } {
  const h = createHash("sha256").update("wanctl-ddns-fingerprint-v1\0");
  h.update(JSON.stringify(canonical({ record: { ...record, name: normalizeName(record.name) }, provider: redactSecrets(provider ?? null) })));
  const secrets: string[] = [];
  const complete = collectSecrets(provider, "", secrets, env);
  for (const s of secrets) h.update("\0").update(s);
  return { digest: h.digest("hex"), complete };
}

function collectSecrets(value: unknown, path: string, out: string[], env?: NodeJS.ProcessEnv): boolean {
  if (value === null || typeof value !== "object") return true;
  let complete = true;
  for (const [key, child] of Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) {
    if ((SECRET_KEYS as readonly string[]).includes(key)) {
      try {
        out.push(`${path}.${key}=${readSecret(child as Parameters<typeof readSecret>[0], `${path}.${key}`, env)}`);
      } catch {
        out.push(`${path}.${key}=<unreadable ${JSON.stringify(child)}>`);
        complete = false;
      }
    } else complete = collectSecrets(child, `${path}.${key}`, out, env) && complete;
  }
  return complete;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, canonical(v)]),
  );
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
const iso = (ms: number): string => new Date(ms).toISOString();

function abortAfter(ms: number, outer?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(ms);
  return outer ? AbortSignal.any([outer, t]) : t;
}

interface Ctx {
  readonly opts: UpdateOptions;
  readonly now: () => number;
  readonly random: () => number;
}

/** This run's source address reaches the providers' sockets, also for providers built earlier. */
const callOptions = (ctx: Ctx): CallOptions => (ctx.opts.sourceAddress ? { sourceAddress: ctx.opts.sourceAddress } : {});

/** The record's address at its authoritative source: the provider's API, the RFC 2136 server, or the zone's name servers. */
async function lookupCurrent(record: RecordConfig, provider: DnsProvider, ctx: Ctx): Promise<string | null> {
  const timeoutMs = ctx.opts.checkTimeoutMs ?? 3000;
  const signal = abortAfter(timeoutMs, ctx.opts.signal);
  if (provider.current) return provider.current(record, signal, callOptions(ctx));
  const { servers } = await findAuthoritativeServers(record.name, {
    timeoutMs,
    ...(ctx.opts.resolvers ? { resolvers: ctx.opts.resolvers } : {}),
    ...(ctx.opts.sourceAddress ? { sourceAddress: ctx.opts.sourceAddress } : {}),
  });
  const r = await queryA(servers[0]!, record.name, { port: ctx.opts.dnsPort ?? 53, timeoutMs, signal, ...(ctx.opts.sourceAddress ? { sourceAddress: ctx.opts.sourceAddress } : {}) });
  return r.addresses[0] ?? null;
}

async function servedAddresses(server: string, port: number, record: RecordConfig, ctx: Ctx, timeoutMs: number): Promise<string[]> {
  const r = await queryA(server, record.name, {
    port,
    timeoutMs,
    sends: 2,
    ...(ctx.opts.signal ? { signal: ctx.opts.signal } : {}),
    ...(ctx.opts.sourceAddress ? { sourceAddress: ctx.opts.sourceAddress } : {}),
  });
  return r.addresses;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/**
 * Asks the record's authoritative server(s) until every one answers `address`, within the
 * verification deadline. `since` is when the update was sent (performance.now()).
 */
export async function verifyRecord(
  record: RecordConfig,
  address: string,
  provider: DnsProvider,
  ctx: Ctx,
  since: number,
): Promise<{ verified: boolean; verifiedMs?: number; detail: string }> {
  const deadline = performance.now() + (ctx.opts.verifyTimeoutMs ?? 30_000);
  const interval = ctx.opts.verifyIntervalMs ?? 500;
  let servers: { server: string; port: number }[];
  try {
    const known = provider.authoritative?.(record);
    if (known) servers = [known];
    else {
      const found = await findAuthoritativeServers(record.name, {
        timeoutMs: Math.min(5000, ctx.opts.verifyTimeoutMs ?? 30_000),
        ...(ctx.opts.resolvers ? { resolvers: ctx.opts.resolvers } : {}),
        ...(ctx.opts.sourceAddress ? { sourceAddress: ctx.opts.sourceAddress } : {}),
      });
      servers = found.servers.map((server) => ({ server, port: ctx.opts.dnsPort ?? 53 }));
    }
  } catch (err) {
    return { verified: false, detail: `not verified: ${(err as Error).message}` };
  }
  const pending = new Map(servers.map((s) => [`${s.server}:${s.port}`, s]));
  const last = new Map<string, string>();
  while (pending.size > 0 && !ctx.opts.signal?.aborted) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    await Promise.all(
      [...pending].map(async ([label, s]) => {
        try {
          const got = await servedAddresses(s.server, s.port, record, ctx, Math.max(50, Math.min(1000, left)));
          if (got.includes(address)) pending.delete(label);
          else last.set(label, got.length ? got.join(", ") : "no A record");
        } catch (err) {
          last.set(label, (err as Error).message);
        }
      }),
    );
    if (pending.size === 0) break;
    if (deadline - performance.now() <= 0) break;
    await sleep(Math.min(interval, Math.max(0, deadline - performance.now())), ctx.opts.signal);
  }
  if (pending.size === 0) {
    const verifiedMs = round(performance.now() - since);
    const who = servers.map((s) => (s.port === 53 ? s.server : `${s.server}:${s.port}`)).join(", ");
    return { verified: true, verifiedMs, detail: `verified: ${who} answer${servers.length === 1 ? "s" : ""} ${address}` };
  }
  const words = [...pending.keys()].map((k) => `${k} ${last.has(k) ? `says ${last.get(k)}` : "not asked"}`).join("; ");
  return { verified: false, detail: `not verified within ${ctx.opts.verifyTimeoutMs ?? 30_000} ms: ${words}` };
}

interface RecordRun {
  result: RecordResult;
  state?: RecordState;
  /** Set when an update changed the record and verification is due. */
  verifyFrom?: number;
}

function freshState(provider: string, fingerprint: string, previous: RecordState | undefined): RecordState {
  // A changed config starts over: no stop, no back-off, and no trust in the cached value.
  return { provider, fingerprint, address: previous?.address ?? null, confirmedAt: null, failures: 0, retryAt: null, stopped: null, last: previous?.last ?? null };
}

async function runRecord(
  record: RecordConfig,
  providerConfig: DnsProviderConfig | undefined,
  provider: DnsProvider | undefined,
  address: string,
  previous: RecordState | undefined,
  ctx: Ctx,
): Promise<RecordRun> {
  const t0 = performance.now();
  const name = normalizeName(record.name);
  const startedAt = ctx.now();
  const base = { record: name, provider: record.provider, address };
  const took = (): number => round(performance.now() - t0);
  if (!provider || !providerConfig) {
    return { result: { ...base, ok: false, changed: false, outcome: "failed", detail: `no provider with id ${JSON.stringify(record.provider)}`, durationMs: took() } };
  }
  const fingerprint = recordFingerprint(record, providerConfig, ctx.opts.env);
  const st: RecordState = previous && previous.fingerprint === fingerprint && previous.provider === record.provider ? { ...previous } : freshState(record.provider, fingerprint, previous);

  if (st.stopped && !ctx.opts.retryStopped) {
    return {
      result: { ...base, ok: false, changed: false, outcome: "stopped", detail: `stopped since ${st.stopped.at}: ${st.stopped.reason} (change the record's or provider's config to try again)`, durationMs: took() },
    };
  }
  if (!ctx.opts.force && st.retryAt !== null && startedAt < st.retryAt) {
    const lastWhy = st.last && !st.last.ok ? `: ${st.last.detail}` : "";
    return {
      result: { ...base, ok: false, changed: false, outcome: "backing-off", detail: `backing off after ${st.failures} failure${st.failures === 1 ? "" : "s"} until ${iso(st.retryAt)}${lastWhy}`, durationMs: took(), retryAt: iso(st.retryAt) },
    };
  }

  const finish = (r: Omit<RecordResult, keyof typeof base | "durationMs">, next: RecordState, verifyFrom?: number): RecordRun => {
    const result: RecordResult = { ...base, ...r, durationMs: took() };
    const last: LastResult = {
      at: iso(startedAt),
      outcome: result.outcome,
      ok: result.ok,
      changed: result.changed,
      address,
      detail: result.detail,
      durationMs: result.durationMs,
    };
    return { result, state: { ...next, last }, ...(verifyFrom !== undefined ? { verifyFrom } : {}) };
  };

  let note = "";
  if (!ctx.opts.force) {
    const cacheSaysSame = st.address === address && st.confirmedAt !== null;
    const cacheSaysOther = st.address !== null && st.address !== address && st.confirmedAt !== null;
    if (!cacheSaysOther) {
      // Nothing cached, or the cache says it is there already: ask the source of truth.
      let current: string | null | undefined;
      let lookupError = "";
      try {
        current = await lookupCurrent(record, provider, ctx);
      } catch (err) {
        lookupError = (err as Error).message;
      }
      if (current === address) {
        return finish({ ok: true, changed: false, outcome: "unchanged", detail: `already ${address} (authoritative answer); no update sent` }, { ...st, address, confirmedAt: iso(ctx.now()), failures: 0, retryAt: null });
      }
      if (current === undefined && cacheSaysSame) {
        return finish({ ok: true, changed: false, outcome: "unchanged", detail: `already ${address} (cached ${st.confirmedAt}; the authoritative check failed: ${lookupError}); no update sent` }, { ...st, failures: 0, retryAt: null });
      }
      if (current !== undefined && cacheSaysSame) note = ` (the cache said ${address} but the record held ${current ?? "nothing"})`;
    }
  }

  const sentAt = performance.now();
  try {
    const signal = abortAfter(ctx.opts.updateTimeoutMs ?? 3 * (ctx.opts.requestTimeoutMs ?? 10_000), ctx.opts.signal);
    const out = await provider.update(record, address, signal, callOptions(ctx));
    const next: RecordState = { ...st, address, confirmedAt: iso(ctx.now()), failures: 0, retryAt: null, stopped: null };
    if (!out.changed) return finish({ ok: true, changed: false, outcome: "unchanged", detail: `${out.detail}${note}` }, next);
    return finish({ ok: true, changed: true, outcome: "updated", detail: `${out.detail}${note}` }, next, record.verify ? sentAt : undefined);
  } catch (err) {
    const e = err instanceof DdnsError ? err : new DdnsError(`${name}: ${(err as Error).message}`, "transient");
    const failures = st.failures + 1;
    if (e.kind === "permanent") {
      const at = iso(ctx.now());
      const next: RecordState = { ...st, failures, retryAt: null, stopped: { at, reason: e.message } };
      return finish({ ok: false, changed: false, outcome: "stopped", detail: `${e.message}; stopped until the config changes` }, next);
    }
    const wait = backoffMs(failures, ctx.random, e.options.retryAfterMs);
    const retryAt = ctx.now() + wait;
    const next: RecordState = { ...st, failures, retryAt };
    return finish({ ok: false, changed: false, outcome: "failed", detail: `${e.message}; next try after ${Math.round(wait / 1000)} s`, retryAt: iso(retryAt) }, next);
  }
}

/**
 * Points every configured record at `address` (for the failover pipeline and `wanctl dns
 * update`): all records at once, each bounded; a record's failure never holds up the others.
 * Persists each record's state in `<stateDir>/ddns.json` and raises an alert when a permanent
 * error stops a record. Never rejects for a provider's failure: read each result.
 */
export async function updateAllRecords(config: { readonly dns: DnsConfig }, address: string, options: UpdateOptions): Promise<RecordResult[]> {
  const ctx: Ctx = { opts: options, now: options.now ?? Date.now, random: options.random ?? Math.random };
  const providers =
    options.providers ??
    createProviders(config.dns.providers, {
      userAgent: options.userAgent ?? DEFAULT_USER_AGENT(),
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      now: ctx.now,
      ...(options.sourceAddress ? { sourceAddress: options.sourceAddress } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
  const { state } = readDdnsState(options.stateDir);
  const records = config.dns.records;
  const runs = await Promise.all(
    records.map((record) =>
      runRecord(
        record,
        config.dns.providers.find((p) => p.id === record.provider),
        providers.get(record.provider),
        address,
        state.records[normalizeName(record.name)],
        ctx,
      ).catch(
        (err: unknown): RecordRun => ({
          result: { record: normalizeName(record.name), provider: record.provider, address, ok: false, changed: false, outcome: "failed", detail: `internal error: ${(err as Error).message}`, durationMs: 0 },
        }),
      ),
    ),
  );

  const keep = new Set(records.map((r) => normalizeName(r.name)));
  const save = (subset: RecordRun[]): void => {
    const changed: Record<string, RecordState> = {};
    for (const run of subset) if (run.state) changed[run.result.record] = run.state;
    try {
      writeDdnsRecords(options.stateDir, changed, keep);
    } catch {
      // A state dir that cannot be written must not turn a done update into a failure; the next
      // run finds the record right through the authoritative check.
    }
  };

  for (const run of runs) {
    if (run.result.outcome === "stopped" && run.state?.stopped && run.state.last?.outcome === "stopped") {
      options.onAlert?.({ kind: "ddns-stopped", record: run.result.record, provider: run.result.provider, detail: run.result.detail, at: run.state.stopped.at });
    }
  }

  const mode = options.verify ?? "wait";
  const toVerify = runs.filter((r) => r.verifyFrom !== undefined);
  const verifyOne = async (run: RecordRun): Promise<RecordRun> => {
    const record = records.find((r) => normalizeName(r.name) === run.result.record)!;
    const v = await verifyRecord(record, address, providers.get(record.provider)!, ctx, run.verifyFrom!);
    const result: RecordResult = { ...run.result, verification: v.detail, ...(v.verifiedMs !== undefined ? { verifiedMs: v.verifiedMs } : {}) };
    const last = run.state?.last ? { ...run.state.last, verification: v.detail, ...(v.verifiedMs !== undefined ? { verifiedMs: v.verifiedMs } : {}) } : null;
    return { result, ...(run.state ? { state: { ...run.state, last } } : {}) };
  };

  if (mode === "wait" && toVerify.length) {
    const verified = await Promise.all(toVerify.map(verifyOne));
    for (const v of verified) runs[runs.findIndex((r) => r.result.record === v.result.record)] = v;
    save(runs);
    return runs.map((r) => r.result);
  }
  save(runs);
  if (mode === "background" && toVerify.length) {
    for (const run of toVerify) {
      void verifyOne(run).then((v) => {
        save([v]);
        options.onVerified?.(v.result);
      });
    }
    return runs.map((r) => (r.verifyFrom !== undefined ? { ...r.result, verification: "pending" } : r.result));
  }
  return runs.map((r) => r.result);
}

export interface DdnsRecordStatus {
  readonly record: string;
  readonly provider: string;
  /** Last known value: the address last pushed or seen at the authoritative server. */
  readonly value: string | null;
  readonly confirmedAt: string | null;
  readonly last: LastResult | null;
  /** Set while a permanent error stops the record (and its config is unchanged since). */
  readonly stopped: { readonly at: string; readonly reason: string } | null;
  readonly retryAt: string | null;
  readonly failures: number;
}

/** Each configured record, its last known value and the last update's outcome (for `wanctl status`). */
export function ddnsStatus(config: { readonly dns: DnsConfig }, stateDir: string, env?: NodeJS.ProcessEnv): { records: DdnsRecordStatus[]; problem?: string } {
  const { state, problem } = readDdnsState(stateDir);
  const records = config.dns.records.map((record): DdnsRecordStatus => {
    const name = normalizeName(record.name);
    const st = state.records[name];
    const fp = fingerprintOf(record, config.dns.providers.find((p) => p.id === record.provider), env);
    // Without every secret the digest cannot be compared: show the stored state as it is.
    const sameConfig = st !== undefined && st.provider === record.provider && (st.fingerprint === fp.digest || !fp.complete);
    return {
      record: name,
      provider: record.provider,
      value: st?.address ?? null,
      confirmedAt: st?.confirmedAt ?? null,
      last: st?.last ?? null,
      stopped: sameConfig ? st.stopped : null,
      retryAt: sameConfig && st.retryAt !== null ? iso(st.retryAt) : null,
      failures: sameConfig ? st.failures : 0,
    };
  });
  return { records, ...(problem ? { problem } : {}) };
}
