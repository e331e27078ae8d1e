// The read-only HTTP listener: /metrics for Prometheus, the status page and its JSON API, the
// page's assets (uPlot comes from node_modules: no CDN, a gateway whose primary link is down may
// have none). GET and HEAD only.
//
// Access: with http.auth every request needs the token (Bearer) or the username and password
// (Basic). Without it the config allows loopback only, and the Host header must name loopback too,
// so that a web page elsewhere cannot read the status through DNS rebinding.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import type { ListenAddress } from "../config/schema/http.js";
import type { Logger } from "../log.js";

export interface OpsAuth {
  token?: string;
  username?: string;
  password?: string;
}

export interface OpsRoutes {
  metrics(): Promise<{ contentType: string; body: string }>;
  /** /api/status: what `wanctl status --json` prints; undefined before the daemon's first status. */
  status(): unknown;
  /** /api/history?range=24h|7d */
  history(range: "24h" | "7d"): unknown;
  /** /api/activity: the last switches with their steps, the last drill, the trunks. */
  activity(): unknown;
}

export interface OpsServer {
  readonly address: ListenAddress;
  close(): Promise<void>;
}

// dist/src/ops/server.js runs from the build; the page's files stay in src/ops/page/.
const pageDir = new URL(import.meta.url.includes("/dist/src/") ? "../../../src/ops/page/" : "./page/", import.meta.url);
const uplot = (file: string) => createRequire(import.meta.url).resolve(`uplot/dist/${file}`);

const ASSETS: Record<string, { file: () => string | URL; type: string }> = {
  "/": { file: () => new URL("index.html", pageDir), type: "text/html; charset=utf-8" },
  "/assets/page.js": { file: () => new URL("page.js", pageDir), type: "text/javascript; charset=utf-8" },
  "/assets/page.css": { file: () => new URL("page.css", pageDir), type: "text/css; charset=utf-8" },
  "/assets/uPlot.iife.min.js": { file: () => uplot("uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "/assets/uPlot.min.css": { file: () => uplot("uPlot.min.css"), type: "text/css; charset=utf-8" },
};

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

const digest = (text: string) => createHash("sha256").update(text).digest();
/** Equal in constant time whatever the lengths (both are hashed first). */
const same = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected));

export function isAuthorized(header: string | undefined, auth: OpsAuth): boolean {
  if (!header) return false;
  const [scheme, value = ""] = header.split(/\s+/, 2);
  if (auth.token !== undefined && scheme?.toLowerCase() === "bearer") return same(value, auth.token);
  if (auth.username !== undefined && auth.password !== undefined && scheme?.toLowerCase() === "basic") {
    return same(Buffer.from(value, "base64").toString("utf8"), `${auth.username}:${auth.password}`);
  }
  return false;
}

/** A Host header that names this host's loopback (or none: HTTP/1.0 clients). */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const name = host.replace(/:\d+$/, "").toLowerCase();
  return name === "localhost" || name === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

export async function startOpsServer(options: { listen: ListenAddress; auth?: OpsAuth; routes: OpsRoutes; logger: Logger }): Promise<OpsServer> {
  const { listen, auth, routes, logger } = options;
  const cache = new Map<string, Buffer>();
  const asset = (path: string) => {
    let body = cache.get(path);
    if (!body) {
      body = readFileSync(ASSETS[path]!.file());
      cache.set(path, body);
    }
    return body;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const send = (status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) => {
      res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": type, "Cache-Control": "no-store", ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    const json = (value: unknown) => send(200, "application/json; charset=utf-8", JSON.stringify(value));
    if (auth) {
      if (!isAuthorized(req.headers.authorization, auth)) {
        // A browser asks for a username and password only when it is told Basic.
        const challenge = auth.username !== undefined ? 'Basic realm="wanctl", charset="UTF-8"' : 'Bearer realm="wanctl"';
        return send(401, "text/plain; charset=utf-8", "authentication required\n", { "WWW-Authenticate": challenge });
      }
    } else if (!isLoopbackHost(req.headers.host)) {
      return send(403, "text/plain; charset=utf-8", "this listener answers to loopback names only (set http.auth to serve other hosts)\n");
    }
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain; charset=utf-8", "read-only: GET and HEAD only\n", { Allow: "GET, HEAD" });

    const url = new URL(req.url ?? "/", "http://wanctl");
    switch (url.pathname) {
      case "/metrics": {
        const { contentType, body } = await routes.metrics();
        return send(200, contentType, body);
      }
      case "/api/status": {
        const status = routes.status();
        return status === undefined ? send(503, "text/plain; charset=utf-8", "the daemon has no status yet\n") : json(status);
      }
      case "/api/history": {
        const range = url.searchParams.get("range") ?? "24h";
        if (range !== "24h" && range !== "7d") return send(400, "text/plain; charset=utf-8", 'range must be "24h" or "7d"\n');
        return json(routes.history(range));
      }
      case "/api/activity":
        return json(routes.activity());
    }
    const file = ASSETS[url.pathname];
    if (!file) return send(404, "text/plain; charset=utf-8", "not found\n");
    // The assets change only with wanctl itself: the browser may keep them for a while.
    return send(200, file.type, asset(url.pathname), { "Cache-Control": "max-age=300" });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: (error as Error).stack, path: req.url }, `status page: ${(error as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("internal error\n");
    });
  });
  // A status page must not be held open by an idle client.
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
