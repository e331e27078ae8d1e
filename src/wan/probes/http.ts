/**
 * HTTP(S) probe: one GET from the link's source address; any HTTP response (500 too) proves the
 * path. The RTT runs from the connect to the response's status line and headers: TCP handshake,
 * TLS handshake for https, request and the server's first byte. The body is never read: the
 * socket is destroyed as soon as the headers are in. `agent: false` (a fresh agent without
 * keep-alive) and `Connection: close` make every run a new connection, so each run tests the
 * path, not a pooled socket. TLS certificates are verified as usual: a failed verification is no
 * HTTP response and fails the probe (a captive portal on the link is not "up"). A refused
 * connection counts as the host answering, as for the TCP probe (`refusedMeansUp`, default true).
 */
import { request as httpRequest, type ClientRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { errorCode } from "../../lib/net-errors.js";
import { HostResolver, SocketProbe, elapsedMs, errorText, now, type Outcome } from "./common.js";
import type { LinkBinding, ProbeTiming } from "./types.js";

export interface HttpProbeOptions {
  /** Whether "connection refused" counts as the path working (see tcp.ts). Default true. */
  readonly refusedMeansUp?: boolean;
}

export class HttpProbe extends SocketProbe {
  readonly type = "http" as const;
  private readonly url: URL;
  private readonly resolver: HostResolver;
  private readonly refusedMeansUp: boolean;

  constructor(link: LinkBinding, url: string, timing: ProbeTiming, options: HttpProbeOptions = {}) {
    super(`http ${url}`, link, timing);
    this.refusedMeansUp = options.refusedMeansUp ?? true;
    this.url = new URL(url);
    if (this.url.protocol !== "http:" && this.url.protocol !== "https:") {
      throw new Error(`not an http(s) URL: ${url}`);
    }
    this.resolver = new HostResolver(bareHost(this.url.hostname), this.family);
  }

  protected async start(finish: (o: Outcome) => void, onCleanup: (fn: () => void) => void): Promise<void> {
    const address = await this.resolver.resolve();
    const https = this.url.protocol === "https:";
    const hostname = bareHost(this.url.hostname);
    const t0 = now();
    const options = {
      host: address,
      port: this.url.port === "" ? (https ? 443 : 80) : Number(this.url.port),
      path: `${this.url.pathname}${this.url.search}`,
      method: "GET",
      localAddress: this.link.sourceAddress,
      family: this.family,
      agent: false as const,
      headers: { Host: this.url.host, "User-Agent": "wanctl-probe", Accept: "*/*", Connection: "close" },
      // SNI and certificate check against the URL's name (SNI must not be an IP address).
      ...(https && isIP(hostname) === 0 ? { servername: hostname } : {}),
    };
    const req: ClientRequest = https ? httpsRequest(options) : httpRequest(options);
    onCleanup(() => req.destroy());
    req.once("response", (res) => {
      const rttMs = elapsedMs(t0);
      res.on("error", () => undefined); // destroying it below may emit "aborted" errors
      res.destroy();
      finish({ ok: true, rttMs, detail: `HTTP ${res.statusCode ?? "?"}${res.statusMessage ? ` ${res.statusMessage}` : ""}` });
    });
    req.on("error", (err) => {
      if (errorCode(err) === "ECONNREFUSED" && this.refusedMeansUp) {
        finish({ ok: true, rttMs: elapsedMs(t0), detail: "connection refused (the host answered)" });
      } else {
        finish({ ok: false, error: errorText(err) });
      }
    });
    req.end();
  }
}

/** URL.hostname keeps the brackets of an IPv6 literal. */
function bareHost(h: string): string {
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}
