// What wanctl needs from a RouterOS router, whichever transport carries it (the binary API on
// 8728/8729, or REST over HTTPS on RouterOS ≥ 7.1): print a menu, set or remove items, run a
// command, and (API only) stream a command that runs until cancelled. Also: the TLS connection
// that sends nothing before the router's certificate checked out, the errors, and how RouterOS
// writes its values.
import { X509Certificate } from "node:crypto";
import { connect as netConnect, isIP, type Socket } from "node:net";
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from "node:tls";

/** A RouterOS item or reply record: every value is text, as the router sends it. */
export type RouterRecord = Readonly<Record<string, string>>;

export type RouterErrorKind =
  /** The router refused the command (`!trap`, HTTP 4xx/5xx): its message says why. */
  | "trap"
  /** Login refused: wrong user or password, or the user's group lacks the `api`/`rest-api` policy. */
  | "auth"
  /** The router ended the session (`!fatal`) or the connection was lost or could not be made. */
  | "connection"
  /** No answer in time. */
  | "timeout"
  /** The peer does not speak the protocol (or a certificate did not match). */
  | "protocol";

export class RouterError extends Error {
  constructor(
    message: string,
    readonly kind: RouterErrorKind,
    /** `!trap`'s category (0 missing item or command, 1 argument value, 2 interrupted, ...). */
    readonly category?: string,
  ) {
    super(message);
    this.name = "RouterError";
  }
}

/** A command that runs until stopped (`/ping` without a count), streamed record by record. */
export interface RouterStream {
  /** Cancels the command on the router; resolves once it ended (bounded). Idempotent. */
  stop(): Promise<void>;
}

export interface StreamHandlers {
  onRecord(record: RouterRecord): void;
  /** The command ended: by itself (`error` undefined), refused, or with the connection. Not called after stop(). */
  onEnd(error?: RouterError): void;
}

export interface RouterClient {
  /** "api", "api-tls" or "rest", for messages. */
  readonly transport: string;
  /** `host:port`, for messages. */
  readonly address: string;
  /** Items of a menu (`/ip/route`), only those whose properties equal `where`'s, with only `proplist`'s properties when given. */
  print(menu: string, options?: { where?: Readonly<Record<string, string>>; proplist?: readonly string[] }): Promise<RouterRecord[]>;
  /** Sets properties of the items with these ids. */
  set(menu: string, ids: readonly string[], values: Readonly<Record<string, string>>): Promise<void>;
  /** Removes the items with these ids, in one command. */
  remove(menu: string, ids: readonly string[]): Promise<void>;
  /** Runs a command that ends by itself (`/tool/fetch`, `/ping` with a count) and returns its records. */
  call(command: string, args: Readonly<Record<string, string>>, timeoutMs?: number): Promise<RouterRecord[]>;
  /** Streams a command that runs until stopped. Absent on REST, which answers once per request. */
  stream?(command: string, args: Readonly<Record<string, string>>, handlers: StreamHandlers): RouterStream;
  /** Drops the connection (the next call opens a new one): for a stream that went silent. */
  reset(reason: string): void;
  close(): Promise<void>;
}

/** How the router's certificate is checked: against a CA, or pinned by its SHA-256 fingerprint. */
export type TlsVerify =
  | { readonly ca: string | Buffer; readonly serverName?: string }
  | { readonly fingerprint256: string };

/** "sha256:ab12…", "AB:12:…" or plain hex → "AB:12:…" (Node's fingerprint256 format); null when not 32 bytes of hex. */
export function normalizeFingerprint(text: string): string | null {
  const hex = text.replace(/^sha-?256[:=/]?/i, "").replace(/[\s:]/g, "").toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return null;
  return hex.match(/../g)!.join(":");
}

/** The SHA-256 fingerprint of a PEM certificate, in the form the config takes (for the README's recipe and tests). */
export function certificateFingerprint(pem: string | Buffer): string {
  return new X509Certificate(pem).fingerprint256;
}

/**
 * A TCP connection to the router, TLS when `tls` is given. With TLS nothing is written before the
 * certificate checked out: against the CA (chain and host name, or `serverName`) or, pinned, its
 * fingerprint. So the password only ever goes to the router itself.
 */
export function connectRouter(host: string, port: number, tls: TlsVerify | undefined, timeoutMs: number): Promise<Socket> {
  const where = `${host}:${port}`;
  const pinned = tls && "fingerprint256" in tls ? normalizeFingerprint(tls.fingerprint256) : undefined;
  if (pinned === null) return Promise.reject(new RouterError(`router ${where}: the pinned fingerprint is not a SHA-256 fingerprint`, "protocol"));
  return new Promise<Socket>((resolve, reject) => {
    let socket: Socket | TLSSocket;
    const fail = (error: RouterError): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new RouterError(`router ${where}: no connection within ${timeoutMs} ms`, "timeout")), timeoutMs);
    const ready = (): void => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    };
    if (!tls) {
      socket = netConnect({ host, port }, ready);
    } else if ("fingerprint256" in tls) {
      // The pin replaces the chain check; it is compared before the first byte is written.
      socket = tlsConnect({ host, port, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) }, () => {
        const actual = (socket as TLSSocket).getPeerCertificate().fingerprint256;
        if (actual !== pinned) return fail(new RouterError(`router ${where}: its certificate (sha256 ${actual ?? "none"}) is not the pinned one (${pinned})`, "protocol"));
        ready();
      });
    } else {
      const name = tls.serverName ?? host;
      socket = tlsConnect(
        {
          host,
          port,
          ca: tls.ca,
          ...(isIP(name) ? {} : { servername: name }),
          checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
        },
        ready,
      );
    }
    socket.once("error", (err: NodeJS.ErrnoException) => {
      const certificate = /certificate|self.signed|altname|unable to verify/i.test(err.message);
      fail(new RouterError(`router ${where}: ${certificate ? `certificate not trusted: ${err.message}` : (err.code ?? err.message)}`, certificate ? "protocol" : "connection"));
    });
  });
}

/** Booleans as RouterOS writes them: "true"/"yes". */
export function isTrue(value: string | undefined): boolean {
  return value === "true" || value === "yes";
}

const UNIT_MS: Readonly<Record<string, number>> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 };

/**
 * A RouterOS time value in milliseconds: "12ms", "1ms537us", "537us", "1s20ms", "00:00:01.5",
 * or a plain number of seconds. Null when it is none of these.
 */
export function parseRouterDuration(text: string | undefined): number | null {
  if (text === undefined) return null;
  const value = text.trim();
  const clock = /^(?:(\d+)d)?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value);
  if (clock) return ((Number(clock[1] ?? 0) * 24 + Number(clock[2])) * 3600 + Number(clock[3]) * 60 + Number(clock[4])) * 1000;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|us|ns|w|d|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) return null;
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
}

/** Replaces every occurrence of a secret (the password) in a text that is about to leave the client. */
export function scrub(text: string, secret: string): string {
  return secret.length > 0 ? text.split(secret).join("[redacted]") : text;
}
