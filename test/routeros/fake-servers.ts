// The fake router's two wires: the binary API (8728, or 8729 with TLS) and REST over HTTPS. Both
// hand commands to FakeRouter; each speaks its own protocol as RouterOS does (login first, tags,
// !re/!trap/!done/!empty/!fatal, /cancel; basic auth, JSON, HTTP status codes).
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { argsOf, readSentences, sentenceBytes, tagOf } from "./api-wire.js";
import type { TestCertificate } from "./certs.js";
import type { FakeRouter, Invocation, Item, Sink } from "./fake-router.js";

export interface FakeServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface ApiServer extends FakeServer {
  /** Sessions open now. */
  sessions(): number;
  /** Every session gets "!fatal <reason>" and is closed (a reboot, an admin's kick). */
  fatalAll(reason: string): void;
  /** While held, the router reads commands but answers nothing (a hung router). */
  hold(on: boolean): void;
}

interface Session {
  readonly socket: Socket;
  user: string | undefined;
  readonly running: Map<string, { stop(): void }>;
}

export async function startApiServer(router: FakeRouter, options: { host?: string; port?: number; tls?: TestCertificate } = {}): Promise<ApiServer> {
  const sessions = new Set<Session>();
  let held = false;
  const onSocket = (socket: Socket): void => {
    const session: Session = { socket, user: undefined, running: new Map() };
    sessions.add(session);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      sessions.delete(session);
      for (const r of session.running.values()) r.stop();
      session.running.clear();
    });
    const send = (...words: string[]): void => {
      if (!socket.destroyed && !held) socket.write(sentenceBytes(words));
    };
    readSentences(socket, (words) => {
      if (held) return;
      void handle(session, words, send);
    });
  };
  const handle = async (session: Session, words: string[], send: (...w: string[]) => void): Promise<void> => {
    const [command = ""] = words;
    const tag = tagOf(words);
    const t = tag === undefined ? [] : [`.tag=${tag}`];
    const args = argsOf(words);
    if (command === "/login") {
      const user = router.user(args.name ?? "", args.password ?? "");
      if (user && router.policies(user.name).includes("api")) {
        session.user = user.name;
        return send("!done", ...t);
      }
      send("!trap", "=message=invalid user name or password (6)", ...t);
      return send("!done", ...t);
    }
    if (!session.user) {
      send("!fatal", "not logged in");
      return void session.socket.end();
    }
    if (command === "/quit") {
      send("!fatal", "session terminated on request");
      return void session.socket.end();
    }
    if (command === "/cancel") {
      const running = args.tag === undefined ? undefined : session.running.get(args.tag);
      if (!running) {
        send("!trap", "=message=no such command or directory (tag)", ...t);
        return send("!done", ...t);
      }
      running.stop();
      return send("!done", ...t);
    }
    const invocation: Invocation = {
      command,
      args,
      queries: words.filter((w) => w.startsWith("?")).map((w) => w.slice(1)),
    };
    const sink: Sink = {
      record: (item: Item) => send("!re", ...Object.entries(item).map(([k, v]) => `=${k}=${v}`), ...t),
      trap: (message, category) => send("!trap", ...(category !== undefined ? [`=category=${category}`] : []), `=message=${message}`, ...t),
      done: (empty) => {
        if (tag !== undefined) session.running.delete(tag);
        if (empty && router.sendsEmpty) send("!empty", ...t);
        send("!done", ...t);
      },
    };
    const running = await router.execute(session.user, invocation, sink);
    if (running && tag !== undefined) session.running.set(tag, running);
  };
  const server: Server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, onSocket) : createNetServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    sessions: () => sessions.size,
    fatalAll: (reason) => {
      for (const s of sessions) {
        s.socket.write(sentenceBytes(["!fatal", reason]));
        s.socket.end();
      }
    },
    hold: (on) => (held = on),
    close: async () => {
      for (const s of sessions) s.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Menus that hold one item: REST answers them with an object, not a list. */
const SINGLE_ITEM_MENUS = new Set(["/system/resource"]);

export async function startRestServer(router: FakeRouter, certificate: TestCertificate, options: { host?: string; port?: number } = {}): Promise<FakeServer> {
  if (!router.v7) throw new Error(`RouterOS ${router.version} has no REST API (7.1 and later)`);
  const json = (res: ServerResponse, status: number, value: unknown): void => {
    const body = value === undefined ? "" : JSON.stringify(value);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };
  const run = (user: string, invocation: Invocation): Promise<{ items: Item[]; trap?: string }> =>
    new Promise((resolve) => {
      const items: Item[] = [];
      let trap: string | undefined;
      void router.execute(user, invocation, {
        record: (item) => items.push(item),
        trap: (message) => (trap ??= message),
        done: () => resolve({ items, ...(trap !== undefined ? { trap } : {}) }),
      }).then((running) => {
        // REST cannot stream: a command that would not end by itself (no count) is refused, and
        // one that does is bounded like RouterOS bounds a REST request (60 s).
        if (!running) return;
        if (invocation.args.count === undefined) {
          trap = "the command does not end by itself (give it a count)";
          return running.stop();
        }
        setTimeout(() => running.stop(), 60_000).unref();
      });
    });
  const server: HttpsServer = createHttpsServer({ cert: certificate.cert, key: certificate.key }, (req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d));
    req.on("end", () => {
      void (async () => {
        const [scheme, encoded] = (req.headers.authorization ?? "").split(" ");
        const [name = "", ...rest] = scheme === "Basic" && encoded ? Buffer.from(encoded, "base64").toString().split(":") : [];
        const user = router.user(name, rest.join(":"));
        if (!user || !router.policies(user.name).includes("rest-api")) return json(res, 401, { error: 401, message: "Unauthorized" });
        const url = new URL(req.url ?? "/", "https://router");
        if (!url.pathname.startsWith("/rest/")) return json(res, 404, { error: 404, message: "Not Found" });
        const path = url.pathname.slice(5).split("/").map(decodeURIComponent).join("/");
        let body: Record<string, unknown> = {};
        try {
          body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
        } catch {
          return json(res, 400, { error: 400, message: "Bad Request", detail: "JSON parse error" });
        }
        const args = Object.fromEntries(Object.entries(body).filter(([k]) => !k.startsWith(".") || k === ".id" || k === ".proplist").map(([k, v]) => [k, String(v)]));
        const last = path.slice(path.lastIndexOf("/") + 1);
        const menu = last.startsWith("*") ? path.slice(0, path.lastIndexOf("/")) : path;
        const fail = (detail: string): void => json(res, 400, { error: 400, message: "Bad Request", detail });
        if (req.method === "GET") {
          const queries = [...url.searchParams].filter(([k]) => k !== ".proplist").map(([k, v]) => `${k}=${v}`);
          if (last.startsWith("*")) queries.push(`.id=${last}`);
          const proplist = url.searchParams.get(".proplist");
          const r = await run(user.name, { command: `${menu}/print`, args: proplist ? { ".proplist": proplist } : {}, queries });
          if (r.trap) return fail(r.trap);
          if (last.startsWith("*")) return r.items[0] ? json(res, 200, r.items[0]) : json(res, 404, { error: 404, message: "Not Found" });
          return json(res, 200, SINGLE_ITEM_MENUS.has(menu) ? r.items[0] : r.items);
        }
        if (req.method === "PATCH" && last.startsWith("*")) {
          const r = await run(user.name, { command: `${menu}/set`, args: { ...args, ".id": last }, queries: [] });
          if (r.trap) return fail(r.trap);
          const after = await run(user.name, { command: `${menu}/print`, args: {}, queries: [`.id=${last}`] });
          return json(res, 200, after.items[0] ?? {});
        }
        if (req.method === "DELETE" && last.startsWith("*")) {
          const r = await run(user.name, { command: `${menu}/remove`, args: { ".id": last }, queries: [] });
          return r.trap ? fail(r.trap) : json(res, 204, undefined);
        }
        if (req.method === "POST") {
          const queries = Array.isArray(body[".query"]) ? (body[".query"] as unknown[]).map(String) : [];
          const r = await run(user.name, { command: path, args, queries });
          if (r.trap) return fail(r.trap);
          return json(res, 200, r.items);
        }
        return json(res, 400, { error: 400, message: "Bad Request", detail: `${req.method} ${url.pathname}` });
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
