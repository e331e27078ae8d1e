// The view every rendering works from: the alerts in time order and a time formatter, so each
// channel's renderer sees the same facts. Secrets are already out: the outbox scrubs every alert
// as it enters (outbox.ts), the one door alerts pass on their way out of the process.
import type { Alert } from "../alert.js";
import type { Message } from "../notifier.js";
import { timeFormat, type TimeFormat } from "./time-format.js";

export interface RenderOptions {
  /** IANA time zone for the times in the text (the office's); default: the process's zone. */
  timeZone?: string;
  /** Events a digest lists one by one before "… and N more". Default 20. */
  maxListed?: number;
}

export interface View {
  alerts: Alert[];
  earlier: Alert[];
  /** earlier + alerts, oldest first. */
  all: Alert[];
  latest: Alert;
  omitted: number;
  digest: boolean;
  maxListed: number;
  fmt: TimeFormat;
}

export function prepare(message: Message, options: RenderOptions): View {
  const byTime = (a: Alert, b: Alert) => Date.parse(a.at) - Date.parse(b.at);
  const alerts = [...message.alerts].sort(byTime);
  const earlier = [...message.earlier].sort(byTime);
  const latest = alerts[alerts.length - 1];
  if (!latest) throw new RangeError("a message needs at least one alert");
  const all = [...earlier, ...alerts].sort(byTime);
  return {
    alerts,
    earlier,
    all,
    latest,
    omitted: message.omitted,
    digest: all.length > 1 || message.omitted > 0,
    maxListed: Math.max(1, options.maxListed ?? 20),
    fmt: timeFormat(options.timeZone),
  };
}
