// RouterOS's REST API (RouterOS ≥ 7.1, HTTPS, basic auth) as a RouterClient, for routers where only
// www-ssl is open. REST is the console API in JSON: GET prints a menu (equality filters as query
// parameters), PATCH sets one item, and POST runs any command (`/ip/firewall/connection/remove`,
// `/ping`, `/tool/fetch`) with its arguments as a JSON object. Every value is a string. It cannot
// stream: `/ping` needs a count and answers when done, so probing over REST costs a request per echo.
// Connections are kept alive (TLS handshakes are the expensive part) and made by connectRouter, so
// the basic-auth header only ever goes to a router whose certificate checked out.
import { Agent, request, type ClientRequest, type ClientRequestArgs, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { connectRouter, RouterError, scrub, type RouterClient, type RouterRecord, type TlsVerify } from "./client.js";

export interface RestSettings {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsVerify;
  readonly user: string;
  readonly password: string;
  /** Connect and each request's answer. */
  readonly timeoutMs: number;
  /** Connections kept open at most (one request each at a time). Default 8. */
  readonly maxSockets?: number;
}

/** An http.Agent whose connections are TLS ones made (and checked) by connectRouter. */
class RouterAgent extends Agent {
  constructor(
    private readonly settings: RestSettings,
    maxSockets: number,
  ) {
    super({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  // The callback form: the agent waits for the checked socket (Node's Agent supports it).
  override createConnection(_options: ClientRequestArgs, callback?: (error: Error | null, socket: Duplex) => void): undefined {
    connectRouter(this.settings.host, this.settings.port, this.settings.tls, this.settings.timeoutMs).then(
      (socket) => callback?.(null, socket),
      (error: Error) => callback?.(error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

const MAX_BODY_BYTES = 4 << 20;

export class RestClient implements RouterClient {
  readonly transport = "rest";
  readonly address: string;
  private readonly agent: RouterAgent;
  private readonly authorization: string;

  constructor(private readonly settings: RestSettings) {
    this.address = `${settings.host}:${settings.port}`;
    this.agent = new RouterAgent(settings, settings.maxSockets ?? 8);
    this.authorization = `Basic ${Buffer.from(`${settings.user}:${settings.password}`).toString("base64")}`;
  }

  private get where(): string {
    return `router ${this.address} (REST)`;
  }

  /** One request; resolves with the parsed JSON answer (null for an empty body). */
  private send(method: string, path: string, body: unknown, timeoutMs = this.settings.timeoutMs): Promise<unknown> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const what = `${method} /rest${path.split("?")[0]}`;
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      let req: ClientRequest | undefined;
      const finish = (error: RouterError | null, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          req?.destroy();
          reject(new RouterError(scrub(error.message, this.settings.password), error.kind, error.category));
        } else resolve(value);
      };
      const timer = setTimeout(() => finish(new RouterError(`${this.where}: no answer to ${what} within ${timeoutMs} ms`, "timeout")), timeoutMs);
      req = request({
        agent: this.agent,
        host: this.settings.host,
        port: this.settings.port,
        method,
        path: `/rest${path}`,
        headers: {
          Host: `${this.settings.host}:${this.settings.port}`,
          Authorization: this.authorization,
          Accept: "application/json",
          ...(text !== undefined ? { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)) } : {}),
        },
      });
      req.on("error", (err: NodeJS.ErrnoException) => finish(err instanceof RouterError ? err : new RouterError(`${this.where}: ${err.code ?? err.message}`, "connection")));
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) finish(new RouterError(`${this.where}: the answer to ${what} is longer than ${MAX_BODY_BYTES} bytes`, "protocol"));
          else chunks.push(chunk);
        });
        res.on("error", (err: NodeJS.ErrnoException) => finish(new RouterError(`${this.where}: ${err.code ?? err.message}`, "connection")));
        res.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8");
          let json: unknown = null;
          try {
            json = raw.trim() ? JSON.parse(raw) : null;
          } catch {
            return finish(new RouterError(`${this.where}: ${what} answered HTTP ${res.statusCode} with something that is not JSON`, "protocol"));
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return finish(null, json);
          const e = (json ?? {}) as { message?: unknown; detail?: unknown };
          const words = [e.message, e.detail].filter((w): w is string => typeof w === "string" && w.length > 0).join(": ") || `HTTP ${status}`;
          if (status === 401) {
            return finish(new RouterError(`${this.where}: login as ${this.settings.user} refused (HTTP 401 ${words}): check the user, its password and its group's rest-api policy`, "auth"));
          }
          finish(new RouterError(`${this.where} refused ${what}: ${words}`, "trap"));
        });
      });
      req.end(text);
    });
  }

  async print(menu: string, options: { where?: Readonly<Record<string, string>>; proplist?: readonly string[] } = {}): Promise<RouterRecord[]> {
    const query = new URLSearchParams(options.where ?? {});
    if (options.proplist) query.set(".proplist", options.proplist.join(","));
    const q = query.toString();
    return records(await this.send("GET", `${menu}${q ? `?${q}` : ""}`, undefined));
  }

  async set(menu: string, ids: readonly string[], values: Readonly<Record<string, string>>): Promise<void> {
    // PATCH sets one item; a few marked routes at most.
    for (const id of ids) await this.send("PATCH", `${menu}/${encodeURIComponent(id)}`, values);
  }

  async remove(menu: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.send("POST", `${menu}/remove`, { ".id": ids.join(",") });
  }

  async call(command: string, args: Readonly<Record<string, string>>, timeoutMs?: number): Promise<RouterRecord[]> {
    return records(await this.send("POST", command, args, timeoutMs));
  }

  reset(): void {
    this.agent.destroy();
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** A REST answer as records: a list of objects, one object (a single-item menu, a command's result), or nothing. */
function records(json: unknown): RouterRecord[] {
  const items = Array.isArray(json) ? json : json === null ? [] : [json];
  return items.filter((item): item is Record<string, unknown> => item !== null && typeof item === "object").map((item) =>
    Object.fromEntries(Object.entries(item).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
  );
}
