// One record's part of a run: stop or back-off first, then the cache and the authoritative check
// (no update for a value already there), then the provider's update and the state it leaves. An
// A record's value is its address; an SRV record's, its targets in one line (plan.ts valueOf).
import { performance } from "node:perf_hooks";
import { normalizeName } from "../dns/wire.js";
import { backoffDelay, type BackoffPolicy } from "../lib/backoff.js";
import { findAuthoritativeServers } from "./dns-client.js";
import { recordFingerprint } from "./fingerprint.js";
import { valueOf, type WantedRecord } from "./plan.js";
import { DdnsError, srvText, type CallOptions, type DnsProvider, type DnsProviderConfig, type UpdateOutcome } from "./provider.js";
import type { LastResult, RecordState } from "./state.js";
import { abortAfter, callOptions, iso, round, type Ctx, type RecordResult } from "./update-run.js";
import { servedValues } from "./verify.js";

/** The record's value at its authoritative source (the provider's API, the RFC 2136 server, or the zone's name servers); null: none. */
async function lookupCurrent(wanted: WantedRecord, provider: DnsProvider, ctx: Ctx): Promise<string | null> {
  const { record } = wanted;
  const timeoutMs = ctx.opts.checkTimeoutMs ?? 3000;
  const signal = abortAfter(timeoutMs, ctx.opts.signal);
  if (wanted.type === "A" && provider.current) return provider.current(record, signal, callOptions(ctx));
  if (wanted.type === "SRV" && provider.currentSrv) return srvText(await provider.currentSrv(record, signal, callOptions(ctx))) || null;
  const { servers } = await findAuthoritativeServers(record.name, {
    timeoutMs,
    ...(ctx.opts.resolvers ? { resolvers: ctx.opts.resolvers } : {}),
    ...(ctx.opts.sourceAddress ? { sourceAddress: ctx.opts.sourceAddress } : {}),
  });
  return (await servedValues(servers[0]!, ctx.opts.dnsPort ?? 53, wanted, ctx, timeoutMs, signal))[0] ?? null;
}

/** Sends the wanted value: an A record's address, or an SRV record's targets. */
function push(wanted: WantedRecord, provider: DnsProvider, signal: AbortSignal, call: CallOptions): Promise<UpdateOutcome> {
  if (wanted.data.type === "A") return provider.update(wanted.record, wanted.data.address, signal, call);
  if (!provider.updateSrv) throw new DdnsError(`${wanted.record.name}: provider ${provider.id} (${provider.type}) cannot hold SRV records`, "permanent", { code: "nosrv" });
  return provider.updateSrv(wanted.record, wanted.data.targets, signal, call);
}

/** After a transient failure: 30 s doubling per failure up to 30 min, jittered to 50–100 %. */
export const DDNS_BACKOFF: BackoffPolicy = { initialMs: 30_000, maxMs: 30 * 60_000, factor: 2, jitter: 0.5 };
/** A provider's own wait (Retry-After, dyndns2's 911) is honoured, up to this long. */
export const MAX_RETRY_AFTER_MS = 2 * 3_600_000;

/** How long a record waits after its `failures`-th failure in a row before the next automatic try. */
export function retryWaitMs(failures: number, random: () => number, retryAfterMs?: number): number {
  return Math.max(backoffDelay(failures, DDNS_BACKOFF, random), Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}

export interface RecordRun {
  result: RecordResult;
  state?: RecordState;
  /** Set when an update changed the record and verification is due. */
  verifyFrom?: number;
}

function freshState(provider: string, fingerprint: string, previous: RecordState | undefined): RecordState {
  // A changed config starts over: no stop, no back-off, and no trust in the cached value.
  return { provider, fingerprint, value: previous?.value ?? null, confirmedAt: null, failures: 0, retryAt: null, stopped: null, last: previous?.last ?? null };
}

export async function runRecord(
  wanted: WantedRecord,
  providerConfig: DnsProviderConfig | undefined,
  provider: DnsProvider | undefined,
  previous: RecordState | undefined,
  ctx: Ctx,
): Promise<RecordRun> {
  const t0 = performance.now();
  const { record } = wanted;
  const name = normalizeName(record.name);
  const startedAt = ctx.now();
  const value = valueOf(wanted.data);
  const base = { record: name, provider: record.provider, type: wanted.type, ...(wanted.link !== undefined ? { link: wanted.link } : {}), value };
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
  // A wait longer than any back-off can be means the clock went back (NTP after a reboot): try now.
  const clockWentBack = st.retryAt !== null && st.retryAt - startedAt > Math.max(DDNS_BACKOFF.maxMs, MAX_RETRY_AFTER_MS);
  if (!ctx.opts.force && st.retryAt !== null && startedAt < st.retryAt && !clockWentBack) {
    const lastWhy = st.last && !st.last.ok ? `: ${st.last.detail}` : "";
    return {
      result: { ...base, ok: false, changed: false, outcome: "backing-off", detail: `backing off after ${st.failures} failure${st.failures === 1 ? "" : "s"} until ${iso(st.retryAt)}${lastWhy}`, durationMs: took(), retryAt: iso(st.retryAt) },
    };
  }

  const finish = (r: Omit<RecordResult, keyof typeof base | "durationMs"> & { outcome: LastResult["outcome"] }, next: RecordState, verifyFrom?: number): RecordRun => {
    const result = { ...base, ...r, durationMs: took() };
    const last: LastResult = {
      at: iso(startedAt),
      outcome: result.outcome,
      ok: result.ok,
      changed: result.changed,
      value,
      detail: result.detail,
      durationMs: result.durationMs,
    };
    return { result, state: { ...next, last }, ...(verifyFrom !== undefined ? { verifyFrom } : {}) };
  };

  let note = "";
  if (!ctx.opts.force) {
    const cacheSaysSame = st.value === value && st.confirmedAt !== null;
    const cacheSaysOther = st.value !== null && st.value !== value && st.confirmedAt !== null;
    if (!cacheSaysOther) {
      // Nothing cached, or the cache says it is there already: ask the source of truth.
      let current: string | null | undefined;
      let lookupError = "";
      try {
        current = await lookupCurrent(wanted, provider, ctx);
      } catch (err) {
        lookupError = (err as Error).message;
      }
      if (current === value) {
        return finish({ ok: true, changed: false, outcome: "unchanged", detail: `already ${value} (authoritative answer); no update sent` }, { ...st, value, confirmedAt: iso(ctx.now()), failures: 0, retryAt: null });
      }
      if (current === undefined && cacheSaysSame) {
        return finish({ ok: true, changed: false, outcome: "unchanged", detail: `already ${value} (cached ${st.confirmedAt}; the authoritative check failed: ${lookupError}); no update sent` }, { ...st, failures: 0, retryAt: null });
      }
      if (current !== undefined && cacheSaysSame) note = ` (the cache said ${value} but the record held ${current ?? "nothing"})`;
    }
  }

  const sentAt = performance.now();
  try {
    const signal = abortAfter(ctx.opts.updateTimeoutMs ?? 3 * (ctx.opts.requestTimeoutMs ?? 10_000), ctx.opts.signal);
    const out = await push(wanted, provider, signal, callOptions(ctx));
    const next: RecordState = { ...st, value, confirmedAt: iso(ctx.now()), failures: 0, retryAt: null, stopped: null };
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
    const wait = retryWaitMs(failures, ctx.random, e.options.retryAfterMs);
    const retryAt = ctx.now() + wait;
    const next: RecordState = { ...st, failures, retryAt };
    return finish({ ok: false, changed: false, outcome: "failed", detail: `${e.message}; next try after ${Math.round(wait / 1000)} s`, retryAt: iso(retryAt) }, next);
  }
}
