// Real servers on 127.0.0.1 for the notify tests: an SMTP server with AUTH (smtp-server) and a
// small HTTP server that plays Slack or a generic webhook. Each records what it received.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  from: string;
  recipients: string[];
  user: string | undefined;
  /** The session was encrypted (STARTTLS). */
  secure: boolean;
  headers: Map<string, string>;
  subject: string;
  text: string;
  raw: string;
}

export interface SmtpFake {
  port: number;
  mails: ReceivedMail[];
  close(): Promise<void>;
}

/** Reserves a free port on 127.0.0.1 and releases it (for a server that starts later). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** With `starttls`, the server offers STARTTLS with smtp-server's built-in self-signed certificate. */
export async function startSmtp(options: { port?: number; user?: string; password?: string; starttls?: boolean } = {}): Promise<SmtpFake> {
  const mails: ReceivedMail[] = [];
  const user = options.user ?? "alerts";
  const password = options.password ?? "s3cret-pass";
  const server = new SMTPServer({
    authMethods: ["PLAIN", "LOGIN"],
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: options.starttls ? [] : ["STARTTLS"],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === password) callback(null, { user: auth.username });
      else callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const parsed = parseMail(raw);
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          recipients: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === "string" ? session.user : undefined,
          secure: session.secure,
          raw,
          ...parsed,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

// --- A little MIME reading: enough for nodemailer's single-part text messages. -----------------

function decodeWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=\s*(?==\?)?/g, (_m, _charset: string, encoding: string, text: string) => {
    if (encoding.toUpperCase() === "B") return Buffer.from(text, "base64").toString("utf8");
    const bytes = text.replace(/_/g, " ").replace(/=([0-9A-Fa-f]{2})/g, (_x, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, "latin1").toString("utf8");
  });
}

function decodeQuotedPrintable(body: string): string {
  const bytes = body.replace(/=\r?\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_x, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

export function parseMail(raw: string): { headers: Map<string, string>; subject: string; text: string } {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ");
  const body = raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), decodeWords(line.slice(colon + 1).trim()));
  }
  const encoding = (headers.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  const text =
    encoding === "quoted-printable" ? decodeQuotedPrintable(body) : encoding === "base64" ? Buffer.from(body, "base64").toString("utf8") : body;
  return { headers, subject: headers.get("subject") ?? "", text: text.replace(/\r\n/g, "\n") };
}

// --- HTTP: Slack's incoming webhook or a generic endpoint. ------------------------------------

export interface ReceivedPost {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  json: unknown;
}

export interface HttpFake {
  port: number;
  url(path?: string): string;
  posts: ReceivedPost[];
  /** What to answer; default 200 "ok" (what Slack answers). */
  answer: { status: number; body: string };
  /** Answers used once each, before `answer`. */
  nextAnswers: { status: number; body: string }[];
  close(): Promise<void>;
}

export async function startHttp(options: { port?: number; hang?: boolean } = {}): Promise<HttpFake> {
  const posts: ReceivedPost[] = [];
  const sockets = new Set<Socket>();
  const fake: Omit<HttpFake, "port" | "url" | "close"> = { posts, answer: { status: 200, body: "ok" }, nextAnswers: [] };
  const server: Server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (options.hang) return; // accepts the request and never answers
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const answer = fake.nextAnswers.shift() ?? fake.answer;
      // Only what the endpoint accepted counts as received.
      if (answer.status >= 200 && answer.status < 300) posts.push({ path: req.url ?? "", headers: req.headers, body, json });
      res.writeHead(answer.status, { "content-type": "text/plain" }).end(answer.body);
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return Object.assign(fake, {
    port,
    url: (path = "/services/T000/B000/XXXXSECRETXXXX") => `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
}
