// Verification after an update: the authoritative servers are asked until all of them answer the
// new value, or the deadline passes.
import { performance } from "node:perf_hooks";
import { findAuthoritativeServers, queryA, querySrv } from "./dns-client.js";
import { valueOf, type WantedRecord } from "./plan.js";
import { srvText, type DnsProvider } from "./provider.js";
import { round, type Ctx } from "./update-run.js";

/**
 * What `server` answers for the record, as values: each address of an A RRset, or the one line of
 * an SRV RRset ([] when the name has none).
 */
export async function servedValues(server: string, port: number, wanted: WantedRecord, ctx: Ctx, timeoutMs: number, signal = ctx.opts.signal): Promise<string[]> {
  const opts = { port, timeoutMs, sends: 2, ...(signal ? { signal } : {}), ...(ctx.opts.sourceAddress ? { sourceAddress: ctx.opts.sourceAddress } : {}) };
  if (wanted.type === "A") return (await queryA(server, wanted.record.name, opts)).addresses;
  const { records } = await querySrv(server, wanted.record.name, opts);
  return records.length ? [srvText(records)] : [];
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
 * Asks the record's authoritative server(s) until every one answers the wanted value, within the
 * verification deadline. `since` is when the update was sent (performance.now()).
 */
export async function verifyRecord(wanted: WantedRecord, provider: DnsProvider, ctx: Ctx, since: number): Promise<{ verified: boolean; verifiedMs?: number; detail: string }> {
  const { record } = wanted;
  const value = valueOf(wanted.data);
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
          const got = await servedValues(s.server, s.port, wanted, ctx, Math.max(50, Math.min(1000, left)));
          if (got.includes(value)) pending.delete(label);
          else last.set(label, got.length ? got.join(", ") : `no ${wanted.type} record`);
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
    return { verified: true, verifiedMs, detail: `verified: ${who} answer${servers.length === 1 ? "s" : ""} ${value}` };
  }
  const words = [...pending.keys()].map((k) => `${k} ${last.has(k) ? `says ${last.get(k)}` : "not asked"}`).join("; ");
  return { verified: false, detail: `not verified within ${ctx.opts.verifyTimeoutMs ?? 30_000} ms: ${words}` };
}
