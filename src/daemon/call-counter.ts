// Counts the calls up now, every few seconds, for call-aware failback. An unknown count (AMI down)
// is null, which the decider treats as busy.
export class CallCounter {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private count: number | null = null;

  constructor(
    private readonly countCalls: () => Promise<number | null>,
    private readonly everyMs: number,
  ) {}

  get current(): number | null {
    return this.count;
  }

  start(): void {
    const poll = async () => {
      try {
        this.count = await this.countCalls();
      } catch {
        this.count = null;
      }
      // A poll still in flight at stop must not arm the next one: it would keep the process alive.
      if (!this.stopped) this.timer = setTimeout(() => void poll(), this.everyMs);
    };
    void poll();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
