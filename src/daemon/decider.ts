/**
 * The decider: which link should carry the office now? A pure function, no state of its own:
 * everything it needs (each link's health state and since when, the active link, the pin, the
 * active call count, the time) comes in, a decision comes out. The hold-down and the call wait are
 * both measured from the health `since` of the target link, so they need no memory here.
 *
 * Rules (tested in test/daemon/decider.test.ts):
 *
 * 1. **Never onto an unknown or down link.** wanctl never moves the office onto a link whose health
 *    is unknown or down, whatever asked for it (not even a pin). With the active link's own health
 *    still unknown (just after a start) it keeps the active link: a restart never flips anything.
 * 2. **Ranking.** Usable links are `up` and `degraded`. Every `up` link ranks above every `degraded`
 *    link; within a class, lower `priority` wins, then configuration order. A degraded link is
 *    still used when it is the only usable one (a bad link beats no link), but it is left for an up
 *    link, and never failed back to while an up link carries the office. (`degraded` only exists
 *    when the operator configured quality thresholds, i.e. said quality matters.)
 * 3. **Failover** (`kind: "failover"`): the active link is down and some link is usable → switch at
 *    once to the best usable link. No hold-down and no call wait: the office is offline, every
 *    call on the dead link is already lost.
 * 4. **Moving off a working link**: the active link is usable and a better-ranked link exists →
 *    switch to the best better-ranked link that has been continuously in its state for the hold-down
 *    (`since` ≤ now − holdDown). A flap (down then up again) or a change of class (degraded ↔ up)
 *    restarts its `since`, hence the hold-down. If the best one is still in hold-down but a
 *    lesser one, also better than the active link, is not, the lesser one is taken: being on a
 *    better link now is worth more than saving a second move later. `kind` is `"failback"` when the
 *    target comes before the active link by priority, else `"failover"` (an up backup replacing a
 *    degraded primary).
 * 5. **Call-aware failback** (`waitForIdleCalls`): a failback that is due waits until no call is up,
 *    at most `maxCallWaitMs` counted from the moment the hold-down ended; then it goes anyway. An
 *    unknown call count (`activeCalls: null`, e.g. AMI unreachable) counts as busy. Only failbacks
 *    wait: a failover off a dead link has no calls to save, and leaving a degraded link is what
 *    the operator asked for by setting quality thresholds.
 * 6. **All links down**: stay where we are and say so.
 * 7. **Pin** (`{ mode: "pinned", link }`, the operator's order: "use this link"): wanctl moves the
 *    office onto the pinned link at once when it is usable (`kind: "manual"`, no hold-down, no call
 *    wait), and never moves it off the pinned link, not even when that link goes down: it stays
 *    pinned and says so loudly (`warning`; unpinning lets it fail over). A pin to a link that is
 *    down or unknown is kept, but rule 1 holds: the office is not moved onto it, and until it is
 *    usable the automatic rules apply (so a dead active link is still left for a working one),
 *    with a warning and the pin as the pending switch. A pin to a link that is not configured
 *    (e.g. a state file from an older configuration) is ignored with a warning. `{ mode: "auto" }`
 *    gives control back to the automatic rules at once.
 * 8. **No active link** (`active: null`, or a name that is not configured: e.g. no default route
 *    when the daemon starts) → switch to the best usable link as a failover, as soon as one is
 *    usable.
 * 9. **Recovery settles** (rules 3 and 8): when the office has no working link and the best usable
 *    one has only just become usable while a better-ranked link is recovering too (down or unknown,
 *    but its last rounds pass), wait for that one, at most `recoverySettleMs` from when the first
 *    came up. Links that come back together after an outage (power back at the ISP's cabinet) are
 *    then taken by priority, not by which one proved itself first: one switch instead of a
 *    failover and a failback.
 */

import type { LinkConfig } from "../config/schema/links.js";
import type { LinkState } from "../wan/health.js";
import type { Pin } from "./pin.js";

/** What the decider reads of a link's config: its name, and its priority (lower is preferred). */
export type RankedLinkConfig = Pick<LinkConfig, "name" | "priority">;

/** What the decider needs of a link's health; a `LinkHealth` from src/wan/health.ts fits. */
export interface LinkHealthView {
  readonly state: LinkState;
  /** When the link entered `state` (ms, the injected clock). */
  readonly since: number;
  /** Passing rounds in a row: a down link with some is recovering. */
  readonly passStreak?: number;
}

export interface DeciderPolicy {
  /** A better link must have been continuously in its state this long before we move onto it. */
  readonly failbackHoldDownMs: number;
  /** Wait for zero active calls before a failback. */
  readonly waitForIdleCalls: boolean;
  /** How long a due failback waits for idle calls (from the end of the hold-down). */
  readonly maxCallWaitMs: number;
  /** Rule 9: how long the first link back waits for a better one that is recovering too (≈ upAfter rounds). */
  readonly recoverySettleMs?: number;
}

/** Recommended: 5 min hold-down, wait up to 15 min for calls to end, 1.75 s for a better link to come back too. */
export const DEFAULT_DECIDER_POLICY: DeciderPolicy = {
  failbackHoldDownMs: 300_000,
  waitForIdleCalls: true,
  maxCallWaitMs: 900_000,
  recoverySettleMs: 1_750,
};

export interface DeciderInput {
  /** The configured links, in any order (priority decides; ties by this order). */
  readonly links: readonly RankedLinkConfig[];
  /** Health per link name; a missing entry counts as `unknown`. */
  readonly health: Readonly<Record<string, LinkHealthView | undefined>>;
  /** The link carrying the default route now, as read from the system; null if none. */
  readonly active: string | null;
  readonly pin: Pin;
  readonly policy: DeciderPolicy;
  /** Calls up on the PBX; null when unknown. */
  readonly activeCalls: number | null;
  readonly now: number;
}

export type SwitchKind = "failover" | "failback" | "manual";

/** A switch the decider wants but holds back, for `wanctl status`. */
export interface PendingSwitch {
  readonly to: string;
  readonly kind: SwitchKind;
  readonly waitingFor: "hold-down" | "idle-calls" | "pinned-link" | "recovery";
  /** When it will go at the latest, if that is known (hold-down end, call-wait end). */
  readonly notAfter: number | null;
}

export type Decision =
  | { readonly action: "stay"; readonly reason: string; readonly warning?: string; readonly pending?: PendingSwitch }
  | {
      readonly action: "switch";
      readonly from: string | null;
      readonly to: string;
      readonly kind: SwitchKind;
      readonly reason: string;
      readonly warning?: string;
    };

/** "0.4 s", "4.2 s", "42 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function formatDuration(ms: number): string {
  const v = Math.max(0, ms);
  if (v < 10_000) return `${Math.round(v / 100) / 10} s`;
  const s = Math.floor(v / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** A time left, rounded up to the second so that "0 s left" is never shown while still waiting. */
function formatLeft(ms: number): string {
  return formatDuration(Math.ceil(Math.max(0, ms) / 1000) * 1000);
}

interface Ranked extends RankedLinkConfig {
  readonly order: number; // position by priority, then configuration order
  readonly h: LinkHealthView;
}

const usable = (s: LinkState): boolean => s === "up" || s === "degraded";
const classRank = (s: LinkState): number => (s === "up" ? 0 : s === "degraded" ? 1 : 2);
/** Negative when a ranks above b: up before degraded before the rest, then by priority order. */
const compareRank = (a: Ranked, b: Ranked): number => classRank(a.h.state) - classRank(b.h.state) || a.order - b.order;
const better = (a: Ranked, b: Ranked): boolean => compareRank(a, b) < 0;

/** What every rule needs, computed once per call. */
interface Ctx {
  readonly input: DeciderInput;
  readonly now: number;
  readonly policy: DeciderPolicy;
  readonly ranked: readonly Ranked[];
  readonly byName: ReadonlyMap<string, Ranked>;
  /** The active link, if it is a configured one. */
  readonly active: Ranked | undefined;
  readonly bestUsable: Ranked | undefined;
  describe(r: Ranked): string;
  othersThan(name: string | null): string;
  withOthers(text: string, name: string | null): string;
}

export function decide(input: DeciderInput): Decision {
  const { links, now } = input;
  if (links.length === 0) throw new RangeError("no links configured");
  const names = new Set<string>();
  for (const l of links) {
    if (names.has(l.name)) throw new RangeError(`link ${l.name} is configured twice`);
    names.add(l.name);
  }

  const ranked: Ranked[] = links
    .map((l, i) => ({ l, i }))
    .sort((a, b) => a.l.priority - b.l.priority || a.i - b.i)
    .map(({ l }, order) => ({
      name: l.name,
      priority: l.priority,
      order,
      h: input.health[l.name] ?? { state: "unknown" as const, since: now },
    }));
  const byName = new Map(ranked.map((r) => [r.name, r]));
  const describe = (r: Ranked): string =>
    r.h.state === "unknown" ? `${r.name} health unknown` : `${r.name} ${r.h.state} for ${formatDuration(now - r.h.since)}`;
  const othersThan = (name: string | null): string =>
    ranked
      .filter((r) => r.name !== name)
      .map(describe)
      .join("; ");
  const ctx: Ctx = {
    input,
    now,
    policy: input.policy,
    ranked,
    byName,
    active: input.active !== null ? byName.get(input.active) : undefined,
    bestUsable: ranked.filter((r) => usable(r.h.state)).sort(compareRank)[0],
    describe,
    othersThan,
    withOthers: (text, name) => {
      const o = othersThan(name);
      return o ? `${text}; ${o}` : text;
    },
  };

  if (input.pin.mode === "auto") return decideAuto(ctx);

  // 7. The operator's pin.
  const pinned = byName.get(input.pin.link);
  if (!pinned) return { ...decideAuto(ctx), warning: `pin to ${input.pin.link} ignored: not a configured link` };
  if (ctx.active === pinned || usable(pinned.h.state)) return decidePinned(ctx, pinned);
  // Not on the pinned link, and it is not usable (rule 1): the pin waits, the automatic rules apply
  // meanwhile (so a dead active link is still left for a working one).
  const auto = decideAuto(ctx);
  const warning =
    pinned.h.state === "down"
      ? `pinned link ${pinned.name} is down: pin kept, automatic rules until it is up`
      : `pinned link ${pinned.name} health unknown: pin kept, automatic rules until it is known`;
  const reason = `pinned to ${pinned.name} by operator, but ${describe(pinned)}; meanwhile: ${auto.reason}`;
  if (auto.action === "switch") return { ...auto, reason, warning };
  const pending: PendingSwitch = { to: pinned.name, kind: "manual", waitingFor: "pinned-link", notAfter: null };
  return { action: "stay", reason, warning, pending: auto.pending ?? pending };
}

function decideAuto(ctx: Ctx): Decision {
  const { input, now, policy, ranked, active, bestUsable, describe, othersThan, withOthers } = ctx;

  // 8. No active link we know.
  if (!active) {
    const what = input.active === null ? "no active link" : `active link ${input.active} is not a configured link`;
    const settling = bestUsable && settle(ctx, bestUsable, what);
    if (settling) return settling;
    if (bestUsable) {
      return {
        action: "switch",
        from: input.active,
        to: bestUsable.name,
        kind: "failover",
        reason: `${what}; ${describe(bestUsable)}`,
      };
    }
    return { action: "stay", reason: `${what}; no usable link yet: ${othersThan(null)}` };
  }

  const a = active.h;
  // 1. A restart never flips anything: wait for the active link's own verdict.
  if (a.state === "unknown") {
    return { action: "stay", reason: withOthers(`${active.name} health not known yet: keeping ${active.name}`, active.name) };
  }

  // 3 and 6. The active link is down.
  if (a.state === "down") {
    const settling = bestUsable && settle(ctx, bestUsable, describe(active));
    if (settling) return settling;
    if (bestUsable) {
      return {
        action: "switch",
        from: active.name,
        to: bestUsable.name,
        kind: "failover",
        reason: `${describe(active)}; ${describe(bestUsable)}`,
      };
    }
    if (ranked.every((r) => r.h.state === "down")) {
      return { action: "stay", reason: `all links down: staying on ${active.name}` };
    }
    return {
      action: "stay",
      reason: `${describe(active)}; no other link usable (${othersThan(active.name)}): staying on ${active.name}`,
    };
  }

  // 4 and 5. The active link works: is there a better one, and has it been so long enough?
  const candidates = ranked.filter((r) => usable(r.h.state) && better(r, active)).sort(compareRank);
  if (candidates.length === 0) {
    const why = a.state === "degraded" ? ` (no better link usable)` : "";
    return { action: "stay", reason: withOthers(`on ${describe(active)}${why}`, active.name) };
  }
  const kindOf = (r: Ranked): SwitchKind => (r.order < active.order ? "failback" : "failover");
  const dueAt = (r: Ranked): number => r.h.since + policy.failbackHoldDownMs;
  const eligible = candidates.filter((r) => dueAt(r) <= now);
  if (eligible.length === 0) {
    const top = candidates[0]!;
    const kind = kindOf(top);
    const verb = kind === "failback" ? "failback" : "move";
    return {
      action: "stay",
      reason: `${verb} to ${top.name} waits for hold-down: ${formatLeft(dueAt(top) - now)} left (${describe(top)}; ${describe(active)})`,
      pending: { to: top.name, kind, waitingFor: "hold-down", notAfter: dueAt(top) },
    };
  }
  const target = eligible[0]!;
  const kind = kindOf(target);
  const held = `${describe(target)}, hold-down of ${formatDuration(policy.failbackHoldDownMs)} passed`;
  const headline = kind === "failback" ? `failback to ${target.name}` : `${describe(active)}; moving to ${target.name}`;
  const go = (why: string): Decision => ({ action: "switch", from: active.name, to: target.name, kind, reason: `${headline}: ${held}${why}` });

  if (kind !== "failback" || !policy.waitForIdleCalls) return go("");
  const calls = input.activeCalls;
  if (calls !== null && calls <= 0) return go("; no call up");
  const callWords = calls === null ? "the call count (unknown)" : calls === 1 ? "1 active call" : `${calls} active calls`;
  const giveUpAt = dueAt(target) + policy.maxCallWaitMs;
  if (now >= giveUpAt) return go(`; gave up waiting for ${callWords} to end after ${formatDuration(policy.maxCallWaitMs)}`);
  return {
    action: "stay",
    reason: `failback to ${target.name} waits for ${callWords} to end: at most ${formatLeft(giveUpAt - now)} left (${held})`,
    pending: { to: target.name, kind, waitingFor: "idle-calls", notAfter: giveUpAt },
  };
}

/**
 * Rule 9: the best usable link came back moments ago and a better-ranked one is recovering too:
 * wait for it (bounded). Undefined when there is nothing to wait for.
 */
function settle(ctx: Ctx, best: Ranked, context: string): Decision | undefined {
  const settleMs = ctx.policy.recoverySettleMs ?? 0;
  const until = best.h.since + settleMs;
  if (settleMs <= 0 || ctx.now >= until) return undefined;
  const recovering = ctx.ranked.find((r) => r.order < best.order && !usable(r.h.state) && (r.h.passStreak ?? 0) > 0);
  if (!recovering) return undefined;
  return {
    action: "stay",
    reason: `${context}; ${best.name} is back, but ${recovering.name} (preferred) is coming back too: waiting ${formatLeft(until - ctx.now)} for it`,
    pending: { to: best.name, kind: "failover", waitingFor: "recovery", notAfter: until },
  };
}

/** On the pinned link, or moving onto it (it is usable). */
function decidePinned(ctx: Ctx, pinned: Ranked): Decision {
  const { describe, withOthers } = ctx;
  const state = pinned.h.state;
  const by = `pinned to ${pinned.name} by operator (${describe(pinned)})`;
  const degradedWarning = state === "degraded" ? { warning: `pinned link ${pinned.name} is degraded` } : {};
  if (ctx.active === pinned) {
    if (state === "down") {
      const warning = `pinned link ${pinned.name} is down: staying pinned; unpin to let wanctl fail over`;
      return { action: "stay", reason: withOthers(`${warning} (${describe(pinned)})`, pinned.name), warning };
    }
    if (state === "unknown") return { action: "stay", reason: `${by}; keeping ${pinned.name}` };
    return { action: "stay", reason: by, ...degradedWarning };
  }
  return { action: "switch", from: ctx.input.active, to: pinned.name, kind: "manual", reason: by, ...degradedWarning };
}
