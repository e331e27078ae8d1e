// One HTTP(S) request with everything wanctl's calls out need: a deadline or the caller's abort
// signal (every request is bounded), an optional local address to bind (policy routing then sends
// it through the link that owns the address: fetch cannot do that), a capped answer, and errors
// that never carry a header value or a URL's credentials and query. DNS providers, IP echo
// services and the Slack and webhook alert channels all go through here.
import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";

export interface HttpRequest {
  readonly url: string;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Bind the socket to this address (policy routing sends it through the link that owns it). */
  readonly localAddress?: string;
  /** The whole exchange, connect to last body byte. Needed unless `signal` bounds the request. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Longest body kept. Default 64 KiB. */
  readonly maxBodyBytes?: number;
  /** A longer body fails the request ("fail", the default) or is cut to maxBodyBytes ("truncate"). */
  readonly overlongBody?: "fail" | "truncate";
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A request that got no HTTP response: connect error, timeout, abort, oversized body. */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly kind: "timeout" | "aborted" | "network" | "protocol",
    /** The socket's errno code (ECONNREFUSED, ...) for a network error. */
    readonly code?: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/**
 * The URL fit for a message or a log line: scheme, host and path only. User info, query and
 * fragment are left out (they carry passwords and tokens, e.g. DuckDNS's `?token=`), and so is a
 * trailing slash, so that a path can be appended.
 */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return "(bad URL)";
  }
}

export function httpFetch(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const https = url.protocol === "https:";
  if (!https && url.protocol !== "http:") return Promise.reject(new HttpError(`not an http(s) URL: ${safeUrl(req.url)}`, "protocol"));
  if (req.timeoutMs === undefined && !req.signal) return Promise.reject(new RangeError("httpFetch needs a timeoutMs or a signal"));
  const where = safeUrl(req.url);
  const maxBody = req.maxBodyBytes ?? 64 * 1024;
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const family = req.localAddress ? isIP(req.localAddress) : 0;
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const options: RequestOptions = {
      host: hostname,
      port: url.port === "" ? (https ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: req.method ?? "GET",
      agent: false,
      headers: {
        Host: url.host,
        Connection: "close",
        ...(req.body !== undefined ? { "Content-Length": String(Buffer.byteLength(req.body)) } : {}),
        ...req.headers,
      },
      ...(req.localAddress ? { localAddress: req.localAddress } : {}),
      ...(family === 4 || family === 6 ? { family } : {}),
      ...(https && isIP(hostname) === 0 ? { servername: hostname } : {}),
    };
    const r = https ? httpsRequest(options) : httpRequest(options);
    const done = (error: HttpError | null, response?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
      if (error) {
        r.destroy();
        reject(error);
      } else resolve(response!);
    };
    const onAbort = (): void => {
      const timedOut = (req.signal?.reason as { name?: string } | undefined)?.name === "TimeoutError";
      done(timedOut ? new HttpError(`${where}: the caller's deadline passed`, "timeout") : new HttpError(`${where}: aborted`, "aborted"));
    };
    const timer =
      req.timeoutMs === undefined ? undefined : setTimeout(() => done(new HttpError(`${where}: no answer within ${req.timeoutMs} ms`, "timeout")), req.timeoutMs);
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener("abort", onAbort, { once: true });
    r.on("error", (err: NodeJS.ErrnoException) => done(new HttpError(`${where}: ${err.code ?? err.message}`, "network", err.code)));
    r.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        const room = maxBody - size;
        size += chunk.length;
        if (size <= maxBody) chunks.push(chunk);
        else if (req.overlongBody === "truncate") {
          if (room > 0) chunks.push(chunk.subarray(0, room));
        } else done(new HttpError(`${where}: answer longer than ${maxBody} bytes`, "protocol"));
      });
      res.on("error", (err: NodeJS.ErrnoException) => done(new HttpError(`${where}: ${err.code ?? err.message}`, "network", err.code)));
      res.on("end", () => done(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    r.end(req.body);
  });
}
