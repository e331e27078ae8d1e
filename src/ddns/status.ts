// The records as `wanctl status` shows them: stored state, with a stop or back-off shown only
// while the config it was for is unchanged.
import type { DnsConfig } from "../config/schema/dns.js";
import { normalizeName } from "../dns/wire.js";
import { fingerprintOf } from "./fingerprint.js";
import { managedRecords, type PlanLink } from "./plan.js";
import { iso } from "./update-run.js";
import { readDdnsState, type LastResult } from "./state.js";

export interface DdnsRecordStatus {
  readonly record: string;
  readonly provider: string;
  readonly type: "A" | "SRV";
  /** A link's own name (dns.sip): the link whose address it holds. */
  readonly link?: string;
  /** Last known value (last pushed or seen at the authoritative server): an address, or the SRV targets in one line. */
  readonly value: string | null;
  readonly confirmedAt: string | null;
  readonly last: LastResult | null;
  /** Set while a permanent error stops the record (and its config is unchanged since). */
  readonly stopped: { readonly at: string; readonly reason: string } | null;
  readonly retryAt: string | null;
  readonly failures: number;
}

/** Each configured record, its last known value and the last update's outcome (for `wanctl status`). */
export function ddnsStatus(config: { readonly dns: DnsConfig; readonly links?: readonly PlanLink[] }, stateDir: string, env?: NodeJS.ProcessEnv): { records: DdnsRecordStatus[]; problem?: string } {
  const { state, problem } = readDdnsState(stateDir);
  const records = managedRecords(config).map(({ record, type, link }): DdnsRecordStatus => {
    const name = normalizeName(record.name);
    const st = state.records[name];
    const fp = fingerprintOf(record, config.dns.providers.find((p) => p.id === record.provider), env);
    // Without every secret the digest cannot be compared: show the stored state as it is.
    const sameConfig = st !== undefined && st.provider === record.provider && (st.fingerprint === fp.digest || !fp.complete);
    return {
      record: name,
      provider: record.provider,
      type,
      ...(link !== undefined ? { link } : {}),
      value: st?.value ?? null,
      confirmedAt: st?.confirmedAt ?? null,
      last: st?.last ?? null,
      stopped: sameConfig ? st.stopped : null,
      retryAt: sameConfig && st.retryAt !== null ? iso(st.retryAt) : null,
      failures: sameConfig ? st.failures : 0,
    };
  });
  return { records, ...(problem ? { problem } : {}) };
}
