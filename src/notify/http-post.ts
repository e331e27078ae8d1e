// How the Slack and webhook channels talk HTTP: one JSON POST through the shared client (bound to
// the working link's address, ended by the send's signal, the answer capped), and its failures
// worded with the status and Slack's one-word answer or the network reason, never the URL (a
// Slack webhook URL is a secret, and a generic one may carry a token).
import { httpFetch, type HttpResponse } from "../lib/http.js";
import { describeNetworkCode, errorCode } from "../lib/net-errors.js";
import { NotifyError, type SendContext } from "./notifier.js";
import { scrubText } from "./sanitize.js";

export interface JsonEndpoint {
  readonly channel: string;
  /** How messages name the endpoint: "the Slack webhook". */
  readonly what: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The first bytes of an answer are all we read: Slack says "ok", "no_service", "invalid_payload"... */
const MAX_ANSWER_BYTES = 4096;

/** POSTs `payload`; resolves with any HTTP answer, rejects with a NotifyError when there is none. */
export async function postJson(endpoint: JsonEndpoint, payload: unknown, context: SendContext): Promise<HttpResponse> {
  try {
    return await httpFetch({
      url: endpoint.url,
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", ...endpoint.headers },
      body: JSON.stringify(payload),
      signal: context.signal,
      ...(context.localAddress ? { localAddress: context.localAddress } : {}),
      maxBodyBytes: MAX_ANSWER_BYTES,
      overlongBody: "truncate",
    });
  } catch (error) {
    // The signal fired: our deadline, whatever the socket said last.
    if (context.signal.aborted) throw new NotifyError(endpoint.channel, `${endpoint.what} did not answer in time`, "ETIMEDOUT");
    const code = errorCode(error) ?? "EUNKNOWN";
    throw new NotifyError(endpoint.channel, `cannot reach ${endpoint.what} (${describeNetworkCode(code)})`, code);
  }
}

/** Error for a non-2xx answer; the answer's first line, when short and printable, helps. */
export function statusFailure(endpoint: JsonEndpoint, answer: HttpResponse, secrets: readonly string[]): NotifyError {
  const firstLine = (answer.body.split(/\r?\n/, 1)[0] ?? "").trim();
  const hint = firstLine && firstLine.length <= 80 && /^[\x20-\x7e]+$/.test(firstLine) ? ` (${scrubText(firstLine, secrets)})` : "";
  return new NotifyError(endpoint.channel, `${endpoint.what} answered HTTP ${answer.status}${hint}`, `HTTP_${answer.status}`);
}
