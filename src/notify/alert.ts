// What an alert says, as plain data: it is persisted in the outbox, rendered for each channel and
// sent as JSON, so it holds no functions, no Dates and no secrets.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { LINK_STATES, type LinkState } from "../wan/health.js";

// gateway-down and gateway-up: the office's way out through a router wanctl follows (route.backend "none").
export const ALERT_KINDS = ["failover", "failback", "all-down", "gateway-down", "gateway-up", "step-failed", "repaired", "problem", "drill", "test"] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** The health figures of one link when the alert was raised (null: not measured yet). */
export interface LinkFigures {
  link: string;
  state?: LinkState;
  lossPct?: number | null;
  latencyMs?: number | null;
  jitterMs?: number | null;
}

/** One step of the failover pipeline, as the `FailoverReport` records it. */
export interface AlertStep {
  /** Short name: "route", "public-ip", "dns", "asterisk", "trunks", ... */
  step: string;
  ok: boolean;
  durationMs: number;
  /** When the step started, ms after the event began (steps may overlap). */
  startMs?: number;
  /** Not run, because a step it depends on failed; `ok` is false then. */
  skipped?: boolean;
  /** One line: what was done, or why it failed. */
  detail?: string;
}

export interface Alert {
  /** Unique; the outbox delivers each id once, and messages carry it so duplicates can be recognised. */
  id: string;
  kind: AlertKind;
  /** When it happened, ISO-8601 UTC. */
  at: string;
  /** How the place is named in the text ("office" when absent). */
  site?: string;
  /** Link names: the office moved from `from` to `to` (a drill, from → to and back). */
  from?: string;
  to?: string;
  /** Why, in plain words: "wan1 down: 100% loss". */
  reason: string;
  links: LinkFigures[];
  /** The office's public address after the event, when known. */
  publicAddress?: string;
  timeline: AlertStep[];
  /** Overall outcome; when absent, every step of the timeline succeeded. */
  ok?: boolean;
}

/** What the caller provides; the id and the time are filled in. */
export type AlertInput = Omit<Alert, "id" | "at" | "links" | "timeline"> &
  Partial<Pick<Alert, "links" | "timeline">>;

export function newAlertId(): string {
  return randomUUID();
}

export function createAlert(input: AlertInput, now: Date = new Date(), id: string = newAlertId()): Alert {
  return { id, at: now.toISOString(), links: [], timeline: [], ...input };
}

/** Whether the event ended well: its own verdict, or else every step succeeded. */
export function alertSucceeded(alert: Alert): boolean {
  if (alert.kind === "all-down") return false;
  return alert.ok ?? alert.timeline.every((step) => step.ok);
}

export function failedSteps(alert: Alert): AlertStep[] {
  return alert.timeline.filter((step) => !step.ok);
}

const figure = z.number().finite().nullable().optional();

/** Validates alerts read back from the outbox (a damaged entry must not crash the daemon). */
export const alertSchema: z.ZodType<Alert> = z.object({
  id: z.string().min(1),
  kind: z.enum(ALERT_KINDS),
  at: z.string().min(1),
  site: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  reason: z.string(),
  links: z.array(
    z.object({
      link: z.string(),
      state: z.enum(LINK_STATES).optional(),
      lossPct: figure,
      latencyMs: figure,
      jitterMs: figure,
    }),
  ),
  publicAddress: z.string().optional(),
  timeline: z.array(
    z.object({
      step: z.string(),
      ok: z.boolean(),
      durationMs: z.number().finite().min(0),
      startMs: z.number().finite().min(0).optional(),
      skipped: z.boolean().optional(),
      detail: z.string().optional(),
    }),
  ),
  ok: z.boolean().optional(),
});
