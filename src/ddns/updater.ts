// Giving every record what it should hold (plan.ts): skip what already holds it, push the rest at
// once (each provider call bounded), stop a record after a permanent error until its config
// changes, back off with jitter after a transient one, and check the authoritative answer.
// Each step lives in its own module; this one runs them for every record, saves the state, raises
// the alerts, and keeps the import path the daemon, the CLI and the tests use.
import type { DnsConfig } from "../config/schema/dns.js";
import { normalizeName } from "../dns/wire.js";
import { createProviders, DEFAULT_USER_AGENT } from "./create-providers.js";
import { managedRecords, planRecords, valueOf, type OfficeAddresses, type PlanLink, type PlannedRecord, type WantedRecord } from "./plan.js";
import { runRecord, type RecordRun } from "./record-run.js";
import { readDdnsState, writeDdnsRecords, type RecordState } from "./state.js";
import type { Ctx, RecordResult, UpdateOptions } from "./update-run.js";
import { verifyRecord } from "./verify.js";

export { createProviders, DEFAULT_USER_AGENT } from "./create-providers.js";
export { recordFingerprint } from "./fingerprint.js";
export { ddnsStatus, type DdnsRecordStatus } from "./status.js";
export type { DdnsAlert, RecordOutcome, RecordResult, UpdateOptions } from "./update-run.js";
export { verifyRecord } from "./verify.js";

/**
 * Gives each record what it should hold with `office.active` carrying the office (plan.ts; for
 * the failover pipeline and `wanctl dns update`): all at once, each bounded; a record's failure
 * never holds up the others. A link's own name whose address is not known is kept as it is
 * (outcome "kept", not a failure). Persists each record's state in `<stateDir>/ddns.json` (and
 * drops the state of records the config no longer has) and raises an alert when a permanent error
 * stops a record. Never rejects for a provider's failure: read each result, in the config's order.
 */
export async function updateAllRecords(config: { readonly dns: DnsConfig; readonly links?: readonly PlanLink[] }, office: OfficeAddresses, options: UpdateOptions): Promise<RecordResult[]> {
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
  const planned = planRecords(config, office);
  const wanted = planned.filter((p): p is WantedRecord => p.data !== null);
  const runs = await Promise.all(
    wanted.map((w) =>
      runRecord(w, config.dns.providers.find((p) => p.id === w.record.provider), providers.get(w.record.provider), state.records[normalizeName(w.record.name)], ctx).catch(
        (err: unknown): RecordRun => ({
          result: { record: normalizeName(w.record.name), provider: w.record.provider, type: w.type, value: valueOf(w.data), ok: false, changed: false, outcome: "failed", detail: `internal error: ${(err as Error).message}`, durationMs: 0 },
        }),
      ),
    ),
  );

  const keep = new Set(managedRecords(config).map((m) => normalizeName(m.record.name)));
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
    const w = wanted.find((r) => normalizeName(r.record.name) === run.result.record)!;
    const v = await verifyRecord(w, providers.get(w.record.provider)!, ctx, run.verifyFrom!);
    const result: RecordResult = { ...run.result, verification: v.detail, ...(v.verifiedMs !== undefined ? { verifiedMs: v.verifiedMs } : {}) };
    const last = run.state?.last ? { ...run.state.last, verification: v.detail, ...(v.verifiedMs !== undefined ? { verifiedMs: v.verifiedMs } : {}) } : null;
    return { result, ...(run.state ? { state: { ...run.state, last } } : {}) };
  };

  /** The results in the config's order, the kept names among them. */
  const inOrder = (results: RecordResult[]): RecordResult[] =>
    planned.map((p) => results.find((r) => r.record === normalizeName(p.record.name)) ?? keptResult(p, state.records[normalizeName(p.record.name)]?.value ?? "", office));

  if (mode === "wait" && toVerify.length) {
    const verified = await Promise.all(toVerify.map(verifyOne));
    for (const v of verified) runs[runs.findIndex((r) => r.result.record === v.result.record)] = v;
    save(runs);
    return inOrder(runs.map((r) => r.result));
  }
  save(runs);
  if (mode === "background" && toVerify.length) {
    for (const run of toVerify) {
      void verifyOne(run).then((v) => {
        save([v]);
        options.onVerified?.(v.result);
      });
    }
    return inOrder(runs.map((r) => (r.verifyFrom !== undefined ? { ...r.result, verification: "pending" } : r.result)));
  }
  return inOrder(runs.map((r) => r.result));
}

/** A link's own name left as it is: its link's address is not known now. Not a failure. */
function keptResult(p: PlannedRecord, lastValue: string, office: OfficeAddresses): RecordResult {
  const why = office.unknown?.get(p.link!) ?? `${p.link}'s address is not known`;
  return { record: normalizeName(p.record.name), provider: p.record.provider, type: p.type, link: p.link!, value: lastValue, ok: true, changed: false, outcome: "kept", detail: `kept${lastValue ? ` at ${lastValue}` : ""}: ${why}`, durationMs: 0 };
}
