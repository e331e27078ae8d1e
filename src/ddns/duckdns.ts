// DuckDNS: GET <server>?domains=<sub>&token=<token>&ip=<ip>&verbose=true answers
// "OK\n<ipv4>\n<ipv6>\nUPDATED|NOCHANGE", or "KO" (bad token or domain: permanent). The token sits
// in the query string, so no URL with a query ever reaches a message.
import { readSecret } from "../config/secrets.js";
import { normalizeName } from "../dns/wire.js";
import { DdnsError, type CallOptions, type DnsProvider, type ProviderContext, type RecordConfig, type UpdateOutcome } from "./provider.js";
import type { DnsProviderConfig } from "./provider.js";
import { getUpdateService, statusError } from "./text-service.js";

type DuckdnsConfig = Extract<DnsProviderConfig, { type: "duckdns" }>;

/** The DuckDNS subdomain of a record: the label just before duckdns.org (x.office.duckdns.org → office). */
export function duckdnsSubdomain(name: string): string | null {
  const labels = normalizeName(name).split(".");
  if (labels.length < 3 || labels.at(-1) !== "org" || labels.at(-2) !== "duckdns") return null;
  return labels.at(-3)!;
}

export function createDuckdnsProvider(config: DuckdnsConfig, ctx: ProviderContext): DnsProvider {
  return {
    id: config.id,
    type: "duckdns",
    async update(record: RecordConfig, address: string, signal: AbortSignal, call: CallOptions = {}): Promise<UpdateOutcome> {
      const source = call.sourceAddress ?? ctx.sourceAddress;
      const sub = duckdnsSubdomain(record.name);
      if (!sub) throw new DdnsError(`${record.name}: not a DuckDNS name (expected <name>.duckdns.org)`, "permanent", { code: "notduck" });
      const token = readSecret(config.token, `dns.providers[${config.id}].token`, ctx.env);
      const url = new URL(config.server);
      url.searchParams.set("domains", sub);
      url.searchParams.set("token", token);
      url.searchParams.set("ip", address);
      url.searchParams.set("verbose", "true");
      const res = await getUpdateService(record.name, url, {}, ctx, signal, source);
      if (res.status < 200 || res.status > 299) throw statusError(record.name, res, config.server, ctx.now());
      const lines = res.body.split(/\r?\n/).map((l) => l.trim());
      if (lines[0] === "KO") throw new DdnsError(`${record.name}: DuckDNS answered KO: the token or the domain "${sub}" is wrong`, "permanent", { code: "KO" });
      if (lines[0] !== "OK") throw new DdnsError(`${record.name}: unexpected DuckDNS answer ${JSON.stringify(res.body.slice(0, 40))}`, "transient", { code: "unexpected" });
      const changed = lines[3] !== "NOCHANGE";
      return { changed, detail: `OK ${lines[1] ?? ""} ${lines[3] ?? ""}`.replace(/\s+/g, " ").trim() };
    },
  };
}
