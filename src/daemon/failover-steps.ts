// The steps of a switch, in the order of DESIGN.md: route, then what the new link's public
// address feeds (DNS, Asterisk, trunks). Each is an adapter call with a time limit.
import type { RouteBackend } from "../wan/route/backend.js";
import type { SwitchKind } from "./decider.js";
import type { PipelineStep } from "./pipeline.js";

export interface SwitchContext {
  from: string | null;
  to: string;
  kind: SwitchKind;
  /** Stale SIP/RTP flows deleted by the route step. */
  conntrackDeleted?: number;
}

export interface SwitchAdapters {
  route: RouteBackend;
}

export const ROUTE_STEP_TIMEOUT_MS = 15_000;

export function switchSteps(adapters: SwitchAdapters): PipelineStep<SwitchContext>[] {
  return [
    {
      name: "route",
      timeoutMs: ROUTE_STEP_TIMEOUT_MS,
      async run(context) {
        const result = await adapters.route.activate(context.to);
        context.conntrackDeleted = result.conntrackDeleted;
        const n = result.conntrackDeleted;
        return `default route via ${context.to}; ${n} stale SIP/RTP connection-tracking entr${n === 1 ? "y" : "ies"} deleted`;
      },
    },
  ];
}
