/**
 * ICMP echo probe through one link.
 *
 * Node has no ICMP sockets and wanctl takes no native addons, so echo requests come from
 * iputils ping(8). Spawning `ping -c 1` per probe costs a fork+exec, a dynamic link, a raw
 * socket and capability setup each time: with 2 links × 3 targets at ~3 rounds a second that is
 * ~17 processes a second (see cpu-compare.ts for the measured cost). Instead each (link, target)
 * gets ONE long-running
 *
 *   ping -n -O -D -4 -i <intervalMs/2000> -I <interface> <target>
 *
 * whose lines we read as they come (see ping-parse.ts):
 * - `64 bytes from …: icmp_seq=N … time=X ms` → echo N answered in X ms (ping's own RTT, taken
 *   from kernel timestamps: no pipe or event-loop delay in it); a reply slower than `timeoutMs`
 *   counts as lost.
 * - `no answer yet for icmp_seq=N` (`-O`) → printed when ping sends the next request without a
 *   reply to N, i.e. one interval after N. With `timeoutMs` ≤ `intervalMs`, N is lost then; with a
 *   longer timeout, N stays pending for the rest of `timeoutMs` and a reply within it still counts.
 * - `From <router> icmp_seq=N <reason>` (unreachable, TTL exceeded) → N lost, with the reason.
 * - stderr `ping: sendmsg: …` → that request could not be sent: lost, with the kernel's reason.
 * Each seq is settled once: duplicates, and replies to a seq already counted lost, are ignored.
 *
 * `-I <interface>` binds ping's socket to the link's device (SO_BINDTODEVICE): its requests leave
 * through that link whatever the main table's default route says, provided the kernel finds a
 * route out of that device (the per-link table, selected by `ip rule from <link address>`, since
 * ping takes the device's address as source). `-n`: no reverse lookups (they would hang on a
 * dead link). `-D` timestamps each line (for logs; freshness below uses the monotonic clock).
 * `-W` is not passed: it only matters when ping is about to exit after `-c`/`-w`, which this
 * ping never does; timeouts are applied here, from the printed RTT and `-O`.
 * iputils lets root use any `-i` (others: 2 ms and up since iputils 20210202, 200 ms before);
 * wanctl runs as root anyway to change routes.
 *
 * Rounds and the ping's own cadence: ping's real period is a little longer than `-i` (measured
 * here: 350 ms → ~383 ms), so rounds and echoes drift against each other. A round therefore
 * takes the NEWEST echo outcome not older than `maxAgeMs` (the ping's own interval, half a round), whether or not
 * an earlier round already reported it; only when there is none that fresh does it wait for the
 * next one, up to `timeoutMs`. This never turns drift into false losses: at worst one echo is
 * reported by two rounds (the result's `detail` names the seq), or one echo is skipped.
 *
 * Bounded and leak-free: if ping exits (bad interface, address gone, killed) it is restarted with
 * exponential backoff (`restartMinMs` … `restartMaxMs`, reset once ping prints echo lines again),
 * and runs meanwhile fail at once with ping's last error. If ping prints nothing for `stallMs` (a
 * hung name lookup at start, say) it is killed and restarted. `close()` clears every timer and
 * SIGTERMs ping (SIGKILL after 1 s), resolving once it has exited. Should the daemon die without
 * `close()` (SIGKILL), ping dies by itself at its next line: `-O` makes it print one every interval,
 * and writing to the pipe nobody reads any more raises SIGPIPE.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { attempt, errorText, familyOf, now, type Outcome } from "./common.js";
import { parsePingLine } from "./ping-parse.js";
import type { LinkBinding, Probe, ProbeResult, ProbeTiming } from "./types.js";

/** One echo request's fate, as the session learnt it. */
export interface EchoOutcome {
  /** icmp_seq, or null for a request that could not be sent (stderr). */
  readonly seq: number | null;
  readonly ok: boolean;
  readonly rttMs?: number;
  readonly error?: string;
  /** When we learnt it (performance.now()). */
  readonly at: number;
  /** What answered, when ok (default `icmp_seq=<seq>`). */
  readonly detail?: string;
}

export type PingSessionState = "idle" | "running" | "backoff" | "stopped";

export interface PingSessionOptions {
  /** Address (or name) to ping. */
  readonly target: string;
  /** `ping -I`: the link's interface. */
  readonly interface: string;
  /** 4 or 6: the link's source address family (`ping -4`/`-6`). */
  readonly family: 4 | 6;
  /** `ping -i`: one echo request per interval. */
  readonly intervalMs: number;
  /** A reply slower than this is lost. */
  readonly timeoutMs: number;
  /** Path of ping. Default "ping" (from PATH). */
  readonly pingPath?: string;
  /** Words before ping's argv, e.g. `["ip", "netns", "exec", "lab-office"]` (which execs ping in place). */
  readonly spawnPrefix?: readonly string[];
  /** First restart delay after ping exits. Default 500 ms. */
  readonly restartMinMs?: number;
  /** Longest restart delay (the delay doubles up to it). Default 10 s. */
  readonly restartMaxMs?: number;
  /** Silence after which ping is killed and restarted. Default max(3 × interval, timeout) + 2 s. */
  readonly stallMs?: number;
}

/** Seqs remembered as settled: far more than can be in flight, far fewer than the 65536 before seq wraps. */
const SETTLED_KEEP = 512;
const STOP_TERM_MS = 1_000;
const STOP_KILL_MS = 2_000;
const MAX_LINE = 4_096;

export class PingSession implements EchoSession {
  private child: ChildProcess | undefined;
  private stateValue: PingSessionState = "idle";
  private latestValue: EchoOutcome | null = null;
  private readonly listeners = new Set<(o: EchoOutcome) => void>();
  private readonly settled = new Set<number>();
  private readonly pending = new Map<number, NodeJS.Timeout>();
  private restartTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private restartAt = 0;
  private lastErrorValue: string | null = null;
  private stderrTail: string | null = null;
  private killReason: string | null = null;
  private carryOut = "";
  private carryErr = "";
  private closed: Promise<void> | null = null;
  private startsValue = 0;

  private readonly restartMinMs: number;
  private readonly restartMaxMs: number;
  private readonly stallMs: number;

  constructor(readonly options: PingSessionOptions) {
    this.restartMinMs = options.restartMinMs ?? 500;
    this.restartMaxMs = options.restartMaxMs ?? 10_000;
    this.stallMs = options.stallMs ?? Math.max(3 * options.intervalMs, options.timeoutMs) + 2_000;
    this.backoffMs = this.restartMinMs;
  }

  /** ping's argv (without the spawn prefix). */
  static pingArgs(o: Pick<PingSessionOptions, "target" | "interface" | "family" | "intervalMs">): string[] {
    return ["-n", "-O", "-D", `-${o.family}`, "-i", (o.intervalMs / 1000).toFixed(3), "-I", o.interface, o.target];
  }

  get state(): PingSessionState {
    return this.stateValue;
  }
  /** ping's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }
  /** The newest echo outcome. */
  get latest(): EchoOutcome | null {
    return this.latestValue;
  }
  /** Why ping last exited (or was killed). */
  get lastError(): string | null {
    return this.lastErrorValue;
  }
  /** How many times ping was spawned. */
  get starts(): number {
    return this.startsValue;
  }
  /** While in backoff: ms until the next start. */
  get restartInMs(): number {
    return this.stateValue === "backoff" ? Math.max(0, Math.round(this.restartAt - now())) : 0;
  }

  /** Starts ping unless it runs, waits for a restart, or the session was stopped. */
  start(): void {
    if (this.stateValue === "idle") this.spawnPing();
  }

  /** Calls `fn` with every new outcome until the returned function is called. */
  subscribe(fn: (o: EchoOutcome) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Stops ping and every timer; resolves once ping has exited. Idempotent. */
  stop(): Promise<void> {
    if (this.closed) return this.closed;
    this.stateValue = "stopped";
    clearTimeout(this.restartTimer);
    clearTimeout(this.stallTimer);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    this.listeners.clear();
    const child = this.child;
    this.closed = child ? terminate(child) : Promise.resolve();
    return this.closed;
  }

  private spawnPing(): void {
    this.stateValue = "running";
    this.killReason = null;
    this.stderrTail = null;
    this.carryOut = "";
    this.carryErr = "";
    this.startsValue++;
    const argv = [...(this.options.spawnPrefix ?? []), this.options.pingPath ?? "ping", ...PingSession.pingArgs(this.options)];
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    this.child = child;
    child.stdout!.setEncoding("latin1");
    child.stderr!.setEncoding("latin1");
    child.stdout!.on("data", (chunk: string) => {
      this.stallTimer?.refresh();
      this.carryOut = this.lines(this.carryOut + chunk, (l) => this.onLine(l));
    });
    child.stderr!.on("data", (chunk: string) => {
      this.carryErr = this.lines(this.carryErr + chunk, (l) => this.onStderr(l));
    });
    child.on("error", (err) => {
      this.stderrTail = `cannot run ${argv[0]}: ${errorText(err)}`;
    });
    child.on("close", (code, signal) => this.onClose(child, code, signal));
    this.stallTimer = setTimeout(() => {
      this.killReason = `ping printed nothing for ${this.stallMs} ms; killed`;
      child.kill("SIGKILL");
    }, this.stallMs);
  }

  /** Feeds the complete lines of `text` to `fn`; returns the incomplete rest (bounded). */
  private lines(text: string, fn: (line: string) => void): string {
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      fn(text.slice(start, nl));
      start = nl + 1;
    }
    const rest = text.slice(start);
    return rest.length > MAX_LINE ? "" : rest;
  }

  private onClose(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    clearTimeout(this.stallTimer);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    if (this.stateValue === "stopped") return;
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    this.lastErrorValue = this.killReason ?? (this.stderrTail ? `${this.stderrTail} (ping ${how})` : `ping ${how}`);
    this.stateValue = "backoff";
    this.restartAt = now() + this.backoffMs;
    this.restartTimer = setTimeout(() => {
      if (this.stateValue === "backoff") this.spawnPing();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.restartMaxMs);
    this.emit({ seq: null, ok: false, error: this.lastErrorValue, at: now() });
  }

  private onLine(line: string): void {
    const p = parsePingLine(line);
    const { timeoutMs, intervalMs } = this.options;
    switch (p.kind) {
      case "reply": {
        this.backoffMs = this.restartMinMs;
        if (p.dup || this.settled.has(p.seq)) return; // a duplicate, or a reply we already counted lost
        this.settle(p.seq);
        if (p.rttMs <= timeoutMs) this.emit({ seq: p.seq, ok: true, rttMs: p.rttMs, at: now() });
        else this.emit({ seq: p.seq, ok: false, error: `timeout: reply to icmp_seq=${p.seq} after ${p.rttMs} ms, over ${timeoutMs} ms`, at: now() });
        return;
      }
      case "no-answer": {
        this.backoffMs = this.restartMinMs;
        if (this.settled.has(p.seq) || this.pending.has(p.seq)) return;
        const lost = (): void => {
          this.settle(p.seq);
          this.emit({ seq: p.seq, ok: false, error: `timeout: no reply to icmp_seq=${p.seq} within ${Math.max(timeoutMs, intervalMs)} ms`, at: now() });
        };
        if (timeoutMs <= intervalMs) return lost();
        // Printed one interval after the request: it still has the rest of the timeout.
        this.pending.set(p.seq, setTimeout(lost, timeoutMs - intervalMs));
        return;
      }
      case "icmp-error": {
        if (this.settled.has(p.seq)) return;
        this.settle(p.seq);
        this.emit({ seq: p.seq, ok: false, error: `${p.message} (from ${p.from}, icmp_seq=${p.seq})`, at: now() });
        return;
      }
      case "other":
        return;
    }
  }

  private onStderr(line: string): void {
    const text = line.trim().slice(0, 300);
    if (text === "" || /^ping: Warning/i.test(text)) return;
    this.stderrTail = text;
    // A request the kernel refused to send (no route, interface down, address gone): lost now.
    if (/\bsend(msg|to)\b/.test(text)) this.emit({ seq: null, ok: false, error: text, at: now() });
  }

  private settle(seq: number): void {
    const t = this.pending.get(seq);
    if (t) {
      clearTimeout(t);
      this.pending.delete(seq);
    }
    this.settled.add(seq);
    if (this.settled.size > SETTLED_KEEP) {
      const oldest = this.settled.values().next().value;
      if (oldest !== undefined) this.settled.delete(oldest);
    }
  }

  private emit(o: EchoOutcome): void {
    this.latestValue = o;
    for (const fn of [...this.listeners]) fn(o);
  }
}

/** SIGTERM, then SIGKILL after a second; resolves once the child has closed (bounded). */
function terminate(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      // exited; 'close' may still be pending on its pipes, which end with it
      child.stdout?.destroy();
      child.stderr?.destroy();
      return resolve();
    }
    let killTimer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(done, STOP_TERM_MS + STOP_KILL_MS);
    function done(): void {
      clearTimeout(killTimer);
      clearTimeout(giveUp);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve();
    }
    child.once("close", done);
    killTimer = setTimeout(() => child.kill("SIGKILL"), STOP_TERM_MS);
    child.kill("SIGTERM");
  });
}

export interface IcmpProbeOptions {
  readonly pingPath?: string;
  readonly spawnPrefix?: readonly string[];
  /** A round reuses an echo outcome at most this old (ms). Default `intervalMs`. */
  readonly maxAgeMs?: number;
  readonly restartMinMs?: number;
  readonly restartMaxMs?: number;
  readonly stallMs?: number;
}

/**
 * A source of echo outcomes that runs by itself (a persistent `ping`, a router's streamed `/ping`):
 * what a probe round needs from it.
 */
export interface EchoSession {
  readonly state: PingSessionState;
  readonly latest: EchoOutcome | null;
  readonly lastError: string | null;
  /** While in backoff: ms until the next start. */
  readonly restartInMs: number;
  start(): void;
  subscribe(fn: (o: EchoOutcome) => void): () => void;
  stop(): Promise<void>;
}

/**
 * A probe whose echoes come from an EchoSession: a round takes the newest outcome not older than
 * `maxAgeMs`, else waits for the next one up to the timeout (see the drift note above).
 */
export class EchoSessionProbe<S extends EchoSession = EchoSession> implements Probe {
  readonly type = "icmp" as const;
  readonly target: string;
  private readonly closer = new AbortController();
  private readonly running = new Set<Promise<ProbeResult>>();
  private readonly maxAgeMs: number;

  constructor(
    readonly link: LinkBinding,
    readonly host: string,
    readonly session: S,
    private readonly timing: ProbeTiming,
    /** Names the pinger in messages: "ping", "the router's /ping". */
    private readonly pinger: string,
    maxAgeMs?: number,
  ) {
    this.target = `icmp ${host}`;
    this.maxAgeMs = maxAgeMs ?? timing.intervalMs;
  }

  run(signal?: AbortSignal): Promise<ProbeResult> {
    if (this.closer.signal.aborted) return Promise.resolve({ target: this.target, ok: false, error: "probe closed" });
    this.session.start();
    const { timeoutMs } = this.timing;
    const p = attempt(
      this.target,
      timeoutMs,
      [this.closer.signal, signal],
      (finish, onCleanup) => {
        const s = this.session;
        if (s.state === "backoff") {
          return finish({ ok: false, error: `${this.pinger} is not running: ${s.lastError ?? "?"}; next start in ${s.restartInMs} ms` });
        }
        const latest = s.latest;
        if (latest && now() - latest.at <= this.maxAgeMs) return finish(outcomeOf(latest));
        onCleanup(s.subscribe((o) => finish(outcomeOf(o))));
      },
      () => `timeout: no echo reply or loss reported by ${this.pinger} within ${timeoutMs} ms`,
    );
    this.running.add(p);
    void p.then(() => this.running.delete(p));
    return p;
  }

  async close(): Promise<void> {
    if (!this.closer.signal.aborted) this.closer.abort("probe closed");
    await Promise.all([...this.running]);
    await this.session.stop();
  }
}

export class IcmpProbe extends EchoSessionProbe<PingSession> {
  constructor(link: LinkBinding, host: string, timing: ProbeTiming, options: IcmpProbeOptions = {}) {
    // Two echoes per round: a round's answer is at most half an interval old. With one per round it
    // could be a whole interval old, and an echo answered just before a cut passed the first round
    // after it: up to a round more to detect the cut (measured in the lab: 0.25 s at p95).
    const cadenceMs = timing.intervalMs / 2;
    const session = new PingSession({
      target: host,
      interface: link.interface,
      family: familyOf(link.sourceAddress),
      intervalMs: cadenceMs,
      timeoutMs: timing.timeoutMs,
      ...pick(options, ["pingPath", "spawnPrefix", "restartMinMs", "restartMaxMs", "stallMs"]),
    });
    super(link, host, session, timing, "ping", options.maxAgeMs ?? cadenceMs);
  }
}

function outcomeOf(o: EchoOutcome): Outcome {
  if (o.ok) return { ok: true, rttMs: o.rttMs ?? 0, detail: o.detail ?? `icmp_seq=${o.seq}` };
  return { ok: false, error: o.error ?? "lost" };
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
