// Cloudflare API v4 with an API token (Bearer): find the zone by walking the record name's
// suffixes (GET /zones?name=), find the A record (GET /zones/:id/dns_records?type=A&name=), then
// PATCH its content and TTL, or POST a new one. Always `proxied: false`: a proxied record would
// answer with Cloudflare's addresses, and SIP and RTP do not go through its proxy.
// SRV: Cloudflare keeps each SRV record apart, written through `data` {priority, weight, port,
// target} (`content` is read-only for SRV; older answers carry the priority at the top level).
// The records of the name become exactly the wanted ones: each existing record of a wanted
// target is PATCHed if it differs, missing ones POSTed, then the others DELETEd, so the name is
// never left without a target.
import { readSecret } from "../config/secrets.js";
import { normalizeName } from "../dns/wire.js";
import { HttpError, httpFetch, type HttpResponse } from "../lib/http.js";
import { DdnsError, httpFailureKind, retryAfterMs, srvText, type CallOptions, type DnsProvider, type ProviderContext, type RecordConfig, type SrvData, type UpdateOutcome } from "./provider.js";
import type { DnsProviderConfig } from "./provider.js";

type CloudflareConfig = Extract<DnsProviderConfig, { type: "cloudflare" }>;

interface Envelope<T> {
  success?: boolean;
  errors?: { code?: number; message?: string }[];
  result?: T;
}

interface CfRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  ttl: number;
  proxied?: boolean;
  /** SRV: its parts (the priority only in newer answers). */
  data?: { priority?: number; weight?: number; port?: number; target?: string };
  /** SRV in older answers. */
  priority?: number;
}

/** An SRV record's parts as Cloudflare answers them. */
function srvOf(r: CfRecord): SrvData {
  return { priority: r.data?.priority ?? r.priority ?? 0, weight: r.data?.weight ?? 0, port: r.data?.port ?? 0, target: normalizeName(r.data?.target ?? "") };
}

/** Cloudflare error codes that no retry can fix (authentication, authorisation). */
const PERMANENT_CODES = new Set([6003, 6111, 9103, 9106, 9109, 10000, 10001]);

export function createCloudflareProvider(config: CloudflareConfig, ctx: ProviderContext): DnsProvider {
  const api = config.apiUrl.replace(/\/+$/, "");
  // Zone ids for the life of the provider: by zone name, and by record name (no walk next time).
  const zones = new Map<string, string>();
  const names = new Map<string, string>();

  async function call<T>(method: string, path: string, signal: AbortSignal, source: string | undefined, body?: unknown): Promise<T> {
    const token = readSecret(config.token, `dns.providers[${config.id}].token`, ctx.env);
    let res: HttpResponse;
    try {
      res = await httpFetch({
        url: `${api}${path}`,
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          "User-Agent": ctx.userAgent,
          Accept: "application/json",
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        timeoutMs: ctx.requestTimeoutMs,
        signal,
        maxBodyBytes: 1 << 20,
        ...(source ? { localAddress: source } : {}),
      });
    } catch (err) {
      throw new DdnsError(`Cloudflare ${method} ${path.split("?")[0]}: ${(err as Error).message}`, "transient", { code: err instanceof HttpError ? err.kind : "network" });
    }
    let env: Envelope<T> | undefined;
    try {
      env = JSON.parse(res.body) as Envelope<T>;
    } catch {
      env = undefined;
    }
    const errors = (env?.errors ?? []).map((e) => `${e.code ?? "?"} ${e.message ?? ""}`.trim());
    const ok = res.status >= 200 && res.status <= 299 && env?.success === true;
    if (ok) return env!.result as T;
    const words = errors.length ? errors.join("; ") : env ? "no error given" : `not JSON: ${JSON.stringify(res.body.slice(0, 60))}`;
    const where = `Cloudflare ${method} ${path.split("?")[0]}: HTTP ${res.status}: ${words}`;
    const codes = (env?.errors ?? []).map((e) => e.code).filter((c): c is number => typeof c === "number");
    let kind = res.status >= 200 && res.status <= 299 ? "transient" : httpFailureKind(res.status);
    if (res.status === 401 || res.status === 403 || codes.some((c) => PERMANENT_CODES.has(c))) kind = "permanent";
    const after = retryAfterMs(res.headers["retry-after"], ctx.now());
    throw new DdnsError(where, kind, { code: codes.length ? String(codes[0]) : `http-${res.status}`, ...(after ? { retryAfterMs: after } : {}) });
  }

  /** The zone that holds `name`: the longest suffix Cloudflare knows (at least two labels). */
  async function zoneOf(name: string, signal: AbortSignal, source: string | undefined): Promise<string> {
    const labels = normalizeName(name).split(".");
    const known = names.get(normalizeName(name));
    if (known) return known;
    for (let i = 0; i <= labels.length - 2; i++) {
      const suffix = labels.slice(i).join(".");
      const cached = zones.get(suffix);
      if (cached) {
        names.set(normalizeName(name), cached);
        return cached;
      }
      const found = await call<{ id: string; name: string }[]>("GET", `/zones?name=${encodeURIComponent(suffix)}`, signal, source);
      const zone = found?.find((z) => normalizeName(z.name) === suffix);
      if (zone) {
        zones.set(suffix, zone.id);
        names.set(normalizeName(name), zone.id);
        return zone.id;
      }
    }
    throw new DdnsError(`${name}: no Cloudflare zone holds it (none of its suffixes is a zone this token can see)`, "permanent", { code: "nozone" });
  }

  async function findRecords(zoneId: string, name: string, signal: AbortSignal, source: string | undefined, type: "A" | "SRV" = "A"): Promise<CfRecord[]> {
    const q = `type=${type}&name=${encodeURIComponent(normalizeName(name))}`;
    const found = await call<CfRecord[]>("GET", `/zones/${encodeURIComponent(zoneId)}/dns_records?${q}`, signal, source);
    return (found ?? []).filter((r) => r.type === type && normalizeName(r.name) === normalizeName(name));
  }

  return {
    id: config.id,
    type: "cloudflare",
    async update(record: RecordConfig, address: string, signal: AbortSignal, opts: CallOptions = {}): Promise<UpdateOutcome> {
      const source = opts.sourceAddress ?? ctx.sourceAddress;
      const zoneId = await zoneOf(record.name, signal, source);
      const existing = await findRecords(zoneId, record.name, signal, source);
      const first = existing[0];
      const others = existing.length > 1 ? ` (${existing.length - 1} other A record(s) of this name left as they are)` : "";
      if (!first) {
        await call("POST", `/zones/${encodeURIComponent(zoneId)}/dns_records`, signal, source, {
          type: "A",
          name: normalizeName(record.name),
          content: address,
          ttl: record.ttl,
          proxied: false,
        });
        return { changed: true, detail: `created A ${address} ttl ${record.ttl}` };
      }
      if (first.content === address && first.ttl === record.ttl && first.proxied !== true) {
        return { changed: false, detail: `already A ${address} ttl ${record.ttl}${others}` };
      }
      await call("PATCH", `/zones/${encodeURIComponent(zoneId)}/dns_records/${encodeURIComponent(first.id)}`, signal, source, {
        content: address,
        ttl: record.ttl,
        proxied: false,
      });
      return { changed: true, detail: `A ${first.content} → ${address} ttl ${record.ttl}${first.proxied ? ", proxying turned off" : ""}${others}` };
    },
    async current(record: RecordConfig, signal: AbortSignal, opts: CallOptions = {}): Promise<string | null> {
      const source = opts.sourceAddress ?? ctx.sourceAddress;
      const zoneId = await zoneOf(record.name, signal, source);
      return (await findRecords(zoneId, record.name, signal, source))[0]?.content ?? null;
    },
    async updateSrv(record: RecordConfig, targets: readonly SrvData[], signal: AbortSignal, opts: CallOptions = {}): Promise<UpdateOutcome> {
      const source = opts.sourceAddress ?? ctx.sourceAddress;
      const zoneId = await zoneOf(record.name, signal, source);
      const records = `/zones/${encodeURIComponent(zoneId)}/dns_records`;
      const existing = await findRecords(zoneId, record.name, signal, source, "SRV");
      const unused = [...existing];
      const work: (() => Promise<unknown>)[] = [];
      let patched = 0;
      let created = 0;
      for (const t of targets) {
        const data = { priority: t.priority, weight: t.weight, port: t.port, target: normalizeName(t.target) };
        const i = unused.findIndex((r) => srvOf(r).target === data.target);
        const same = i >= 0 ? unused.splice(i, 1)[0]! : undefined;
        if (!same) {
          created++;
          work.push(() => call("POST", records, signal, source, { type: "SRV", name: normalizeName(record.name), ttl: record.ttl, data }));
        } else if (srvText([srvOf(same)]) !== srvText([data]) || same.ttl !== record.ttl) {
          patched++;
          work.push(() => call("PATCH", `${records}/${encodeURIComponent(same.id)}`, signal, source, { ttl: record.ttl, data }));
        }
      }
      for (const r of unused) work.push(() => call("DELETE", `${records}/${encodeURIComponent(r.id)}`, signal, source));
      if (work.length === 0) return { changed: false, detail: `already SRV ${srvText(targets)} ttl ${record.ttl}` };
      for (const step of work) await step();
      const counts = [patched && `${patched} changed`, created && `${created} created`, unused.length && `removed ${srvText(unused.map(srvOf))}`].filter(Boolean).join("; ");
      return { changed: true, detail: `SRV ${srvText(targets)} ttl ${record.ttl} (${counts})` };
    },
    async currentSrv(record: RecordConfig, signal: AbortSignal, opts: CallOptions = {}): Promise<SrvData[]> {
      const source = opts.sourceAddress ?? ctx.sourceAddress;
      const zoneId = await zoneOf(record.name, signal, source);
      return (await findRecords(zoneId, record.name, signal, source, "SRV")).map(srvOf);
    },
  };
}
