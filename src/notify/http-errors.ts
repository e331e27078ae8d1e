// How the HTTP adapters word a failure: the status and Slack's one-word answer, or the network
// reason, never the URL (a Slack webhook URL is a secret, and a generic one may carry a token).
import { scrubText } from "./sanitize.js";
import { describeNetworkCode, errorCode, NotifyError } from "./notifier.js";

/** Error text from a failed request: the network reason, or "timed out" when our signal fired. */
export function requestFailure(channel: string, what: string, error: unknown, signal: AbortSignal): NotifyError {
  if (signal.aborted) return new NotifyError(channel, `${what} did not answer in time`, "ETIMEDOUT");
  const code = errorCode(error) ?? "EUNKNOWN";
  return new NotifyError(channel, `cannot reach ${what} (${describeNetworkCode(code)})`, code);
}

/** Error text for a non-2xx answer; the answer's first line, when short and printable, helps. */
export function statusFailure(channel: string, what: string, status: number, body: string, secrets: readonly string[]): NotifyError {
  const firstLine = (body.split(/\r?\n/, 1)[0] ?? "").trim();
  const hint = firstLine && firstLine.length <= 80 && /^[\x20-\x7e]+$/.test(firstLine) ? ` (${scrubText(firstLine, secrets)})` : "";
  return new NotifyError(channel, `${what} answered HTTP ${status}${hint}`, `HTTP_${status}`);
}
