// The PBX as the daemon drives it: every SIP channel driver wanctl manages on it, each through its
// own adapter (pjsip.ts, chan-sip.ts), with its own AMI session, config file and reload, so that
// the two moves of a switch run side by side and neither waits for the other's REGISTERs.
//
// With channelDriver "auto" the drivers are found anew on every converge run (Asterisk may have
// been restarted with other modules): AMI ModuleCheck of res_pjsip.so and chan_sip.so, and whether
// each has something to manage (Pbx.inUse()). A driver named in the config is managed without asking.

import type { ActiveCallsData, LiveTrunk, Pbx, PbxResult } from "./types.js";

export interface ManagedDrivers {
  /** The adapters to converge now, PJSIP first. */
  readonly drivers: readonly Pbx[];
  /** How the others were found to be out of use (not loaded, or nothing to manage). */
  readonly notes: readonly string[];
  /** Drivers in use that wanctl cannot manage as configured (PJSIP trunks without asterisk.pjsip): the step fails with these. */
  readonly problems: readonly string[];
}

export class OfficePbx {
  #found: readonly Pbx[] | undefined;

  /** `adapters`: one per candidate driver; `detect`: channelDriver "auto" (ask Asterisk which are in use). */
  constructor(
    readonly adapters: readonly Pbx[],
    readonly detect: boolean,
  ) {
    if (adapters.length === 0) throw new Error("OfficePbx needs at least one driver adapter");
  }

  /** AMI `host:port`. */
  get target(): string {
    return this.adapters[0]!.target;
  }

  /** The drivers to manage now. Fails when Asterisk cannot be asked, or when no driver has anything to manage. */
  async managed(): Promise<PbxResult<ManagedDrivers>> {
    if (!this.detect) return { ok: true, durationMs: 0, detail: this.adapters.map((a) => a.driver).join(", "), data: { drivers: this.adapters, notes: [], problems: [] } };
    const found = await Promise.all(this.adapters.map((a) => a.inUse()));
    const durationMs = Math.max(...found.map((r) => r.durationMs));
    const unasked = found.find((r) => !r.ok && r.error?.kind !== "config");
    if (unasked) return { ok: false, durationMs, detail: unasked.detail, ...(unasked.error ? { error: unasked.error } : {}) };
    const drivers = this.adapters.filter((_, i) => found[i]!.ok && found[i]!.data?.manage);
    const notes = found.filter((r) => r.ok && !r.data?.manage).map((r) => r.detail);
    const problems = found.filter((r) => !r.ok).map((r) => r.detail);
    this.#found = drivers;
    if (drivers.length === 0 && problems.length === 0) {
      const message = `no SIP channel driver with anything for wanctl to manage (channelDriver "auto"): ${notes.join("; ")}`;
      return { ok: false, durationMs, detail: message, error: { kind: "config", message } };
    }
    const detail = `managing ${drivers.map((d) => d.driver).join(" and ") || "no driver"}${notes.length ? `; ${notes.join("; ")}` : ""}${problems.length ? `; ${problems.join("; ")}` : ""}`;
    return { ok: true, durationMs, detail, data: { drivers, notes, problems } };
  }

  /** Every managed trunk as Asterisk runs it (for the metrics and the status page); the drivers last found, or found now. */
  async readTrunks(): Promise<PbxResult<{ readonly live: readonly LiveTrunk[] }>> {
    let drivers = this.#found;
    if (!drivers) {
      const found = await this.managed();
      if (!found.ok) return { ok: false, durationMs: found.durationMs, detail: found.detail, ...(found.error ? { error: found.error } : {}) };
      drivers = found.data!.drivers;
    }
    const reads = await Promise.all(drivers.map((d) => d.readTrunks()));
    const failed = reads.find((r) => !r.ok);
    const durationMs = Math.max(0, ...reads.map((r) => r.durationMs));
    if (failed) return { ok: false, durationMs, detail: failed.detail, ...(failed.error ? { error: failed.error } : {}) };
    return { ok: true, durationMs, detail: reads.map((r) => r.detail).join("; "), data: { live: reads.flatMap((r) => r.data!.live) } };
  }

  /** Calls are Asterisk's, whichever driver carries them: one adapter asks. */
  activeCalls(): Promise<PbxResult<ActiveCallsData>> {
    return this.adapters[0]!.activeCalls();
  }

  async close(): Promise<void> {
    await Promise.all(this.adapters.map((a) => a.close()));
  }
}
