// One converge run (see lifecycle.ts): the steps that make the office whole on the active link,
// each observing what is and mending what differs, in the order of a switch: after the route,
// the stale flows; the link's public address, learned through the link; then what that address
// feeds: DNS, Asterisk's external address, the trunks. Each step has a time limit; a failure skips
// only what needs it.
import type { LiveAddressData, OfficePbx, Pbx, PbxDriver, SavedExternalAddress, SavedTrunkSettings, TrunkReport, TrunkSettingsData } from "../asterisk/pbx/index.js";
import type { RouteBackend } from "../wan/route/backend.js";
import { mergeTrunkSettings, normalTrunkSettings, type BaselineStore } from "./baseline.js";
import type { ConvergeRun } from "./lifecycle.js";
import type { PipelineStep, StepOutput } from "./pipeline.js";

export interface PbxSteps {
  /** Every channel driver wanctl manages on the PBX (each converged on its own, side by side). */
  pbx: Pick<OfficePbx, "managed">;
  shortExpirySeconds: number;
  /** Time limit of the PBX's part of a run: several AMI round trips and the wait for the registrations. */
  trunksTimeoutMs: number;
  /** The trunks' own settings and the transports' on the primary, per driver (baseline.ts). */
  baseline: BaselineStore;
  /** After a switch, a first packet on each trunk's flow before the move (route.backend "none": the router's NAT is not wanctl's to flush). */
  primeFirst?: boolean;
}

export interface ConvergeAdapters {
  route: RouteBackend;
  /** Delete the connection-tracking entries a switch left stale (config route.flushConntrack). */
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
  /** What the PBX step did, for the trunks step to report. */
  pbx?: PbxOutcome;
}

/** The PBX step's two halves, reported as the "asterisk" and "trunks" steps. */
interface PbxOutcome {
  readonly address: Half;
  readonly trunks: Half;
}

interface Half {
  readonly ok: boolean;
  readonly detail: string;
  readonly changed: boolean;
  /** Trunks half: some trunk was still not Registered when the time ran out. */
  readonly timedOut?: boolean;
}

const PUBLIC_IP_TIMEOUT_MS = 10_000;
const CONNTRACK_TIMEOUT_MS = 10_000;
const DNS_TIMEOUT_MS = 30_000;
export const ROUTE_STEP_TIMEOUT_MS = 15_000;

/**
 * Why a trunk stays unregistered after a switch of a router that wanctl follows, most of the time:
 * the router still translates the trunk's flow to the link it left, and wanctl cannot clear that.
 */
export const STALE_NAT_ON_ROUTER =
  "likely cause: a stale NAT entry on the router for the trunk's UDP 5060 flow (it still leaves with the address of the link the router left, and that ISP drops it); wanctl cannot clear the router's connection tracking: make the router flush its UDP connections when it changes WAN (see the README, route.backend \"none\")";

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
        return { detail: `${n} stale connection-tracking entr${n === 1 ? "y" : "ies"} deleted`, changed: n > 0 };
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
      // The PBX is moved in one operation once the public address is known and the stale flows are
      // gone (its un-REGISTER and REGISTER must leave through the new link): after the flush,
      // whether that worked or not (a missing conntrack must not keep the trunks where they are).
      {
        name: "asterisk",
        needs: ["public-ip"],
        after: flush ? ["conntrack"] : [],
        timeoutMs: pbx.trunksTimeoutMs,
        run: async (context) => {
          context.pbx = await convergePbx(pbx, context);
          const { ok, detail, changed } = context.pbx.address;
          if (!ok) throw new Error(detail);
          return { detail, changed };
        },
      },
      {
        name: "trunks",
        needs: ["asterisk"],
        timeoutMs: 1_000,
        run: async (context) => {
          const { ok, detail, changed } = context.pbx!.trunks;
          if (!ok) throw new Error(adapters.route.follows && context.run.afterSwitch && context.pbx!.trunks.timedOut ? `${detail}; ${STALE_NAT_ON_ROUTER}` : detail);
          return { detail, changed };
        },
      },
    );
  }
  return { steps, context: { run } };
}

const DRIVER_NAMES: Record<PbxDriver, string> = { pjsip: "PJSIP", chan_sip: "chan_sip" };

/**
 * The PBX on the active link: each managed channel driver converged on its own (convergeDriver),
 * side by side. Unless one named driver is all there is, each half's detail names the driver, and
 * the address half also says how "auto" found the other drivers; a driver in use that wanctl
 * cannot manage fails it, after the others have been moved.
 */
async function convergePbx(steps: PbxSteps, context: RunContext): Promise<PbxOutcome> {
  const found = await steps.pbx.managed();
  if (!found.ok) return failedOutcome(found.detail);
  const { drivers, notes, problems } = found.data!;
  const outcomes = await Promise.all(drivers.map((pbx) => convergeDriver(pbx, steps, context)));
  if (outcomes.length === 1 && problems.length === 0 && notes.length === 0) return outcomes[0]!;
  const join = (half: "address" | "trunks", extra: readonly string[], ok: boolean): Half => ({
    ok: outcomes.every((o) => o[half].ok) && ok,
    detail: [...outcomes.map((o, i) => `${DRIVER_NAMES[drivers[i]!.driver]}: ${o[half].detail}`), ...extra].join("; "),
    changed: outcomes.some((o) => o[half].changed),
    ...(outcomes.some((o) => o[half].timedOut) ? { timedOut: true } : {}),
  });
  return { address: join("address", [...problems, ...notes], problems.length === 0), trunks: join("trunks", [], true) };
}

const failedOutcome = (detail: string): PbxOutcome => ({ address: { ok: false, detail, changed: false }, trunks: { ok: false, detail: `skipped: ${detail}`, changed: false } });

/**
 * One driver on the active link: its external address on the public address, its trunks short on
 * a backup link and their own on the primary, every trunk Registered. What is observed first: the
 * trunks' settings (their own ones written down before anything changes them) and the address
 * Asterisk runs. A switch, a wrong address or wrong trunk settings make one move (the old bindings
 * removed first, one change, one reload, every trunk registered again); a trunk that is only not
 * Registered registers again; anything else is left as it is.
 */
async function convergeDriver(pbx: Pbx, steps: PbxSteps, context: RunContext): Promise<PbxOutcome> {
  const { shortExpirySeconds: short, baseline } = steps;
  const driver = pbx.driver;
  const address = context.publicAddress!;
  const [readT, readA] = [await pbx.readTrunks(), await pbx.readAddress()];
  if (!readT.ok) return failedOutcome(readT.detail);
  if (!readA.ok) return failedOutcome(readA.detail);
  const observed = readT.data!;
  const notes: string[] = [];
  const before = baseline.trunksOf(driver);
  const merged = mergeTrunkSettings(before, observed.settings, short);
  if (merged !== before) {
    const problem = await baseline.update(driver, { trunks: merged });
    if (problem) notes.push(problem);
  }
  let wanted: SavedTrunkSettings | "short" = "short";
  if (context.run.primary) {
    const normal = normalTrunkSettings(merged, observed.settings, short);
    notes.push(...normal.notes);
    wanted = normal.settings;
  }
  const note = notes.length ? `; ${notes.join("; ")}` : "";
  const addressOff = readA.data!.targets.filter((t) => t.media !== address || t.signaling !== address).map((t) => `${t.name} on ${t.signaling ?? "no address"}`);
  const drift = differences(observed, wanted, short);
  const unregistered = observed.live.filter((t) => t.status !== "Registered").map((t) => `${t.name} ${t.status}`);

  if (context.run.afterSwitch || addressOff.length || drift.length) {
    // Following a router: its NAT may still map the trunks' flow to the link it left (converge.ts has no say there).
    const prime = context.run.afterSwitch && steps.primeFirst ? { primeFirst: true } : {};
    const moved = await pbx.moveTo(address, wanted === "short" ? { shortExpirySeconds: short, ...prime } : { restore: wanted, ...prime });
    const data = moved.data;
    if (!data) return failedOutcome(moved.detail);
    // On the primary, what the transports held before an unchanged move is the primary's own setting.
    if (context.run.primary && !data.address.fileChanged && data.addressPart.ok) await keepTransports(baseline, driver, data.address.saved);
    const was = (what: string[]) => (context.run.afterSwitch || what.length === 0 ? "" : ` (was: ${what.join(", ")})`);
    return {
      address: { ok: data.addressPart.ok, detail: `${data.addressPart.detail}${was(addressOff)}`, changed: data.address.fileChanged || data.address.reloaded || data.unregistered.length > 0 },
      trunks: { ok: data.trunksPart.ok, detail: `${data.trunksPart.detail}${was(drift)}${note}`, changed: true, ...timedOut(data.trunks.trunks) },
    };
  }
  if (context.run.primary) await keepTransports(baseline, driver, asSaved(driver, observed.settings.file, readA.data!));
  const addressOk = { ok: true, detail: `${readA.data!.targets.map((t) => t.name).join(", ")} already on ${address} and live`, changed: false };
  if (unregistered.length) {
    const result = await pbx.registerTrunks();
    return { address: addressOk, trunks: { ok: result.ok, detail: `${result.detail} (was: ${unregistered.join(", ")})${note}`, changed: true, ...timedOut(result.data?.trunks ?? []) } };
  }
  const expiry = wanted === "short" ? `${short} s` : "their own expiry";
  return { address: addressOk, trunks: { ok: true, detail: `${observed.live.length} trunk(s) Registered with ${expiry}${note}`, changed: false } };
}

/** `{ timedOut: true }` when some trunk was still not Registered as the time ran out. */
function timedOut(trunks: readonly TrunkReport[]): { timedOut?: true } {
  return trunks.some((t) => t.timedOut) ? { timedOut: true } : {};
}

/** What Asterisk runs, in the form of the settings a change would save. */
function asSaved(driver: PbxDriver, file: string, live: LiveAddressData): SavedExternalAddress {
  if (driver === "chan_sip") {
    return { driver: "chan_sip", file, general: { externip: live.targets[0]!.signaling, externaddr: null } };
  }
  return { driver: "pjsip", file, transports: Object.fromEntries(live.targets.map((t) => [t.name, { external_media_address: t.media, external_signaling_address: t.signaling }])) };
}

/** A copy of the primary's transport settings, for people (the primary's public address is what wanctl sets). */
async function keepTransports(baseline: BaselineStore, driver: PbxDriver, saved: SavedExternalAddress): Promise<void> {
  if (JSON.stringify(baseline.transportsOf(driver)) !== JSON.stringify(saved)) await baseline.update(driver, { transports: saved });
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
