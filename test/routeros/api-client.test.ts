// The API client against scripted servers that answer with constructed sentences: tags, !re,
// !done, !trap, !fatal, !empty (7.18), login, timeouts, streams and /cancel, TLS.
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { ApiClient, ApiConnection, type ApiSettings } from "../../src/wan/route/routeros/api.js";
import { certificateFingerprint, RouterError, type RouterRecord } from "../../src/wan/route/routeros/client.js";
import { listenOnLoopback, portOf } from "../loopback.js";
import { argsOf, readSentences, sentenceBytes, tagOf } from "./api-wire.js";
import { makeCertificate, type TestCertificate } from "./certs.js";

type Reply = (...sentences: string[][]) => void;
type Handler = (words: string[], reply: Reply, socket: Socket) => void;

const servers: Server[] = [];
const clients: ApiClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Logs in anyone whose password is "s3cret"; every other command goes to `handler`. Records what it received. */
function loginHandler(handler: Handler): { handle: Handler; received: string[][] } {
  const received: string[][] = [];
  return {
    received,
    handle: (words, reply, socket) => {
      received.push(words);
      const tag = `.tag=${tagOf(words)}`;
      if (words[0] === "/login") {
        if (argsOf(words).password === "s3cret") return reply(["!done", tag]);
        return reply(["!trap", "=message=invalid user name or password (6)", tag], ["!done", tag]);
      }
      handler(words, reply, socket);
    },
  };
}

function serve(socket: Socket, handle: Handler, splitBytes: boolean): void {
  socket.on("error", () => undefined);
  const reply: Reply = (...sentences) => {
    const bytes = Buffer.concat(sentences.map(sentenceBytes));
    if (!splitBytes) return void socket.write(bytes);
    for (const b of bytes) socket.write(Buffer.from([b]));
  };
  readSentences(socket, (words) => handle(words, reply, socket));
}

async function apiServer(handler: Handler, options: { splitBytes?: boolean } = {}) {
  const { handle, received } = loginHandler(handler);
  let connections = 0;
  const server = createNetServer((socket) => {
    connections++;
    serve(socket, handle, options.splitBytes ?? false);
  });
  servers.push(server);
  await listenOnLoopback(server);
  return { port: portOf(server), received, connections: () => connections };
}

function client(port: number, overrides: Partial<ApiSettings> = {}): ApiClient {
  const c = new ApiClient({ host: "127.0.0.1", port, user: "wanctl", password: "s3cret", timeoutMs: 1000, ...overrides });
  clients.push(c);
  return c;
}

const routes: string[][] = [
  ["!re", "=.id=*1", "=dst-address=0.0.0.0/0", "=gateway=198.51.100.9", "=comment=wanctl:wan1"],
  ["!re", "=.id=*2", "=dst-address=0.0.0.0/0", "=gateway=100.64.0.1", "=comment=wanctl:wan2"],
];

describe("commands", () => {
  test("login, then a print with its query and property list; records in order", async () => {
    const server = await apiServer((words, reply) => reply(...routes.map((r) => [...r, `.tag=${tagOf(words)}`]), ["!done", `.tag=${tagOf(words)}`]));
    const records = await client(server.port).print("/ip/route", { where: { "dst-address": "0.0.0.0/0" }, proplist: [".id", "comment"] });
    expect(records.map((r) => r[".id"])).toEqual(["*1", "*2"]);
    expect(records[0]).toMatchObject({ gateway: "198.51.100.9", comment: "wanctl:wan1" });
    const [login, print] = server.received;
    expect(login!.slice(0, 3)).toEqual(["/login", "=name=wanctl", "=password=s3cret"]);
    expect(print!.slice(0, 3)).toEqual(["/ip/route/print", "=.proplist=.id,comment", "?dst-address=0.0.0.0/0"]);
  });

  test("every reply split into one-byte segments reads the same", async () => {
    const server = await apiServer((words, reply) => reply(...routes.map((r) => [...r, `.tag=${tagOf(words)}`]), ["!done", `.tag=${tagOf(words)}`]), { splitBytes: true });
    expect(await client(server.port).print("/ip/route")).toHaveLength(2);
  });

  test("RouterOS 7.18's !empty then !done is an empty result, and the session goes on", async () => {
    const server = await apiServer((words, reply) => {
      const tag = `.tag=${tagOf(words)}`;
      if (words[0] === "/ip/route/print") reply(["!empty", tag], ["!done", tag]);
      else reply(["!re", "=version=7.18.2 (stable)", tag], ["!done", tag]);
    });
    const c = client(server.port);
    expect(await c.print("/ip/route", { where: { comment: "wanctl:none" } })).toEqual([]);
    expect((await c.print("/system/resource"))[0]?.version).toBe("7.18.2 (stable)");
    expect(server.connections()).toBe(1);
  });

  test("RouterOS 6's empty result (just !done) is the same empty list", async () => {
    const server = await apiServer((words, reply) => reply(["!done", `.tag=${tagOf(words)}`]));
    expect(await client(server.port).print("/ip/route")).toEqual([]);
  });

  test("!trap then !done rejects with the router's message and category", async () => {
    const server = await apiServer((words, reply) => {
      const tag = `.tag=${tagOf(words)}`;
      reply(["!trap", "=category=0", "=message=no such item", tag], ["!done", tag]);
    });
    const error = await client(server.port).set("/ip/route", ["*99"], { distance: "1" }).catch((e: RouterError) => e);
    expect(error).toBeInstanceOf(RouterError);
    expect(error).toMatchObject({ kind: "trap", category: "0" });
    expect((error as Error).message).toBe("router 127.0.0.1:" + server.port + " refused /ip/route/set: no such item");
    expect(server.received[1]).toEqual(["/ip/route/set", "=.id=*99", "=distance=1", expect.stringMatching(/^\.tag=/)]);
  });

  test("replies to two commands interleave by tag", async () => {
    let first: { tag: string; reply: Reply } | undefined;
    const server = await apiServer((words, reply) => {
      const tag = tagOf(words)!;
      if (!first) {
        first = { tag, reply };
        return;
      }
      // The second command's records and end come first, the first's after them.
      reply(["!re", "=n=second", `.tag=${tag}`], ["!re", "=n=first", `.tag=${first.tag}`], ["!done", `.tag=${tag}`], ["!done", `.tag=${first.tag}`]);
    });
    const c = client(server.port);
    const a = c.print("/a");
    await new Promise((r) => setTimeout(r, 20));
    const b = c.print("/b");
    expect((await a).map((r) => r.n)).toEqual(["first"]);
    expect((await b).map((r) => r.n)).toEqual(["second"]);
  });

  test("a reply word the client does not know is skipped; !done still ends the command", async () => {
    const server = await apiServer((words, reply) => {
      const tag = `.tag=${tagOf(words)}`;
      reply(["!future", "=x=1", tag], ["!re", "=n=1", tag], ["!done", tag]);
    });
    expect(await client(server.port).print("/x")).toEqual([{ n: "1" }]);
  });

  test("!fatal fails every command in flight; the next call connects again", async () => {
    let fatal = true;
    const server = await apiServer((words, reply, socket) => {
      if (fatal) {
        fatal = false;
        reply(["!fatal", "session terminated on request"]);
        return void socket.end();
      }
      reply(["!done", `.tag=${tagOf(words)}`]);
    });
    const c = client(server.port);
    const error = await c.print("/x").catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "connection", message: expect.stringContaining("session terminated on request") });
    await new Promise((r) => setTimeout(r, 10));
    expect(await c.print("/x")).toEqual([]);
    expect(server.connections()).toBe(2);
  });

  test("a command without an answer times out and drops the connection", async () => {
    const server = await apiServer(() => undefined);
    const c = client(server.port, { timeoutMs: 200 });
    const error = await c.print("/ip/route").catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "timeout", message: expect.stringContaining("no answer to /ip/route/print within 200 ms") });
  });

  test("a router that refuses the connection is reported, and calls within the hold fail at once", async () => {
    const server = await apiServer(() => undefined);
    const port = server.port;
    await new Promise((r) => servers.pop()!.close(r));
    const c = client(port);
    const first = await c.print("/x").catch((e: RouterError) => e);
    expect(first).toMatchObject({ kind: "connection", message: `router 127.0.0.1:${port}: ECONNREFUSED` });
    expect(await c.print("/x").catch((e: RouterError) => e)).toBe(first);
  });
});

describe("login", () => {
  test("a refused login is an auth error that names the user, never the password", async () => {
    const server = await apiServer(() => undefined);
    const error = await client(server.port, { password: "wrong-pass" }).print("/x").catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "auth" });
    expect((error as Error).message).toBe(`router 127.0.0.1:${server.port}: login as wanctl refused: invalid user name or password (6)`);
    expect((error as Error).message).not.toContain("wrong-pass");
  });

  test("a router that refuses the login and hangs up at once still gives the refusal", async () => {
    const abrupt = createNetServer((socket) =>
      serve(socket, (words, reply) => {
        reply(["!trap", "=message=invalid user name or password (6)", `.tag=${tagOf(words)}`]);
        socket.end();
      }, false),
    );
    servers.push(abrupt);
    await listenOnLoopback(abrupt);
    const error = await client(portOf(abrupt)).print("/x").catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "auth", message: expect.stringContaining("login as wanctl refused: invalid user name or password (6)") });
  });

  test("a router that echoes the password in its message has it scrubbed", async () => {
    const server = await apiServer((words, reply) => {
      const tag = `.tag=${tagOf(words)}`;
      reply(["!trap", `=message=bad value s3cret`, tag], ["!done", tag]);
    });
    const error = await client(server.port).call("/x", {}).catch((e: Error) => e);
    expect((error as Error).message).toContain("bad value [redacted]");
  });

  test("RouterOS before 6.43 answers with a challenge: said plainly", async () => {
    const old = createNetServer((socket) =>
      serve(socket, (words, reply) => reply(["!done", "=ret=1b2c3d4e5f60718293a4b5c6d7e8f900", `.tag=${tagOf(words)}`]), false),
    );
    servers.push(old);
    await listenOnLoopback(old);
    const error = await client(portOf(old)).print("/x").catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "auth", message: expect.stringContaining("upgrade RouterOS to 6.43 or later") });
  });
});

describe("streams", () => {
  test("records arrive as they come; stop() sends /cancel for the tag and waits for the end", async () => {
    let pingTag = "";
    const server = await apiServer((words, reply) => {
      const tag = tagOf(words)!;
      if (words[0] === "/ping") {
        pingTag = tag;
        reply(["!re", "=seq=0", "=time=1ms", `.tag=${tag}`], ["!re", "=seq=1", "=status=timeout", `.tag=${tag}`]);
      } else if (words[0] === "/cancel") {
        expect(argsOf(words).tag).toBe(pingTag);
        reply(["!trap", "=category=2", "=message=interrupted", `.tag=${pingTag}`], ["!done", `.tag=${pingTag}`], ["!done", `.tag=${tag}`]);
      }
    });
    const c = client(server.port);
    const records: RouterRecord[] = [];
    let ended = false;
    const stream = c.stream("/ping", { address: "192.0.2.1", interval: "350ms" }, { onRecord: (r) => records.push(r), onEnd: () => (ended = true) });
    await vi.waitFor(() => expect(records).toHaveLength(2));
    expect(records).toEqual([{ seq: "0", time: "1ms" }, { seq: "1", status: "timeout" }]);
    await stream.stop();
    expect(ended).toBe(false); // stopped on purpose: no end reported
    expect(server.received.find((w) => w[0] === "/ping")!.slice(0, 3)).toEqual(["/ping", "=address=192.0.2.1", "=interval=350ms"]);
  });

  test("a stream whose connection is lost ends with the error", async () => {
    const server = await apiServer((words, reply, socket) => {
      reply(["!re", "=seq=0", `.tag=${tagOf(words)}`]);
      setTimeout(() => socket.destroy(), 20);
    });
    const c = client(server.port);
    const ended = await new Promise<RouterError | undefined>((resolve) => c.stream("/ping", { address: "x" }, { onRecord: () => undefined, onEnd: resolve }));
    expect(ended).toMatchObject({ kind: "connection" });
  });

  test("a stream the router refuses ends with its trap", async () => {
    const server = await apiServer((words, reply) => {
      const tag = `.tag=${tagOf(words)}`;
      reply(["!trap", "=message=interface does not exist", tag], ["!done", tag]);
    });
    const c = client(server.port);
    const ended = await new Promise<RouterError | undefined>((resolve) => c.stream("/ping", { address: "x", interface: "nope" }, { onRecord: () => undefined, onEnd: resolve }));
    expect(ended?.message).toContain("interface does not exist");
  });
});

describe("TLS (api-ssl, 8729)", () => {
  let certificate: TestCertificate;
  let other: TestCertificate;
  beforeAll(() => {
    certificate = makeCertificate();
    other = makeCertificate("impostor.test");
  });

  async function tlsServer(cert: TestCertificate) {
    const { handle, received } = loginHandler((words, reply) => reply(["!done", `.tag=${tagOf(words)}`]));
    let bytes = 0;
    const server = createTlsServer({ cert: cert.cert, key: cert.key }, (socket) => {
      socket.on("data", (d: Buffer) => (bytes += d.length));
      serve(socket, handle, false);
    });
    servers.push(server);
    await listenOnLoopback(server);
    return { port: portOf(server), received, bytes: () => bytes };
  }

  test("the pinned fingerprint of the router's certificate lets the session in", async () => {
    const server = await tlsServer(certificate);
    const c = client(server.port, { tls: { fingerprint256: `sha256:${certificateFingerprint(certificate.cert).replace(/:/g, "").toLowerCase()}` } });
    expect(await c.print("/x")).toEqual([]);
    expect(c.transport).toBe("api-tls");
  });

  test("another certificate than the pinned one: refused before a byte (the password) is sent", async () => {
    const server = await tlsServer(other);
    const c = client(server.port, { tls: { fingerprint256: certificateFingerprint(certificate.cert) } });
    const error = await c.print("/x").catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "protocol", message: expect.stringContaining("is not the pinned one") });
    await new Promise((r) => setTimeout(r, 50));
    expect(server.bytes()).toBe(0);
    expect(server.received).toEqual([]);
  });

  test("a CA file: the router's certificate must chain to it and name the host", async () => {
    const good = await tlsServer(certificate);
    expect(await client(good.port, { tls: { ca: certificate.cert } }).print("/x")).toEqual([]);
    const bad = await tlsServer(other);
    const error = await client(bad.port, { tls: { ca: certificate.cert } }).print("/x").catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "protocol", message: expect.stringContaining("certificate not trusted") });
    expect(bad.received).toEqual([]);
  });

  test("serverName checks the certificate against a name when the router is reached by address", async () => {
    const server = await tlsServer(certificate);
    expect(await client(server.port, { tls: { ca: certificate.cert, serverName: "router.test" } }).print("/x")).toEqual([]);
    const error = await client(server.port, { tls: { ca: certificate.cert, serverName: "gw.example" } }).print("/x").catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "protocol" });
  });
});

describe("ApiConnection", () => {
  test("is closed for good after the socket ends, and says why", async () => {
    const server = await apiServer((_words, _reply, socket) => socket.end());
    const connection = await ApiConnection.open({ host: "127.0.0.1", port: server.port, user: "wanctl", password: "s3cret", timeoutMs: 1000 });
    const error = await connection.run(["/x"], 1000).catch((e: RouterError) => e);
    expect(error).toMatchObject({ kind: "connection" });
    expect(connection.isOpen).toBe(false);
    expect(await connection.run(["/y"], 1000).catch((e: RouterError) => e)).toBe(error);
  });
});
