// The history behind the status page's graphs and timeline: per link, one row per minute (probes
// sent and lost, median and highest RTT, jitter, the worst state), the last switches with their
// steps, and the last drills. Kept in <stateDir>/history.jsonl so it survives a restart.
//
// Small on a gateway's flash: a minute row is one short JSON line appended once a minute (about
// 50 bytes a link); the file is rewritten (atomically) only about once a day, to drop what is older
// than the 7 days kept. In memory each link is a ring of typed arrays addressed by the minute, so
// its size is fixed whatever happens.
//
// Off the probe loop's hot path: round() only adds numbers to the current minute; the minute is
// summed up and written by a timer, and the writes are asynchronous and one at a time.
import { appendFile, open, readFile, rename } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { DrillReport } from "../daemon/lifecycle.js";
import type { DaemonObserver, SwitchOrigin } from "../daemon/observer.js";
import type { FailoverReport } from "../daemon/report.js";
import type { Logger } from "../log.js";
import type { LinkHealth, LinkState } from "../wan/health.js";
import type { ProbeResult } from "../wan/probes/types.js";
import { switchKind, type DrillSummary } from "./metrics.js";

export const HISTORY_FILE = "history.jsonl";
const MINUTE_MS = 60_000;
/** What the page shows at most. */
export const KEEP_DAYS = 7;
const KEEP_MINUTES = KEEP_DAYS * 24 * 60;
/** The file may hold a day more than is kept before it is rewritten: one rewrite a day. */
const REWRITE_AFTER_MINUTES = KEEP_MINUTES + 24 * 60;
const KEEP_SWITCHES = 50;
const KEEP_DRILLS = 10;

const STATES: readonly LinkState[] = ["unknown", "up", "degraded", "down"];
/** Worse states win when a minute saw several. */
const SEVERITY: Record<LinkState, number> = { unknown: 0, up: 1, degraded: 2, down: 3 };

export interface MinuteRow {
  /** Minute number (epoch ms / 60 000). */
  minute: number;
  link: string;
  sent: number;
  lost: number;
  /** Median RTT of the answered probes, ms. */
  rttMs: number | null;
  rttMaxMs: number | null;
  /** Mean difference of consecutive RTTs per target, ms. */
  jitterMs: number | null;
  state: LinkState;
}

export interface SwitchEntry {
  at: number;
  kind: string;
  from: string | null;
  to: string;
  ok: boolean;
  durationMs: number;
  reason: string;
  steps: { step: string; ok: boolean; durationMs: number; startMs?: number; skipped?: boolean; detail: string }[];
}

export interface DrillEntry extends DrillSummary {
  from?: string;
  to?: string;
  durationMs: number;
  notes: string[];
}

/**
 * A minute row as a line of the file: a plain array, about 50 bytes (an object's keys would more
 * than double it): ["m", minute, link, sent, lost, rttMs, rttMaxMs, jitterMs, state].
 */
export function minuteLine(row: MinuteRow): string {
  return JSON.stringify(["m", row.minute, row.link, row.sent, row.lost, row.rttMs, row.rttMaxMs, row.jitterMs, row.state]);
}

function parseMinute(fields: unknown[]): MinuteRow | undefined {
  const [minute, link, sent, lost, rttMs, rttMaxMs, jitterMs, state] = fields;
  const numberOrNull = (v: unknown) => v === null || typeof v === "number";
  if (typeof minute !== "number" || typeof link !== "string" || typeof sent !== "number" || typeof lost !== "number") return undefined;
  if (!numberOrNull(rttMs) || !numberOrNull(rttMaxMs) || !numberOrNull(jitterMs) || !STATES.includes(state as LinkState)) return undefined;
  return { minute, link, sent, lost, rttMs: rttMs as number | null, rttMaxMs: rttMaxMs as number | null, jitterMs: jitterMs as number | null, state: state as LinkState };
}

/** One link's minutes in a ring addressed by minute number: fixed size, gaps stay gaps. */
class MinuteRing {
  private readonly minute: Float64Array;
  private readonly sent: Uint32Array;
  private readonly lost: Uint32Array;
  private readonly rtt: Float32Array;
  private readonly rttMax: Float32Array;
  private readonly jitter: Float32Array;
  private readonly state: Uint8Array;

  constructor(private readonly capacity: number) {
    this.minute = new Float64Array(capacity).fill(-1);
    this.sent = new Uint32Array(capacity);
    this.lost = new Uint32Array(capacity);
    this.rtt = new Float32Array(capacity);
    this.rttMax = new Float32Array(capacity);
    this.jitter = new Float32Array(capacity);
    this.state = new Uint8Array(capacity);
  }

  put(row: MinuteRow): void {
    const i = row.minute % this.capacity;
    this.minute[i] = row.minute;
    this.sent[i] = row.sent;
    this.lost[i] = row.lost;
    this.rtt[i] = row.rttMs ?? NaN;
    this.rttMax[i] = row.rttMaxMs ?? NaN;
    this.jitter[i] = row.jitterMs ?? NaN;
    this.state[i] = STATES.indexOf(row.state);
  }

  get(minute: number, link: string): MinuteRow | undefined {
    const i = minute % this.capacity;
    if (this.minute[i] !== minute) return undefined;
    const number = (v: number) => (Number.isNaN(v) ? null : Math.round(v * 100) / 100);
    return { minute, link, sent: this.sent[i]!, lost: this.lost[i]!, rttMs: number(this.rtt[i]!), rttMaxMs: number(this.rttMax[i]!), jitterMs: number(this.jitter[i]!), state: STATES[this.state[i]!]! };
  }
}

/** The rounds of one link in one minute, summed up as they come. */
class MinuteAccumulator {
  sent = 0;
  lost = 0;
  readonly rtts: number[] = [];
  private readonly lastRtt = new Map<string, number>();
  private jitterSum = 0;
  private jitterCount = 0;
  state: LinkState = "unknown";

  constructor(
    readonly link: string,
    readonly minute: number,
  ) {}

  add(results: readonly ProbeResult[], state: LinkState): void {
    for (const r of results) {
      this.sent++;
      if (!r.ok || r.rttMs === undefined) {
        if (!r.ok) this.lost++;
        continue;
      }
      this.rtts.push(r.rttMs);
      const previous = this.lastRtt.get(r.target);
      if (previous !== undefined) {
        this.jitterSum += Math.abs(r.rttMs - previous);
        this.jitterCount++;
      }
      this.lastRtt.set(r.target, r.rttMs);
    }
    if (SEVERITY[state] > SEVERITY[this.state] || this.sent === results.length) this.state = state;
  }

  row(): MinuteRow {
    const sorted = [...this.rtts].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    const median = sorted.length === 0 ? null : sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
    const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
    return {
      minute: this.minute,
      link: this.link,
      sent: this.sent,
      lost: this.lost,
      rttMs: round(median),
      rttMaxMs: round(sorted.at(-1) ?? null),
      jitterMs: round(this.jitterCount ? this.jitterSum / this.jitterCount : null),
      state: this.state,
    };
  }
}

export interface HistoryOptions {
  stateDir: string;
  links: readonly string[];
  logger: Logger;
  now?: () => number;
}

export interface Series {
  /** Epoch seconds of each point (the start of its minute, or of its bucket). */
  t: number[];
  lossPct: (number | null)[];
  latencyMs: (number | null)[];
  jitterMs: (number | null)[];
}

export class History implements DaemonObserver {
  private readonly rings = new Map<string, MinuteRing>();
  private readonly current = new Map<string, MinuteAccumulator>();
  private readonly finished: MinuteAccumulator[] = [];
  private switches: SwitchEntry[] = [];
  private drills: DrillEntry[] = [];
  private readonly file: string;
  private readonly now: () => number;
  /** The oldest minute the file may still hold: when it is too old, the file is rewritten. */
  private oldestInFile = Infinity;
  private writes: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private writeFailed = false;

  constructor(private readonly options: HistoryOptions) {
    this.file = join(options.stateDir, HISTORY_FILE);
    this.now = options.now ?? Date.now;
    for (const link of options.links) this.rings.set(link, new MinuteRing(KEEP_MINUTES + 1));
  }

  /** Reads what an earlier run kept (a damaged line is skipped), then sums up and writes every minute. */
  async start(): Promise<void> {
    await this.load();
    // A few seconds past each minute, so that the rounds of the minute before have all come in.
    const schedule = () => {
      const wait = MINUTE_MS - (this.now() % MINUTE_MS) + 2_000;
      this.timer = setTimeout(() => {
        this.flush();
        schedule();
      }, wait);
      this.timer.unref();
    };
    schedule();
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.options.logger.warn({ err: (error as Error).message }, `cannot read the history (${this.file}): starting a new one`);
      return;
    }
    const oldest = this.minuteOf(this.now()) - KEEP_MINUTES;
    let damaged = 0;
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        const [type, value, ...rest] = JSON.parse(line) as [string, Record<string, unknown>, ...unknown[]];
        const row = type === "m" ? parseMinute([value, ...rest]) : undefined;
        if (row) {
          this.oldestInFile = Math.min(this.oldestInFile, row.minute);
          if (row.minute >= oldest) this.rings.get(row.link)?.put(row);
        } else if (type === "s" && typeof value.at === "number" && Array.isArray(value.steps)) this.switches.push(value as unknown as SwitchEntry);
        else if (type === "d" && typeof value.at === "number" && typeof value.ok === "boolean") this.drills.push(value as unknown as DrillEntry);
        else damaged++;
      } catch {
        damaged++; // a line cut short by a power loss
      }
    }
    this.switches = this.switches.slice(-KEEP_SWITCHES);
    this.drills = this.drills.slice(-KEEP_DRILLS);
    if (damaged) {
      // Rewritten at once: the next line appended must not join a line cut short.
      this.options.logger.warn(`the history (${this.file}) had ${damaged} damaged line(s): skipped`);
      this.queue(() => this.rewrite());
    }
  }

  round(link: string, results: readonly ProbeResult[], health: LinkHealth, at: number): void {
    const minute = this.minuteOf(at);
    let acc = this.current.get(link);
    if (acc?.minute !== minute) {
      if (acc) this.finished.push(acc);
      acc = new MinuteAccumulator(link, minute);
      this.current.set(link, acc);
    }
    acc.add(results, health.state);
  }

  switched(report: FailoverReport, origin: SwitchOrigin): void {
    const at = Date.parse(report.startedAt);
    const entry: SwitchEntry = {
      at,
      kind: switchKind(report, origin),
      from: report.from,
      to: report.to,
      ok: report.ok,
      durationMs: Math.round(report.durationMs),
      reason: report.reason,
      steps: report.steps.map((s) => ({
        step: s.step,
        ok: s.ok,
        durationMs: Math.round(s.durationMs),
        ...(s.startedAtMs !== undefined ? { startMs: Math.round(s.startedAtMs - at) } : {}),
        ...(s.skipped ? { skipped: true } : {}),
        detail: s.detail,
      })),
    };
    this.switches = [...this.switches, entry].slice(-KEEP_SWITCHES);
    this.append([["s", entry]]);
  }

  drilled(report: DrillReport): void {
    const entry: DrillEntry = {
      at: Date.parse(report.startedAt),
      ok: report.ok,
      ...(report.refused ? { refused: report.refused } : {}),
      ...(report.from ? { from: report.from } : {}),
      ...(report.to ? { to: report.to } : {}),
      durationMs: Math.round(report.durationMs),
      notes: report.notes,
    };
    this.drills = [...this.drills, entry].slice(-KEEP_DRILLS);
    this.append([["d", entry]]);
  }

  async stopping(): Promise<void> {
    clearTimeout(this.timer);
    // The minute in progress is kept too: a restart loses no more than the seconds in between.
    this.finished.push(...this.current.values());
    this.current.clear();
    this.flush();
    await this.writes;
  }

  lastDrill(): DrillEntry | undefined {
    return this.drills.at(-1);
  }

  /** The last switches, newest first. */
  lastSwitches(count = 20): SwitchEntry[] {
    return this.switches.slice(-count).reverse();
  }

  /** The switches since `since` (epoch ms), oldest first, to mark on the graphs. */
  switchesSince(since: number): SwitchEntry[] {
    return this.switches.filter((s) => s.at >= since);
  }

  /**
   * Each link's loss, latency and jitter over the last `minutes` (the minute in progress included),
   * in buckets of `bucketMinutes` (several minutes summed: loss over all their probes, the mean of
   * their medians and jitters). A bucket without data is a gap (null), not a zero.
   */
  series(minutes: number, bucketMinutes = 1): Record<string, Series> {
    const last = this.minuteOf(this.now());
    const first = Math.floor((last - minutes + 1) / bucketMinutes) * bucketMinutes;
    const result: Record<string, Series> = {};
    for (const [link, ring] of this.rings) {
      const series: Series = { t: [], lossPct: [], latencyMs: [], jitterMs: [] };
      const live = this.current.get(link);
      const rowAt = (m: number) => (live?.minute === m ? live.row() : ring.get(m, link) ?? this.finished.find((a) => a.link === link && a.minute === m)?.row());
      for (let start = first; start <= last; start += bucketMinutes) {
        let sent = 0;
        let lost = 0;
        const rtts: number[] = [];
        const jitters: number[] = [];
        for (let m = start; m < start + bucketMinutes && m <= last; m++) {
          const row = rowAt(m);
          if (!row) continue;
          sent += row.sent;
          lost += row.lost;
          if (row.rttMs !== null) rtts.push(row.rttMs);
          if (row.jitterMs !== null) jitters.push(row.jitterMs);
        }
        const mean = (v: number[]) => (v.length ? Math.round((v.reduce((a, b) => a + b, 0) / v.length) * 100) / 100 : null);
        series.t.push((start * MINUTE_MS) / 1000);
        series.lossPct.push(sent ? Math.round((lost / sent) * 10000) / 100 : null);
        series.latencyMs.push(mean(rtts));
        series.jitterMs.push(mean(jitters));
      }
      result[link] = series;
    }
    return result;
  }

  /** Sums up the finished minutes into the rings and appends them to the file. */
  private flush(): void {
    const rows = this.finished.splice(0).map((acc) => acc.row());
    for (const row of rows) this.rings.get(row.link)?.put(row);
    if (rows.length) {
      this.oldestInFile = Math.min(this.oldestInFile, ...rows.map((r) => r.minute));
      this.queueText(rows.map(minuteLine));
    }
    if (this.minuteOf(this.now()) - this.oldestInFile > REWRITE_AFTER_MINUTES) this.queue(() => this.rewrite());
  }

  private append(lines: [string, unknown][]): void {
    this.queueText(lines.map((line) => JSON.stringify(line)));
  }

  private queueText(lines: string[]): void {
    const text = lines.join("\n") + "\n";
    this.queue(() => appendFile(this.file, text, { mode: 0o600 }));
  }

  /** One write at a time, in order; a failure is said once and the next write tries again. */
  private queue(write: () => Promise<void>): void {
    this.writes = this.writes.then(write).then(
      () => {
        this.writeFailed = false;
      },
      (error: unknown) => {
        if (!this.writeFailed) this.options.logger.warn({ err: (error as Error).message }, `cannot write the history (${this.file}): ${(error as Error).message}`);
        this.writeFailed = true;
      },
    );
  }

  /** The file anew with only what is kept: a temporary file, flushed, renamed over the old one. */
  private async rewrite(): Promise<void> {
    const oldest = this.minuteOf(this.now()) - KEEP_MINUTES;
    const lines: string[] = [];
    for (const [link, ring] of this.rings) {
      for (let m = oldest; m <= this.minuteOf(this.now()); m++) {
        const row = ring.get(m, link);
        if (row) lines.push(minuteLine(row));
      }
    }
    for (const s of this.switches) lines.push(JSON.stringify(["s", s]));
    for (const d of this.drills) lines.push(JSON.stringify(["d", d]));
    const temporary = join(dirname(this.file), `.${basename(this.file)}.${process.pid}.tmp`);
    const handle = await open(temporary, "w", 0o600);
    try {
      await handle.writeFile(lines.length ? lines.join("\n") + "\n" : "");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.file);
    this.oldestInFile = oldest;
  }

  private minuteOf(ms: number): number {
    return Math.floor(ms / MINUTE_MS);
  }
}
