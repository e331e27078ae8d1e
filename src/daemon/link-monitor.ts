// Runs the probe rounds of one link: all its probes at once, one round per interval, each round
// handed on as it completes. The only timer loop of the monitoring; the judging is pure (health.ts).
// The interval can change between rounds (a standby link is probed less often): a wait under way
// is cut or stretched to the new interval, counted from the start of the round it follows.
import type { Probe, ProbeResult } from "../wan/probes/types.js";

export interface LinkMonitorOptions {
  link: string;
  intervalMs: number;
  /** Builds the link's probes; may throw while the link has no address (the round then fails). */
  probes: () => Promise<Probe[]>;
  onRound: (link: string, results: ProbeResult[], at: number) => void;
  onError?: (error: unknown) => void;
  now?: () => number;
}

export class LinkMonitor {
  private readonly abort = new AbortController();
  private probes: Probe[] | undefined;
  private loop: Promise<void> | undefined;
  private readonly now: () => number;
  private intervalMs: number;
  /** The wait between two rounds, while one is under way: when it started from, and how to re-aim it. */
  private waiting: { roundStarted: number; aim: (wait: number) => void } | undefined;

  constructor(private readonly options: LinkMonitorOptions) {
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs;
  }

  get link(): string {
    return this.options.link;
  }

  get interval(): number {
    return this.intervalMs;
  }

  /** Rounds from now on come every `ms`; a wait under way ends `ms` after its round started. */
  setInterval(ms: number): void {
    if (ms === this.intervalMs) return;
    this.intervalMs = ms;
    this.waiting?.aim(Math.max(0, this.waiting.roundStarted + ms - this.now()));
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async round(): Promise<ProbeResult[]> {
    if (!this.probes) {
      try {
        this.probes = await this.options.probes();
      } catch (error) {
        return [{ target: "link", ok: false, error: error instanceof Error ? error.message : String(error) }];
      }
    }
    return Promise.all(this.probes.map((probe) => probe.run(this.abort.signal)));
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      const started = this.now();
      const results = await this.round();
      if (signal.aborted) break;
      try {
        this.options.onRound(this.options.link, results, this.now());
      } catch (error) {
        // A bug in judging one round must not stop the link's monitoring.
        this.options.onError?.(error);
      }
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        // The listener goes with the wait: one left behind per round would pile up on the signal.
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.waiting = undefined;
          resolve();
        };
        const aim = (wait: number): void => {
          clearTimeout(timer);
          timer = setTimeout(done, wait);
        };
        this.waiting = { roundStarted: started, aim };
        signal.addEventListener("abort", done, { once: true });
        aim(Math.max(0, started + this.intervalMs - this.now()));
      });
    }
  }

  /** Drops the probes so the next round builds them again (e.g. the link's address changed). */
  async rebuild(): Promise<void> {
    const old = this.probes;
    this.probes = undefined;
    await Promise.all((old ?? []).map((p) => p.close()));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await Promise.all((this.probes ?? []).map((p) => p.close()));
  }
}
