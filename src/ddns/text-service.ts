// What dyndns2 and DuckDNS share: one plain-text GET to the update service, with its failures as
// DdnsErrors that name the record and never the URL's query (it may hold a token).
import { HttpError, httpFetch, safeUrl, type HttpResponse } from "../lib/http.js";
import { DdnsError, httpFailureKind, retryAfterMs, type ProviderContext } from "./provider.js";

export async function getUpdateService(
  recordName: string,
  url: URL,
  headers: Record<string, string>,
  ctx: ProviderContext,
  signal: AbortSignal,
  source: string | undefined,
): Promise<HttpResponse> {
  try {
    return await httpFetch({
      url: url.toString(),
      headers: { ...headers, "User-Agent": ctx.userAgent, Accept: "text/plain" },
      timeoutMs: ctx.requestTimeoutMs,
      signal,
      maxBodyBytes: 4096,
      ...(source ? { localAddress: source } : {}),
    });
  } catch (err) {
    // HttpError messages name the URL through safeUrl: without its query.
    throw new DdnsError(`${recordName}: ${(err as HttpError).message}`, "transient", { code: err instanceof HttpError ? err.kind : "network" });
  }
}

/** A non-2xx answer as a DdnsError: permanent or transient by status, with the service's Retry-After. */
export function statusError(recordName: string, res: HttpResponse, server: string, now: number): DdnsError {
  const after = retryAfterMs(res.headers["retry-after"], now);
  return new DdnsError(`${recordName}: HTTP ${res.status} from ${safeUrl(server)}`, httpFailureKind(res.status), {
    code: `http-${res.status}`,
    ...(after ? { retryAfterMs: after } : {}),
  });
}
