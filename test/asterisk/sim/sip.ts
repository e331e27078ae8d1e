// The simulator's SIP: just enough of RFC 3261 over UDP to register a trunk with a real registrar
// (Kamailio in the lab): REGISTER with retransmissions (timer A doubling from T1, capped at T2,
// given up after timer F), final responses matched by Via branch, OPTIONS answered. No auth.

import dgram from "node:dgram";
import { randomBytes } from "node:crypto";

export interface SipMessage {
  /** Request line or status line. */
  readonly startLine: string;
  /** Status code of a response; undefined for a request. */
  readonly status: number | undefined;
  readonly reason: string;
  /** Request method (requests only). */
  readonly method: string | undefined;
  /** Header values by lower-case name, in order (compact forms expanded). */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly raw: string;
}

const COMPACT: Record<string, string> = { v: "via", f: "from", t: "to", i: "call-id", m: "contact", l: "content-length", k: "supported" };

export function parseSip(raw: string): SipMessage | null {
  const headEnd = raw.indexOf("\r\n\r\n");
  const head = headEnd === -1 ? raw : raw.slice(0, headEnd);
  const lines = head.split("\r\n");
  const startLine = lines.shift() ?? "";
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    let name = line.slice(0, colon).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  const status = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(startLine);
  if (status) return { startLine, status: Number(status[1]), reason: status[2] ?? "", method: undefined, headers, raw };
  const request = /^([A-Z]+) \S+ SIP\/2\.0$/.exec(startLine);
  if (request) return { startLine, status: undefined, reason: "", method: request[1], headers, raw };
  return null;
}

export const header = (m: SipMessage, name: string): string | undefined => m.headers.get(name.toLowerCase())?.[0];

/** `branch` parameter of the top Via. */
export function viaBranch(m: SipMessage): string | undefined {
  return /;\s*branch=([^;,\s]+)/i.exec(header(m, "via") ?? "")?.[1];
}

/** Expiry the registrar granted to `contactUri`: its Contact `expires` param, else the Expires header. */
export function grantedExpiry(m: SipMessage, contactUri: string): number | undefined {
  for (const value of m.headers.get("contact") ?? []) {
    for (const c of value.split(/,(?=\s*<)/)) {
      const uri = /<([^>]+)>/.exec(c)?.[1];
      if (uri !== undefined && uri.toLowerCase() !== contactUri.toLowerCase()) continue;
      const e = /;\s*expires=(\d+)/i.exec(c)?.[1];
      if (e !== undefined) return Number(e);
    }
  }
  const e = header(m, "expires");
  return e !== undefined && /^\d+$/.test(e) ? Number(e) : undefined;
}

export const newBranch = (): string => `z9hG4bKPj${randomBytes(8).toString("hex")}`;
export const newTag = (): string => randomBytes(6).toString("hex");
export const newCallId = (): string => `${randomBytes(12).toString("hex")}`;

export interface RegisterRequest {
  /** Request-URI: the registration's server_uri. */
  readonly requestUri: string;
  /** Address of record: the registration's client_uri (From and To). */
  readonly aor: string;
  /** `host:port` in Via (sent-by). */
  readonly sentBy: string;
  readonly contact: string;
  readonly expires: number;
  readonly callId: string;
  readonly cseq: number;
  readonly fromTag: string;
  readonly userAgent: string;
}

export function buildRegister(r: RegisterRequest, branch: string): string {
  return [
    `REGISTER ${r.requestUri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${r.sentBy};rport;branch=${branch}`,
    `From: <${r.aor}>;tag=${r.fromTag}`,
    `To: <${r.aor}>`,
    `Call-ID: ${r.callId}`,
    `CSeq: ${r.cseq} REGISTER`,
    `Contact: <${r.contact}>`,
    `Expires: ${r.expires}`,
    "Max-Forwards: 70",
    `User-Agent: ${r.userAgent}`,
    "Allow: OPTIONS, INVITE, ACK, BYE, CANCEL, REGISTER",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

/** Where to send a request for a `sip:` URI (host and port; no DNS: the lab uses addresses). */
export function uriTarget(uri: string): { host: string; port: number } | null {
  const m = /^sips?:(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>?]+)(?::(\d+))?/i.exec(uri.trim());
  if (!m) return null;
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: m[2] ? Number(m[2]) : 5060 };
}

export interface SipLogEntry {
  readonly dir: "sent" | "recv";
  readonly local: string;
  readonly remote: string;
  readonly startLine: string;
  readonly callId?: string | undefined;
  readonly contact?: string | undefined;
  readonly via?: string | undefined;
  readonly expires?: string | undefined;
  readonly retransmission?: boolean;
}

export interface TransactionTimers {
  /** RFC 3261 T1 (ms), 500 by default. */
  readonly t1Ms: number;
  /** Retransmission cap (ms), 4000 by default. */
  readonly t2Ms: number;
  /** Timer F: give up (ms), 64·T1 = 32 s by default. */
  readonly timeoutMs: number;
}

export type TransactionOutcome = { readonly kind: "response"; readonly response: SipMessage } | { readonly kind: "timeout" } | { readonly kind: "error"; readonly message: string };

/** One UDP socket (a transport): client transactions for REGISTER, OPTIONS answered. */
export class SipEndpoint {
  readonly #socket: dgram.Socket;
  readonly #pending = new Map<string, (outcome: TransactionOutcome) => void>();
  readonly #log: (entry: SipLogEntry) => void;
  readonly #userAgent: string;
  #closed = false;

  private constructor(socket: dgram.Socket, log: (entry: SipLogEntry) => void, userAgent: string) {
    this.#socket = socket;
    this.#log = log;
    this.#userAgent = userAgent;
    socket.on("message", (msg, rinfo) => this.#onMessage(msg.toString("utf8"), rinfo));
    socket.on("error", () => {});
  }

  static bind(host: string, port: number, log: (entry: SipLogEntry) => void, userAgent: string): Promise<SipEndpoint> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: "udp4", reuseAddr: false });
      socket.once("error", reject);
      socket.bind(port, host, () => {
        socket.off("error", reject);
        resolve(new SipEndpoint(socket, log, userAgent));
      });
    });
  }

  get local(): { address: string; port: number } {
    const a = this.#socket.address();
    return { address: a.address, port: a.port };
  }

  /** Send a request and wait for its final response, retransmitting as timer A says. */
  request(build: (branch: string) => string, to: { host: string; port: number }, timers: TransactionTimers): Promise<TransactionOutcome> {
    if (this.#closed) return Promise.resolve({ kind: "error", message: "transport closed" });
    const branch = newBranch();
    const text = build(branch);
    return new Promise((resolve) => {
      let interval = timers.t1Ms;
      let retransmit: NodeJS.Timeout | undefined;
      const finish = (outcome: TransactionOutcome): void => {
        if (!this.#pending.has(branch)) return;
        this.#pending.delete(branch);
        clearTimeout(retransmit);
        clearTimeout(giveUp);
        resolve(outcome);
      };
      this.#pending.set(branch, finish);
      const send = (again: boolean): void => {
        this.#send(text, to, again);
        if (again) interval = Math.min(interval * 2, timers.t2Ms);
        retransmit = setTimeout(() => send(true), interval);
      };
      const giveUp = setTimeout(() => finish({ kind: "timeout" }), timers.timeoutMs);
      send(false);
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const finish of [...this.#pending.values()]) finish({ kind: "error", message: "transport closed" });
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #send(text: string, to: { host: string; port: number }, retransmission: boolean): void {
    const m = parseSip(text);
    const local = this.local;
    if (m) {
      this.#log({
        dir: "sent",
        local: `${local.address}:${local.port}`,
        remote: `${to.host}:${to.port}`,
        startLine: m.startLine,
        callId: header(m, "call-id"),
        contact: header(m, "contact"),
        via: header(m, "via"),
        expires: header(m, "expires"),
        ...(retransmission ? { retransmission } : {}),
      });
    }
    this.#socket.send(text, to.port, to.host);
  }

  #onMessage(text: string, rinfo: dgram.RemoteInfo): void {
    const m = parseSip(text);
    if (!m) return;
    const local = this.local;
    this.#log({
      dir: "recv",
      local: `${local.address}:${local.port}`,
      remote: `${rinfo.address}:${rinfo.port}`,
      startLine: m.startLine,
      callId: header(m, "call-id"),
      contact: header(m, "contact"),
      via: header(m, "via"),
      expires: header(m, "expires"),
    });
    if (m.status !== undefined) {
      if (m.status < 200) return; // provisional: keep waiting (a real UAC would also stop retransmitting)
      const branch = viaBranch(m);
      if (branch !== undefined) this.#pending.get(branch)?.({ kind: "response", response: m });
      return;
    }
    if (m.method === "ACK") return;
    // A request to us: OPTIONS (a registrar's or proxy's keep-alive) gets 200, anything else 501.
    const code = m.method === "OPTIONS" ? "200 OK" : "501 Not Implemented";
    const copy = (name: string, canonical: string): string[] => (m.headers.get(name) ?? []).map((v) => `${canonical}: ${v}`);
    const reply = [
      `SIP/2.0 ${code}`,
      ...copy("via", "Via"),
      ...copy("from", "From"),
      ...(m.headers.get("to") ?? []).map((v) => `To: ${v}${/;\s*tag=/i.test(v) ? "" : `;tag=${newTag()}`}`),
      ...copy("call-id", "Call-ID"),
      ...copy("cseq", "CSeq"),
      `Server: ${this.#userAgent}`,
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    this.#send(reply, { host: rinfo.address, port: rinfo.port }, false);
  }
}
