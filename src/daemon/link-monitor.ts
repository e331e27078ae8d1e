// Runs the probe rounds of one link: all its probes at once, one round per interval, each round
// handed on as it completes. The only timer loop of the monitoring; the judging is pure (health.ts).
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

  constructor(private readonly options: LinkMonitorOptions) {
    this.now = options.now ?? Date.now;
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
      const wait = Math.max(0, started + this.options.intervalMs - this.now());
      await new Promise<void>((resolve) => {
        // The listener goes with the wait: one left behind per round would pile up on the signal.
        const onAbort = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        }, wait);
        signal.addEventListener("abort", onAbort, { once: true });
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
