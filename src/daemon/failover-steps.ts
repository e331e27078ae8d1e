// The steps of a switch, in the order of DESIGN.md: the route; then, through the new link, its
// public address; then what that address feeds: DNS, Asterisk's external address, the trunks.
// Each is an adapter call with a time limit; each failure skips only what needs it.
import type { MoveData, Pbx, SavedExternalAddress, SavedTrunkSettings } from "../asterisk/pbx/index.js";
import type { RouteBackend } from "../wan/route/backend.js";
import type { SwitchKind } from "./decider.js";
import type { PipelineStep } from "./pipeline.js";

export interface SwitchContext {
  from: string | null;
  to: string;
  kind: SwitchKind;
  /** The office's preferred link: on it, the trunks get their own expiry back. */
  toIsPrimary: boolean;
  conntrackDeleted?: number;
  publicAddress?: string;
  /** What the PBX move did (the asterisk step), for the trunks step to report. */
  pbxMove?: MoveData;
}

export interface PbxSteps {
  pbx: Pbx;
  shortExpirySeconds: number;
  /** Time limit of the move: the adapter makes several AMI round trips and waits for registrations. */
  trunksTimeoutMs: number;
  /** The trunk settings to put back on the primary link (persisted by the daemon). */
  savedTrunks(): SavedTrunkSettings | undefined;
  setSavedTrunks(saved: SavedTrunkSettings | undefined): void;
  /** The external-address settings from before the office left its primary link (persisted by the daemon). */
  savedAddress(): SavedExternalAddress | undefined;
  setSavedAddress(saved: SavedExternalAddress | undefined): void;
}

export interface SwitchAdapters {
  route: RouteBackend;
  /** Delete the stale SIP/RTP connection-tracking entries after the route moved (config route.flushConntrack). */
  flushConntrack?: boolean;
  /** The link's public address, learned through the link; throws when it cannot be learned. */
  publicAddress(link: string): Promise<{ address: string; detail: string }>;
  /** Points every DNS record at the address, through `link`; throws when a record failed (the message says which). */
  updateDns?: (address: string, link: string) => Promise<string>;
  pbx?: PbxSteps;
}

const PUBLIC_IP_TIMEOUT_MS = 10_000;
const CONNTRACK_TIMEOUT_MS = 10_000;
const DNS_TIMEOUT_MS = 30_000;
export const ROUTE_STEP_TIMEOUT_MS = 15_000;

/**
 * The steps for a switch. With `routeDone`, the route is only checked (a repair of the later
 * steps must not move the office).
 */
export function switchSteps(adapters: SwitchAdapters, options: { routeDone?: boolean } = {}): PipelineStep<SwitchContext>[] {
  const steps: PipelineStep<SwitchContext>[] = [
    {
      name: "route",
      timeoutMs: ROUTE_STEP_TIMEOUT_MS,
      async run(context) {
        if (options.routeDone) {
          const active = await adapters.route.activeLink();
          if (active !== context.to) throw new Error(`the default route is no longer via ${context.to} (now ${active ?? "none"})`);
          return `default route still via ${context.to}`;
        }
        await adapters.route.activate(context.to);
        return `default route via ${context.to}`;
      },
    },
  ];
  const { updateDns, pbx, flushConntrack } = adapters;
  const flush = flushConntrack ? adapters.route.flushStaleFlows?.bind(adapters.route) : undefined;
  if (flush) {
    steps.push({
      name: "conntrack",
      needs: ["route"],
      timeoutMs: CONNTRACK_TIMEOUT_MS,
      async run(context) {
        const n = await flush(context.to);
        context.conntrackDeleted = n;
        return `${n} stale SIP/RTP connection-tracking entr${n === 1 ? "y" : "ies"} deleted`;
      },
    });
  }
  // The public address is learned only for what uses it.
  if (updateDns || pbx) {
    steps.push({
      name: "public-ip",
      needs: ["route"],
      timeoutMs: PUBLIC_IP_TIMEOUT_MS,
      async run(context) {
        const learned = await adapters.publicAddress(context.to);
        context.publicAddress = learned.address;
        return learned.detail;
      },
    });
  }
  if (updateDns) {
    steps.push({ name: "dns", needs: ["public-ip"], timeoutMs: DNS_TIMEOUT_MS, run: (context) => updateDns(context.publicAddress!, context.to) });
  }
  if (pbx) {
    // One PBX operation for both steps (Pbx.moveTo: the old bindings go first, then one change and
    // one reload): it starts once the public address is known AND the stale flows are gone (its
    // un-REGISTER and REGISTER leave through the new link). "asterisk" reports the address half,
    // "trunks" the registrations.
    steps.push(
      {
        name: "asterisk",
        needs: flush ? ["public-ip", "conntrack"] : ["public-ip"],
        timeoutMs: pbx.trunksTimeoutMs,
        run: async (context) => {
          const moved = await movePbx(pbx, context);
          context.pbxMove = moved;
          if (!moved.addressPart.ok) throw new Error(moved.addressPart.detail);
          return moved.addressPart.detail;
        },
      },
      {
        name: "trunks",
        needs: ["asterisk"],
        timeoutMs: 1_000,
        run: async (context) => {
          const part = context.pbxMove?.trunksPart;
          if (!part) throw new Error("the PBX was not moved");
          if (!part.ok) throw new Error(part.detail);
          return part.detail;
        },
      },
    );
  }
  return steps;
}

/**
 * The PBX to the new public address: on a backup link with the short expiry (the originals kept,
 * persisted before the file changes), back on the primary with the trunks' own expiry. The copies
 * of what Asterisk had before the first move off the primary link live until it is back.
 */
async function movePbx(steps: PbxSteps, context: SwitchContext): Promise<MoveData> {
  const saved = steps.savedTrunks();
  const result = await steps.pbx.moveTo(
    context.publicAddress!,
    context.toIsPrimary
      ? saved
        ? { restore: saved }
        : {}
      : { shortExpirySeconds: steps.shortExpirySeconds, ...(saved ? { keepOriginals: saved } : {}), onSaved: (originals) => steps.setSavedTrunks(originals) },
  );
  const data = result.data;
  if (!data) throw new Error(result.detail);
  if (context.toIsPrimary) {
    if (data.addressPart.ok) steps.setSavedAddress(undefined);
    if (data.trunksPart.ok) steps.setSavedTrunks(undefined);
  } else {
    if (!steps.savedAddress()) steps.setSavedAddress(data.address.saved);
    steps.setSavedTrunks(data.trunks.saved);
  }
  return data;
}

/** The steps to run again after `failed` ones: those and everything they need. */
export function stepsToRepeat(steps: readonly PipelineStep<SwitchContext>[], failed: readonly string[]): string[] {
  const wanted = new Set(failed);
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    if (wanted.has(step.name)) for (const need of step.needs ?? []) wanted.add(need);
  }
  return steps.filter((s) => wanted.has(s.name)).map((s) => s.name);
}
