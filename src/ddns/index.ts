// Dynamic / failover DNS: providers behind one interface, the plan of what each record should hold
// (the active link's address, each link's own, SRV with the active link first), and the updater.
export { createCloudflareProvider } from "./cloudflare.js";
export { findAuthoritativeServers, queryA, type AQueryResult } from "./dns-client.js";
export { createDuckdnsProvider, duckdnsSubdomain } from "./duckdns.js";
export { createDyndns2Provider, interpretDyndns2 } from "./dyndns2.js";
export { managedRecords, planRecords, srvOrder, valueOf, type ManagedRecord, type OfficeAddresses, type PlannedRecord, type RecordData, type WantedRecord } from "./plan.js";
export { DdnsError, type AuthoritativeServer, type CallOptions, type DnsProvider, type FailureKind, type ProviderContext, type RecordConfig, type UpdateOutcome } from "./provider.js";
export { createRfc2136Provider } from "./rfc2136.js";
export { DDNS_STATE_FILE, readDdnsState, type DdnsState, type LastResult, type RecordState } from "./state.js";
export {
  createProviders,
  ddnsStatus,
  DEFAULT_USER_AGENT,
  recordFingerprint,
  updateAllRecords,
  type DdnsAlert,
  type DdnsRecordStatus,
  type RecordOutcome,
  type RecordResult,
  type UpdateOptions,
} from "./updater.js";
