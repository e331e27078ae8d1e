// One HTTP(S) request with everything a DNS provider or an IP echo service call needs: a deadline,
// an abort signal, an optional local address to bind (to leave through a given link), a capped
// body, and errors that never carry a header value (Authorization stays out of every message).
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
  /** The whole exchange, connect to last body byte. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Longest body kept; longer bodies fail the request. Default 64 KiB. */
  readonly maxBodyBytes?: number;
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
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** The URL without user info and query (query strings may carry tokens, e.g. DuckDNS). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(bad URL)";
  }
}

export function httpFetch(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const https = url.protocol === "https:";
  if (!https && url.protocol !== "http:") return Promise.reject(new HttpError(`not an http(s) URL: ${safeUrl(req.url)}`, "protocol"));
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
    const timer = setTimeout(() => done(new HttpError(`${where}: no answer within ${req.timeoutMs} ms`, "timeout")), req.timeoutMs);
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener("abort", onAbort, { once: true });
    r.on("error", (err: NodeJS.ErrnoException) => done(new HttpError(`${where}: ${err.code ?? err.message}`, "network")));
    r.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBody) return done(new HttpError(`${where}: answer longer than ${maxBody} bytes`, "protocol"));
        chunks.push(chunk);
      });
      res.on("error", (err: NodeJS.ErrnoException) => done(new HttpError(`${where}: ${err.code ?? err.message}`, "network")));
      res.on("end", () => done(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    r.end(req.body);
  });
}
