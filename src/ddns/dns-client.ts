// Talking to name servers: one DNS exchange over UDP (TCP when the answer is truncated) from an
// optional source address, A and SRV queries to an authoritative server, and finding a name's
// authoritative servers through a resolver.
import { randomInt } from "node:crypto";
import { createSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { Resolver } from "node:dns/promises";
import { connect, isIP } from "node:net";
import { CLASS, decodeMessage, encodeQuery, normalizeName, rcodeName, readA, readRdataName, readSrv, TYPE, type DnsMessage, type ResourceRecord, type SrvData } from "../dns/wire.js";

export interface ExchangeOptions {
  readonly port?: number;
  /** Bind to this address (the link the exchange must leave through). */
  readonly sourceAddress?: string;
  /** The whole exchange. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** UDP datagrams sent at most, spread over the timeout. Default 3. */
  readonly sends?: number;
}

export class DnsExchangeError extends Error {
  constructor(
    message: string,
    readonly kind: "timeout" | "aborted" | "network",
  ) {
    super(message);
    this.name = "DnsExchangeError";
  }
}

/** The server's address: IP literals as they are, names through the system resolver. */
export async function serverAddress(server: string, family: 4 | 6 = 4): Promise<string> {
  if (isIP(server)) return server;
  try {
    return (await lookup(server, { family })).address;
  } catch (err) {
    throw new DnsExchangeError(`cannot resolve ${server}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, "network");
  }
}

/**
 * Sends `message` and returns the response with the same ID (QR set). Retransmits over UDP (the
 * same bytes), and asks again over TCP when the answer came back truncated.
 */
export async function dnsExchange(server: string, message: Buffer, opts: ExchangeOptions): Promise<Buffer> {
  const address = await serverAddress(server, opts.sourceAddress && isIP(opts.sourceAddress) === 6 ? 6 : 4);
  const port = opts.port ?? 53;
  const udp = await udpExchange(address, port, message, opts);
  if ((udp.readUInt16BE(2) & 0x0200) === 0) return udp;
  return tcpExchange(address, port, message, opts);
}

function guard<T>(opts: ExchangeOptions, what: string, run: (finish: (err: Error | null, value?: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let cleanup: () => void = () => undefined;
    const finish = (err: Error | null, value?: T): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      try {
        cleanup();
      } catch {
        // already closed
      }
      if (err) reject(err);
      else resolve(value as T);
    };
    const onAbort = (): void => finish(new DnsExchangeError(`${what}: aborted`, "aborted"));
    const timer = setTimeout(() => finish(new DnsExchangeError(`${what}: no answer within ${opts.timeoutMs} ms`, "timeout")), opts.timeoutMs);
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    cleanup = run(finish);
  });
}

function udpExchange(address: string, port: number, message: Buffer, opts: ExchangeOptions): Promise<Buffer> {
  const id = message.readUInt16BE(0);
  const sends = Math.max(1, opts.sends ?? 3);
  return guard<Buffer>(opts, `DNS ${address}:${port}`, (finish) => {
    const socket = createSocket(isIP(address) === 6 ? "udp6" : "udp4");
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const send = (): void => {
      if (sent >= sends) return;
      sent++;
      socket.send(message, (err) => err && finish(new DnsExchangeError(`DNS ${address}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, "network")));
      timer = setTimeout(send, Math.max(50, Math.floor(opts.timeoutMs / sends)));
    };
    socket.on("error", (err: NodeJS.ErrnoException) => finish(new DnsExchangeError(`DNS ${address}:${port}: ${err.code ?? err.message}`, "network")));
    socket.on("message", (msg) => {
      if (msg.length >= 12 && msg.readUInt16BE(0) === id && (msg.readUInt16BE(2) & 0x8000) !== 0) finish(null, msg);
    });
    socket.bind({ address: opts.sourceAddress ?? (isIP(address) === 6 ? "::" : "0.0.0.0"), port: 0, exclusive: true }, () => {
      socket.connect(port, address, (err?: Error) => {
        if (err) return finish(new DnsExchangeError(`DNS ${address}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, "network"));
        send();
      });
    });
    return () => {
      clearTimeout(timer);
      socket.close();
    };
  });
}

function tcpExchange(address: string, port: number, message: Buffer, opts: ExchangeOptions): Promise<Buffer> {
  const id = message.readUInt16BE(0);
  return guard<Buffer>(opts, `DNS ${address}:${port} (TCP)`, (finish) => {
    const socket = connect({ host: address, port, ...(opts.sourceAddress ? { localAddress: opts.sourceAddress } : {}) });
    let buf = Buffer.alloc(0);
    socket.on("error", (err: NodeJS.ErrnoException) => finish(new DnsExchangeError(`DNS ${address}:${port} (TCP): ${err.code ?? err.message}`, "network")));
    socket.on("connect", () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(message.length, 0);
      socket.write(Buffer.concat([len, message]));
    });
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        if (msg.length >= 12 && msg.readUInt16BE(0) === id) return finish(null, Buffer.from(msg));
      }
    });
    socket.on("end", () => finish(new DnsExchangeError(`DNS ${address}:${port} (TCP): closed without an answer`, "network")));
    return () => socket.destroy();
  });
}

export interface QueryResult<T> {
  readonly rcode: number;
  readonly rcodeName: string;
  /** Authoritative Answer flag. */
  readonly aa: boolean;
  /** The name's records of the type asked for (through a CNAME in the answer, if any). */
  readonly records: T[];
}

export type AQueryResult = Omit<QueryResult<string>, "records"> & { readonly addresses: string[] };

/** Asks `server` for the records of `name` and `type`, without recursion unless asked (an authoritative server's view). */
async function query<T>(server: string, name: string, type: number, read: (msg: Buffer, rr: ResourceRecord) => T | null, opts: ExchangeOptions & { recursion?: boolean }): Promise<QueryResult<T>> {
  const raw = await dnsExchange(server, encodeQuery(randomInt(0x10000), name, type, opts.recursion ?? false), opts);
  const msg: DnsMessage = decodeMessage(raw);
  const q = msg.questions[0];
  if (q && (normalizeName(q.name) !== normalizeName(name) || q.type !== type || q.class !== CLASS.IN)) {
    throw new DnsExchangeError(`DNS ${server}: answered another question (${q.name})`, "network");
  }
  let owner = normalizeName(name);
  for (let i = 0; i < 8; i++) {
    const cname = msg.answers.find((rr) => rr.type === TYPE.CNAME && normalizeName(rr.name) === owner);
    if (!cname) break;
    owner = normalizeName(readRdataName(raw, cname));
  }
  const records = msg.answers
    .filter((rr) => normalizeName(rr.name) === owner)
    .map((rr) => read(raw, rr))
    .filter((r): r is T => r !== null);
  return { rcode: msg.rcode, rcodeName: rcodeName(msg.rcode), aa: msg.aa, records };
}

/** Asks `server` for the A records of `name`, without recursion (an authoritative server's view). */
export async function queryA(server: string, name: string, opts: ExchangeOptions & { recursion?: boolean }): Promise<AQueryResult> {
  const { records, ...rest } = await query(server, name, TYPE.A, (_msg, rr) => readA(rr), opts);
  return { ...rest, addresses: records };
}

/** Asks `server` for the SRV records of `name`, without recursion. */
export function querySrv(server: string, name: string, opts: ExchangeOptions): Promise<QueryResult<SrvData>> {
  return query(server, name, TYPE.SRV, readSrv, opts);
}

export interface AuthoritativeOptions {
  /** Resolvers to ask (IP addresses); default the system's. */
  readonly resolvers?: readonly string[];
  readonly sourceAddress?: string;
  readonly timeoutMs: number;
}

/**
 * The addresses of the authoritative servers of the zone holding `name`: NS records of the name,
 * then of each parent in turn, through a resolver; then each server's A records.
 */
export async function findAuthoritativeServers(name: string, opts: AuthoritativeOptions): Promise<{ zone: string; servers: string[] }> {
  const resolver = new Resolver({ timeout: Math.max(100, Math.floor(opts.timeoutMs / 2)), tries: 2 });
  if (opts.resolvers?.length) resolver.setServers([...opts.resolvers]);
  if (opts.sourceAddress && isIP(opts.sourceAddress) === 4) resolver.setLocalAddress(opts.sourceAddress);
  const labels = normalizeName(name).split(".");
  for (let i = 0; i < labels.length - 1; i++) {
    const zone = labels.slice(i).join(".");
    let hosts: string[];
    try {
      hosts = await resolver.resolveNs(zone);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENODATA" || code === "ENOTFOUND") continue; // not a zone apex: try the parent
      throw new Error(`cannot find the name servers of ${zone}: ${code ?? String(err)}`);
    }
    const servers = (
      await Promise.all(hosts.map((h) => (isIP(h) ? Promise.resolve([h]) : resolver.resolve4(h).catch(() => [] as string[]))))
    ).flat();
    if (servers.length === 0) throw new Error(`no address for the name servers of ${zone} (${hosts.join(", ")})`);
    return { zone, servers: [...new Set(servers)] };
  }
  throw new Error(`no NS records for ${name} or any parent zone`);
}
