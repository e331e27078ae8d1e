// A client of the RouterOS binary API (8728, 8729 with TLS), written for the documented protocol
// (see wire.ts). One connection carries every command at once, each with its own `.tag`; a
// command's records end with `!done`, after a `!trap` when it failed; `!empty` (RouterOS ≥ 7.18)
// means no record; `!fatal` ends the session. Login is the plain one of RouterOS ≥ 6.43.
// Why not node-routeros: see the README's dependency table.
import type { Socket } from "node:net";
import { connectRouter, RouterError, scrub, type RouterClient, type RouterRecord, type RouterStream, type StreamHandlers, type TlsVerify } from "./client.js";
import { attributeWords, encodeSentence, parseReply, queryWords, SentenceDecoder, type Reply } from "./wire.js";

export interface ApiSettings {
  readonly host: string;
  readonly port: number;
  /** TLS (8729) and how to check the router's certificate; plain TCP (8728) when absent. */
  readonly tls?: TlsVerify;
  readonly user: string;
  readonly password: string;
  /** Connect, login, and each command's answer. */
  readonly timeoutMs: number;
}

interface Pending {
  readonly command: string;
  records: RouterRecord[];
  trap?: { message: string; category?: string };
  onRecord?: (record: RouterRecord) => void;
  settle(error: RouterError | undefined, records: RouterRecord[], done: RouterRecord): void;
}

/** One logged-in API session. Closed for good once the socket ends; ApiClient opens the next. */
export class ApiConnection {
  private readonly decoder = new SentenceDecoder();
  private readonly pending = new Map<string, Pending>();
  private nextTag = 1;
  private closedWith: RouterError | undefined;
  private readonly closeListeners = new Set<(error: RouterError) => void>();

  private constructor(
    private readonly socket: Socket,
    private readonly settings: ApiSettings,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => this.shutDown(new RouterError(`${this.where}: ${err.code ?? err.message}`, "connection")));
    socket.on("close", () => this.shutDown(new RouterError(`${this.where}: the router closed the connection`, "connection")));
  }

  /** Connects and logs in; rejects with an "auth" error when the router refuses the user. */
  static async open(settings: ApiSettings): Promise<ApiConnection> {
    const socket = await connectRouter(settings.host, settings.port, settings.tls, settings.timeoutMs);
    const connection = new ApiConnection(socket, settings);
    try {
      await connection.login();
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  get where(): string {
    return `router ${this.settings.host}:${this.settings.port}`;
  }

  get isOpen(): boolean {
    return this.closedWith === undefined;
  }

  onClose(listener: (error: RouterError) => void): void {
    this.closeListeners.add(listener);
  }

  private async login(): Promise<void> {
    const { user, password } = this.settings;
    const { done } = await this.run(["/login", `=name=${user}`, `=password=${password}`], this.settings.timeoutMs, "/login");
    // A RouterOS before 6.43 answers the plain login with an MD5 challenge instead of logging in.
    if (done.ret !== undefined) {
      throw new RouterError(`${this.where}: the router asks for the challenge login of RouterOS before 6.43; upgrade RouterOS to 6.43 or later`, "auth");
    }
  }

  /** Sends one command; resolves with its records and the `!done` attributes. `label` names it in errors. */
  run(words: readonly string[], timeoutMs: number, label = words[0] ?? "?"): Promise<{ records: RouterRecord[]; done: RouterRecord }> {
    return new Promise((resolve, reject) => {
      const tag = this.send(words, label, {
        onTimeoutMs: timeoutMs,
        settle: (error, records, done) => (error ? reject(error) : resolve({ records, done })),
      });
      if (tag === undefined) reject(this.closedWith);
    });
  }

  /** Sends a command that runs until cancelled; its records go to `handlers` as they come. */
  stream(words: readonly string[], handlers: StreamHandlers): RouterStream {
    let stopped = false;
    let ended: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (ended = resolve));
    const tag = this.send(words, words[0] ?? "?", {
      onRecord: (record) => {
        if (!stopped) handlers.onRecord(record);
      },
      settle: (error) => {
        ended();
        if (!stopped) handlers.onEnd(error);
      },
    });
    if (tag === undefined) {
      queueMicrotask(() => handlers.onEnd(this.closedWith));
      return { stop: async () => undefined };
    }
    return {
      stop: async () => {
        if (stopped) return finished;
        stopped = true;
        if (!this.pending.has(tag)) return;
        // The router answers the cancelled command with "!trap interrupted" and "!done".
        this.run(["/cancel", `=tag=${tag}`], this.settings.timeoutMs).catch(() => undefined);
        const bound = setTimeout(ended, this.settings.timeoutMs);
        await finished;
        clearTimeout(bound);
      },
    };
  }

  private send(
    words: readonly string[],
    command: string,
    options: { onTimeoutMs?: number; onRecord?: (record: RouterRecord) => void; settle: Pending["settle"] },
  ): string | undefined {
    if (this.closedWith) return undefined;
    const tag = String(this.nextTag++);
    let timer: NodeJS.Timeout | undefined;
    const entry: Pending = {
      command,
      records: [],
      ...(options.onRecord ? { onRecord: options.onRecord } : {}),
      settle: (error, records, done) => {
        clearTimeout(timer);
        options.settle(error, records, done);
      },
    };
    this.pending.set(tag, entry);
    if (options.onTimeoutMs !== undefined) {
      const ms = options.onTimeoutMs;
      timer = setTimeout(() => {
        // A router that does not answer in time is taken for gone: the connection is dropped, so
        // every other command fails now too and the next call connects anew.
        this.shutDown(new RouterError(`${this.where}: no answer to ${command} within ${ms} ms`, "timeout"));
      }, ms);
    }
    this.socket.write(encodeSentence([...words, `.tag=${tag}`]));
    return tag;
  }

  private receive(chunk: Buffer): void {
    let sentences: string[][];
    try {
      sentences = this.decoder.push(chunk);
    } catch (error) {
      return this.shutDown(new RouterError(`${this.where}: not the RouterOS API: ${(error as Error).message}`, "protocol"));
    }
    for (const words of sentences) this.dispatch(parseReply(words));
  }

  private dispatch(reply: Reply): void {
    if (reply.type === "!fatal") {
      return this.shutDown(new RouterError(`${this.where}: the router ended the session: ${reply.text.join(" ") || reply.attributes.message || "no reason given"}`, "connection"));
    }
    // Replies to a command given up on (or without a tag) are dropped.
    const entry = reply.tag === undefined ? undefined : this.pending.get(reply.tag);
    if (!entry) return;
    switch (reply.type) {
      case "!re":
        if (entry.onRecord) entry.onRecord(reply.attributes);
        else entry.records.push(reply.attributes);
        return;
      case "!empty": // RouterOS ≥ 7.18: no records; its "!done" follows.
        return;
      case "!trap":
        entry.trap = { message: reply.attributes.message ?? "no message", ...(reply.attributes.category !== undefined ? { category: reply.attributes.category } : {}) };
        return;
      case "!done":
        this.pending.delete(reply.tag!);
        entry.settle(this.trapError(entry), entry.records, reply.attributes);
        return;
      default:
        // A reply word this client does not know (a newer RouterOS): ignored; "!done" still ends the command.
        return;
    }
  }

  /** The error of a command the router refused (`!trap`), or undefined. */
  private trapError(entry: Pending): RouterError | undefined {
    const trap = entry.trap;
    if (!trap) return undefined;
    const { user, password } = this.settings;
    if (entry.command === "/login") return new RouterError(scrub(`${this.where}: login as ${user} refused: ${trap.message}`, password), "auth", trap.category);
    return new RouterError(scrub(`${this.where} refused ${entry.command}: ${trap.message}`, password), "trap", trap.category);
  }

  private shutDown(error: RouterError): void {
    if (this.closedWith) return;
    this.closedWith = error;
    this.socket.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    // A command refused just before the router hung up (a failed login, say) reports the refusal.
    for (const entry of pending) entry.settle(this.trapError(entry) ?? error, entry.records, {});
    for (const listener of this.closeListeners) listener(error);
  }

  close(reason = "closed by wanctl"): void {
    this.shutDown(new RouterError(`${this.where}: ${reason}`, "connection"));
  }
}

/** After a failed connect, calls fail at once with its error for this long instead of each trying again. */
const RECONNECT_HOLD_MS = 1_000;

/**
 * The API as a RouterClient: one connection, opened on first use and again on the first use after
 * it was lost. Streams end with the connection that carried them; their owners start new ones.
 */
export class ApiClient implements RouterClient {
  readonly transport: string;
  readonly address: string;
  private connection: Promise<ApiConnection> | undefined;
  private failed: { error: RouterError; at: number } | undefined;
  private closed = false;

  constructor(
    private readonly settings: ApiSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.transport = settings.tls ? "api-tls" : "api";
    this.address = `${settings.host}:${settings.port}`;
  }

  private open(): Promise<ApiConnection> {
    if (this.closed) return Promise.reject(new RouterError(`router ${this.address}: the client is closed`, "connection"));
    if (this.failed && this.now() - this.failed.at < RECONNECT_HOLD_MS) return Promise.reject(this.failed.error);
    if (!this.connection) {
      const opening = ApiConnection.open(this.settings).then(
        (connection) => {
          this.failed = undefined;
          const forget = (): void => {
            if (this.connection === opening) this.connection = undefined;
          };
          connection.onClose(forget);
          if (!connection.isOpen) forget(); // closed before we listened
          return connection;
        },
        (error: RouterError) => {
          this.failed = { error, at: this.now() };
          if (this.connection === opening) this.connection = undefined;
          throw error;
        },
      );
      this.connection = opening;
    }
    return this.connection;
  }

  async print(menu: string, options: { where?: Readonly<Record<string, string>>; proplist?: readonly string[] } = {}): Promise<RouterRecord[]> {
    const words = [`${menu}/print`, ...(options.proplist ? [`=.proplist=${options.proplist.join(",")}`] : []), ...queryWords(options.where ?? {})];
    return (await (await this.open()).run(words, this.settings.timeoutMs)).records;
  }

  async set(menu: string, ids: readonly string[], values: Readonly<Record<string, string>>): Promise<void> {
    if (ids.length === 0) return;
    await (await this.open()).run([`${menu}/set`, `=.id=${ids.join(",")}`, ...attributeWords(values)], this.settings.timeoutMs);
  }

  async remove(menu: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await (await this.open()).run([`${menu}/remove`, `=.id=${ids.join(",")}`], this.settings.timeoutMs);
  }

  async call(command: string, args: Readonly<Record<string, string>>, timeoutMs = this.settings.timeoutMs): Promise<RouterRecord[]> {
    return (await (await this.open()).run([command, ...attributeWords(args)], timeoutMs)).records;
  }

  stream(command: string, args: Readonly<Record<string, string>>, handlers: StreamHandlers): RouterStream {
    let inner: RouterStream | undefined;
    let stopped = false;
    const started = this.open().then(
      (connection) => {
        if (!stopped) inner = connection.stream([command, ...attributeWords(args)], handlers);
      },
      (error: RouterError) => {
        if (!stopped) handlers.onEnd(error);
      },
    );
    return {
      stop: async () => {
        stopped = true;
        await started;
        await inner?.stop();
      },
    };
  }

  reset(reason: string): void {
    void this.connection?.then((c) => c.close(reason), () => undefined);
    this.connection = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    this.connection = undefined;
    if (connection) (await connection.catch(() => undefined))?.close();
  }
}
