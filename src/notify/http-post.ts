// One JSON POST with node's http/https (not fetch: fetch cannot bind a source address, and alerts
// must leave through the link that works). Bounded: the caller's signal ends it, the answer read
// is capped. Errors are node's own; the adapters word them without the URL.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

export interface PostOptions {
  headers?: Record<string, string>;
  signal: AbortSignal;
  localAddress?: string;
}

export interface PostResult {
  status: number;
  /** The first bytes of the answer (Slack says "ok", or "no_service", "invalid_payload"...). */
  body: string;
}

const MAX_ANSWER_BYTES = 4096;

export function postJson(url: string, payload: unknown, options: PostOptions): Promise<PostResult> {
  const target = new URL(url);
  const body = Buffer.from(JSON.stringify(payload));
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<PostResult>((resolve, reject) => {
    if (options.signal.aborted) {
      reject(abortError());
      return;
    }
    const req = request(
      target,
      {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8", "content-length": String(body.length), ...options.headers },
        signal: options.signal,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        agent: false,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          if (size < MAX_ANSWER_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8").slice(0, MAX_ANSWER_BYTES) }));
        res.on("error", reject);
        // A server that sends headers and then stalls: the signal ends the answer too.
        res.on("aborted", () => reject(abortError()));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function abortError(): Error {
  return Object.assign(new Error("aborted"), { name: "AbortError", code: "ABORT_ERR" });
}
