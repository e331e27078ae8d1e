// Dynamic / failover DNS: providers behind one interface, and the updater that points every
// configured record at the active link's public address.
export { createCloudflareProvider } from "./cloudflare.js";
export { findAuthoritativeServers, queryA, type AQueryResult } from "./dns-client.js";
export { createDuckdnsProvider, duckdnsSubdomain } from "./duckdns.js";
export { createDyndns2Provider, interpretDyndns2 } from "./dyndns2.js";
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
