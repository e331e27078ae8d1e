// One converge run (see lifecycle.ts): the steps that make the office whole on the active link,
// each observing what is and mending what differs, in the order of a switch: after the route,
// the stale flows; the link's public address, learned through the link; then what that address
// feeds: DNS, Asterisk's external address, the trunks. Each step has a time limit; a failure skips
// only what needs it.
import { unwrap, type Pbx, type SavedTrunkSettings, type TrunkSettingsData } from "../asterisk/pbx/index.js";
import type { RouteBackend } from "../wan/route/backend.js";
import { mergeTrunkSettings, normalTrunkSettings, type BaselineStore } from "./baseline.js";
import type { ConvergeRun } from "./lifecycle.js";
import type { PipelineStep, StepOutput } from "./pipeline.js";

export interface PbxSteps {
  pbx: Pbx;
  shortExpirySeconds: number;
  /** Time limits: the adapter makes several AMI round trips and waits for registrations. */
  addressTimeoutMs: number;
  trunksTimeoutMs: number;
  /** The trunks' own settings and the transports' on the primary (baseline.ts). */
  baseline: BaselineStore;
}

export interface ConvergeAdapters {
  route: RouteBackend;
  /** Delete the stale SIP/RTP connection-tracking entries after a switch (config route.flushConntrack). */
  flushConntrack?: boolean;
  /** The link's public address, learned through the link; throws when it cannot be learned. */
  publicAddress(link: string): Promise<{ address: string; detail: string }>;
  /** Points every DNS record at the address, through `link`; throws when a record failed (the message says which). */
  updateDns?: (address: string, link: string) => Promise<StepOutput>;
  pbx?: PbxSteps;
}

interface RunContext {
  readonly run: ConvergeRun;
  publicAddress?: string;
  /** Asterisk's external address had to change: the trunks' Contact must follow. */
  addressChanged?: boolean;
}

const PUBLIC_IP_TIMEOUT_MS = 10_000;
const CONNTRACK_TIMEOUT_MS = 10_000;
const DNS_TIMEOUT_MS = 30_000;
export const ROUTE_STEP_TIMEOUT_MS = 15_000;

export function convergeSteps(adapters: ConvergeAdapters, run: ConvergeRun): { steps: PipelineStep<RunContext>[]; context: RunContext } {
  const steps: PipelineStep<RunContext>[] = [];
  const { updateDns, pbx } = adapters;
  // Flows tied to the other links are stale only after a switch: at other times they may be
  // calls that came in through a link the office is not using.
  const flush = adapters.flushConntrack && run.afterSwitch ? adapters.route.flushStaleFlows?.bind(adapters.route) : undefined;
  if (flush) {
    steps.push({
      name: "conntrack",
      timeoutMs: CONNTRACK_TIMEOUT_MS,
      async run(context) {
        const n = await flush(context.run.link);
        return { detail: `${n} stale SIP/RTP connection-tracking entr${n === 1 ? "y" : "ies"} deleted`, changed: n > 0 };
      },
    });
  }
  // The public address is learned only for what uses it.
  if (updateDns || pbx) {
    steps.push({
      name: "public-ip",
      timeoutMs: PUBLIC_IP_TIMEOUT_MS,
      async run(context) {
        const learned = await adapters.publicAddress(context.run.link);
        context.publicAddress = learned.address;
        return { detail: learned.detail, changed: false };
      },
    });
  }
  if (updateDns) {
    steps.push({ name: "dns", needs: ["public-ip"], timeoutMs: DNS_TIMEOUT_MS, run: (context) => updateDns(context.publicAddress!, context.run.link) });
  }
  if (pbx) {
    steps.push(
      { name: "asterisk", needs: ["public-ip"], timeoutMs: pbx.addressTimeoutMs, run: (context) => externalAddress(pbx, context) },
      // Through a stale NAT mapping the REGISTER would leave with the dead link's address: after the
      // flush, whether it worked or not (a missing conntrack must not keep the trunks where they are).
      { name: "trunks", needs: ["asterisk"], after: flush ? ["conntrack"] : [], timeoutMs: pbx.trunksTimeoutMs, run: (context) => trunks(pbx, context) },
    );
  }
  return { steps, context: { run } };
}

async function externalAddress(steps: PbxSteps, context: RunContext): Promise<StepOutput> {
  const result = await steps.pbx.setExternalAddress(context.publicAddress!);
  const detail = unwrap(result);
  const data = result.data!;
  context.addressChanged = data.fileChanged || data.reloaded;
  // On the primary, what the file held before an unchanged run is the primary's own setting.
  if (context.run.primary && !data.fileChanged) {
    const kept = steps.baseline.value?.transports;
    if (JSON.stringify(kept) !== JSON.stringify(data.saved)) steps.baseline.update({ transports: data.saved });
  }
  return { detail, changed: context.addressChanged };
}

/**
 * The trunks: short expiry on a backup link, their own on the primary. Their own settings are
 * written down (baseline.ts) before anything changes them. After a switch or an address change
 * they register again even when the settings already hold, and so does a trunk not Registered.
 */
async function trunks(steps: PbxSteps, context: RunContext): Promise<StepOutput> {
  const { pbx, shortExpirySeconds: short, baseline } = steps;
  const read = await pbx.readTrunks();
  unwrap(read);
  const observed = read.data!;
  const notes: string[] = [];
  const merged = mergeTrunkSettings(baseline.value?.trunks, observed.settings, short);
  if (merged !== baseline.value?.trunks) {
    const problem = baseline.update({ trunks: merged });
    if (problem) notes.push(problem);
  }

  let wanted: SavedTrunkSettings | "short";
  if (context.run.primary) {
    const normal = normalTrunkSettings(merged, observed.settings, short);
    notes.push(...normal.notes);
    wanted = normal.settings;
  } else {
    wanted = "short";
  }
  const drift = differences(observed, wanted, short);
  const unregistered = observed.live.filter((t) => t.status !== "Registered").map((t) => `${t.name} ${t.status}`);
  const force = context.run.afterSwitch || context.addressChanged === true;
  const note = notes.length ? `; ${notes.join("; ")}` : "";

  if (drift.length) {
    const result = wanted === "short" ? await pbx.registerTrunks({ shortExpirySeconds: short }) : await pbx.restoreTrunks(wanted);
    const why = context.run.afterSwitch ? "" : ` (was: ${drift.join(", ")})`;
    return { detail: `${unwrap(result)}${why}${note}`, changed: true };
  }
  if (force || unregistered.length) {
    const result = await pbx.registerTrunks();
    const why = force ? "" : ` (was: ${unregistered.join(", ")})`;
    return { detail: `${unwrap(result)}${why}${note}`, changed: true };
  }
  const expiry = wanted === "short" ? `${short} s` : "their own expiry";
  return { detail: `${observed.live.length} trunk(s) Registered with ${expiry}${note}`, changed: false };
}

/** Where the file or the running trunks differ from what is wanted, in words. */
function differences(observed: TrunkSettingsData, wanted: SavedTrunkSettings | "short", short: number): string[] {
  const out: string[] = [];
  const settings = observed.settings;
  if (settings.driver === "pjsip") {
    for (const [name, file] of Object.entries(settings.registrations)) {
      const want = wanted === "short" ? { expiration: String(short), max_random_initial_delay: "0" } : wanted.driver === "pjsip" ? wanted.registrations[name] : undefined;
      if (!want) continue;
      const live = observed.live.find((t) => t.name === name);
      if (file.expiration !== want.expiration || file.max_random_initial_delay !== want.max_random_initial_delay) {
        out.push(`${name} expiration ${file.expiration ?? "default"} in the file`);
      } else if (live && (live.expiration !== (want.expiration ?? "3600") || (live.maxRandomInitialDelay ?? null) !== (want.max_random_initial_delay ?? "10"))) {
        out.push(`${name} running expiration ${live.expiration ?? "?"}`);
      }
    }
  } else {
    for (const line of settings.registers) {
      const want = wanted === "short" ? String(short) : wanted.driver === "chan_sip" ? (wanted.registers.find((r) => r.key === line.key)?.expiry ?? line.expiry) : line.expiry;
      if (line.expiry !== want) out.push(`${line.key} ~${line.expiry ?? "default"}`);
    }
  }
  return out;
}
