// `wanctl test --notify`: a test alert through every configured channel, now, with each channel's
// outcome. Through the daemon's outbox when it runs (the alert is its own message, bypasses
// coalescing and the rate limit, and stays queued for retry if a channel fails); straight
// through the notifiers from a one-off process (nothing is queued: the outcome is the answer).
import { hostname } from "node:os";
import { createAlert, newAlertId, type Alert, type LinkFigures } from "./alert.js";
import type { ChannelOutcome, AlertOutbox } from "./outbox.js";
import { createMessage, NotifyError, sendWithin, type Notifier } from "./notifier.js";

export interface TestAlertInput {
  site?: string;
  /** The link the office is on, and the figures of every link, when known. */
  activeLink?: string;
  links?: LinkFigures[];
  publicAddress?: string;
  now?: Date;
  id?: string;
}

export function createTestAlert(input: TestAlertInput = {}): Alert {
  return createAlert(
    {
      kind: "test",
      reason: `wanctl test --notify on ${hostname()}`,
      ...(input.site ? { site: input.site } : {}),
      ...(input.activeLink ? { to: input.activeLink } : {}),
      ...(input.publicAddress ? { publicAddress: input.publicAddress } : {}),
      links: input.links ?? [],
    },
    input.now ?? new Date(),
    input.id ?? newAlertId(),
  );
}

export type TestAlertTarget =
  | { outbox: AlertOutbox }
  | { notifiers: readonly Notifier[]; timeoutMs?: number; localAddress?: (channel: string) => string | undefined };

/** Sends the alert on every channel at once; resolves with one outcome per channel, never rejects. */
export async function sendTestAlert(target: TestAlertTarget, alert: Alert = createTestAlert()): Promise<ChannelOutcome[]> {
  if ("outbox" in target) return target.outbox.sendNow(alert);
  const message = createMessage([alert]);
  return Promise.all(
    target.notifiers.map(async (notifier): Promise<ChannelOutcome> => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), target.timeoutMs ?? 30_000);
      const localAddress = target.localAddress?.(notifier.channel);
      try {
        await sendWithin(notifier, message, { signal: controller.signal, ...(localAddress ? { localAddress } : {}) });
        return { channel: notifier.channel, ok: true, queued: 0 };
      } catch (error) {
        const notifyError = error instanceof NotifyError ? error : new NotifyError(notifier.channel, error instanceof Error ? error.message : String(error), "EUNKNOWN");
        return { channel: notifier.channel, ok: false, error: notifyError.message, code: notifyError.code, queued: 0 };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}
