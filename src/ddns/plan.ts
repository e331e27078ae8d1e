// What each record wanctl keeps should hold, for the link that carries the office. Pure.
//
// - dns.records follow the office: the active link's public address.
// - dns.sip gives each link a name of its own, kept at that link's own address (learned through
//   that link), whichever link is active; a link whose address is not known now keeps its name as
//   it is.
// - dns.sip's SRV records list every link's name, the active link's first: a client that follows
//   SRV (RFC 3263) tries the link that works first, and the others after it.
import { sipHosts, srvPort, type DnsConfig } from "../config/schema/dns.js";
import type { LinkConfig } from "../config/schema/links.js";
import { normalizeName } from "../dns/wire.js";
import { srvText, type RecordConfig, type SrvData } from "./provider.js";

export type RecordData = { readonly type: "A"; readonly address: string } | { readonly type: "SRV"; readonly targets: readonly SrvData[] };

/** A record wanctl keeps, and what decides its value. */
export interface ManagedRecord {
  readonly record: RecordConfig;
  readonly type: RecordData["type"];
  /** An A record of one link's own (dns.sip): the link whose address it holds. */
  readonly link?: string;
}

export interface WantedRecord extends ManagedRecord {
  readonly data: RecordData;
}

/** A record of the plan: what it should hold, or null when it keeps what it holds (its link's address is not known). */
export type PlannedRecord = WantedRecord | (ManagedRecord & { readonly data: null });

/** The links as the plan needs them: the names, and the priorities that order SRV targets. */
export type PlanLink = Pick<LinkConfig, "name" | "priority">;

/** The office now: the active link, and each link's public address learned through it (the active one's at least). */
export interface OfficeAddresses {
  readonly active: string;
  readonly addresses: ReadonlyMap<string, string>;
  /** Why a link's address is not known (said when its name is kept). */
  readonly unknown?: ReadonlyMap<string, string>;
}

/** SRV priorities: the first target gets this, the next twice this, and so on (room to add one between by hand). */
export const SRV_PRIORITY_STEP = 10;

/** The record's value in one line, to compare, store and show: an address, or the SRV targets. */
export const valueOf = (data: RecordData): string => (data.type === "A" ? data.address : srvText(data.targets));

/** Every record the config makes wanctl keep. */
export function managedRecords(config: { readonly dns: DnsConfig; readonly links?: readonly PlanLink[] }): ManagedRecord[] {
  const out: ManagedRecord[] = config.dns.records.map((record) => ({ record, type: "A" }));
  const sip = config.dns.sip;
  if (!sip) return out;
  const common = { provider: sip.provider, ttl: sip.ttl, verify: sip.verify };
  for (const host of sipHosts(sip, config.links ?? [])) out.push({ record: { name: host.name, ...common }, type: "A", link: host.link });
  for (const s of sip.services) out.push({ record: { name: `${s.service}.${normalizeName(sip.domain)}`, ...common }, type: "SRV" });
  return out;
}

/**
 * What each record should hold with `office.active` carrying the office, in the config's order.
 * A link's own name whose link's address is not known now keeps what it holds (data null).
 */
export function planRecords(config: { readonly dns: DnsConfig; readonly links?: readonly PlanLink[] }, office: OfficeAddresses): PlannedRecord[] {
  const officeAddress = office.addresses.get(office.active);
  if (officeAddress === undefined) throw new Error(`the active link ${office.active}'s address is not known`);
  const sip = config.dns.sip;
  return managedRecords(config).map((managed): PlannedRecord => {
    if (managed.type === "SRV") {
      const service = sip!.services.find((s) => managed.record.name === `${s.service}.${normalizeName(sip!.domain)}`)!;
      const targets = srvOrder(config, office.active).map((host, i) => ({ priority: (i + 1) * SRV_PRIORITY_STEP, weight: service.weight, port: srvPort(service), target: host.name }));
      return { ...managed, data: { type: "SRV", targets } };
    }
    const address = managed.link === undefined ? officeAddress : office.addresses.get(managed.link);
    return { ...managed, data: address === undefined ? null : { type: "A", address } };
  });
}

/** The links' own names in the order clients should try them: the active link's, then by link priority. */
export function srvOrder(config: { readonly dns: DnsConfig; readonly links?: readonly PlanLink[] }, active: string): { link: string; name: string }[] {
  const links = config.links ?? [];
  const rank = (link: string): number => (link === active ? -Infinity : (links.find((l) => l.name === link)?.priority ?? Infinity));
  return config.dns.sip ? sipHosts(config.dns.sip, links).sort((a, b) => rank(a.link) - rank(b.link)) : [];
}
