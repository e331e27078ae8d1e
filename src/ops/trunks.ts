// Each trunk's registration for the metrics and the status page: read from the PBX every 30 s and
// right after each switch (whose last step registers the trunks again). While Asterisk cannot be
// asked, the trunks it had count as not registered: calls through them fail too.
import type { LiveTrunk, PbxResult } from "../asterisk/pbx/index.js";
import type { DaemonObserver } from "../daemon/observer.js";
import type { Logger } from "../log.js";
import type { TrunkState } from "./metrics.js";

export const TRUNK_POLL_MS = 30_000;

export class TrunkPoller implements DaemonObserver {
  private states: TrunkState[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private failing = false;

  constructor(
    private readonly read: () => Promise<PbxResult<{ readonly live: readonly LiveTrunk[] }>>,
    private readonly logger: Logger,
    private readonly everyMs = TRUNK_POLL_MS,
  ) {}

  start(): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.everyMs);
    this.timer.unref();
  }

  current(): readonly TrunkState[] {
    return this.states;
  }

  switched(): void {
    void this.poll();
  }

  async stopping(): Promise<void> {
    clearInterval(this.timer);
    await this.reading;
  }

  /** One read at a time; a poll asked for meanwhile is the one in flight. */
  poll(): Promise<void> {
    this.reading ??= this.read()
      .then((result) => {
        if (result.ok && result.data) {
          this.states = result.data.live.map(({ name, status, expiration }) => ({
            name,
            registered: status === "Registered",
            expirySeconds: expiration !== null && /^\d+$/.test(expiration) ? Number(expiration) : null,
          }));
          if (this.failing) this.logger.info("the trunks' registrations can be read again");
          this.failing = false;
        } else {
          this.states = this.states.map((t) => ({ ...t, registered: false }));
          if (!this.failing) this.logger.warn({ detail: result.detail }, `cannot read the trunks' registrations: ${result.detail}`);
          this.failing = true;
        }
      })
      .finally(() => (this.reading = undefined));
    return this.reading;
  }
}
