// DNS messages (RFC 1035) as dynamic updates need them: queries, UPDATE messages (RFC 2136) and
// TSIG (RFC 8945), with a decoder that follows name compression. Small on purpose: A, SRV
// (RFC 2782), NS, SOA and TSIG records are all that wanctl reads.
import { createHmac, timingSafeEqual } from "node:crypto";

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, AAAA: 28, SRV: 33, TSIG: 250, ANY: 255 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;

export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
};

/** TSIG error codes (RFC 8945 §5.2.x) in the TSIG record's Error field. */
export const TSIG_ERRORS: Readonly<Record<number, string>> = { 16: "BADSIG", 17: "BADKEY", 18: "BADTIME", 22: "BADTRUNC" };

export const rcodeName = (rcode: number): string => RCODE_NAMES[rcode] ?? `RCODE${rcode}`;

export interface Question {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface ResourceRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly rdata: Buffer;
  /** Where rdata starts in the decoded message (names inside rdata may point back). */
  readonly rdataOffset?: number;
  /** Where the record starts in the decoded message. */
  readonly offset?: number;
}

export interface DnsMessage {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly rcode: number;
  /** Question, or Zone for UPDATE. */
  readonly questions: readonly Question[];
  /** Answer, or Prerequisite for UPDATE. */
  readonly answers: readonly ResourceRecord[];
  /** Authority, or Update for UPDATE. */
  readonly authority: readonly ResourceRecord[];
  readonly additional: readonly ResourceRecord[];
}

/** Lower case, no trailing dot: how names compare here. */
export function normalizeName(name: string): string {
  return name.replace(/\.$/, "").toLowerCase();
}

/** Uncompressed wire form of a name (case kept). */
export function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, "");
  const parts: Buffer[] = [];
  if (trimmed !== "") {
    for (const label of trimmed.split(".")) {
      const b = Buffer.from(label, "ascii");
      if (b.length === 0 || b.length > 63) throw new Error(`bad DNS name ${JSON.stringify(name)}`);
      parts.push(Buffer.from([b.length]), b);
    }
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new Error(`DNS name too long: ${name}`);
  return out;
}

/** Reads a possibly compressed name at `offset`; `next` is the offset after it in the message. */
export function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let jumps = 0; ; ) {
    const len = buf[pos];
    if (len === undefined) throw new Error("name runs past the message");
    if ((len & 0xc0) === 0xc0) {
      const b2 = buf[pos + 1];
      if (b2 === undefined) throw new Error("name runs past the message");
      if (next < 0) next = pos + 2;
      if (++jumps > 64) throw new Error("name compression loop");
      pos = ((len & 0x3f) << 8) | b2;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new Error("unknown label type");
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if (pos + 1 + len > buf.length) throw new Error("label runs past the message");
    labels.push(buf.toString("latin1", pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: labels.join("."), next };
}

function encodeRecord(rr: ResourceRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(rr.class, 2);
  fixed.writeUInt32BE(rr.ttl >>> 0, 4);
  fixed.writeUInt16BE(rr.rdata.length, 8);
  return Buffer.concat([encodeName(rr.name), fixed, rr.rdata]);
}

export interface MessageInit {
  readonly id: number;
  readonly qr?: boolean;
  readonly opcode?: number;
  readonly aa?: boolean;
  readonly rd?: boolean;
  readonly rcode?: number;
  readonly questions?: readonly Question[];
  readonly answers?: readonly ResourceRecord[];
  readonly authority?: readonly ResourceRecord[];
  readonly additional?: readonly ResourceRecord[];
}

export function encodeMessage(m: MessageInit): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(m.id & 0xffff, 0);
  const flags = (m.qr ? 0x8000 : 0) | (((m.opcode ?? 0) & 0xf) << 11) | (m.aa ? 0x0400 : 0) | (m.rd ? 0x0100 : 0) | ((m.rcode ?? 0) & 0xf);
  header.writeUInt16BE(flags, 2);
  const qs = m.questions ?? [];
  header.writeUInt16BE(qs.length, 4);
  header.writeUInt16BE(m.answers?.length ?? 0, 6);
  header.writeUInt16BE(m.authority?.length ?? 0, 8);
  header.writeUInt16BE(m.additional?.length ?? 0, 10);
  const q = qs.map((x) => {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(x.type, 0);
    t.writeUInt16BE(x.class, 2);
    return Buffer.concat([encodeName(x.name), t]);
  });
  const rrs = [...(m.answers ?? []), ...(m.authority ?? []), ...(m.additional ?? [])].map(encodeRecord);
  return Buffer.concat([header, ...q, ...rrs]);
}

/** Decodes a whole message; throws on one that is cut short or malformed. */
export function decodeMessage(buf: Buffer): DnsMessage {
  if (buf.length < 12) throw new Error("DNS message shorter than its header");
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  let pos = 12;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const { name, next } = readName(buf, pos);
    if (next + 4 > buf.length) throw new Error("question runs past the message");
    questions.push({ name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2) });
    pos = next + 4;
  }
  const section = (n: number): ResourceRecord[] => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < n; i++) {
      const offset = pos;
      const { name, next } = readName(buf, pos);
      if (next + 10 > buf.length) throw new Error("record runs past the message");
      const rdlength = buf.readUInt16BE(next + 8);
      const rdataOffset = next + 10;
      if (rdataOffset + rdlength > buf.length) throw new Error("record data runs past the message");
      out.push({
        name,
        type: buf.readUInt16BE(next),
        class: buf.readUInt16BE(next + 2),
        ttl: buf.readUInt32BE(next + 4),
        rdata: buf.subarray(rdataOffset, rdataOffset + rdlength),
        rdataOffset,
        offset,
      });
      pos = rdataOffset + rdlength;
    }
    return out;
  };
  const answers = section(counts[1]!);
  const authority = section(counts[2]!);
  const additional = section(counts[3]!);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    questions,
    answers,
    authority,
    additional,
  };
}

export function aRdata(address: string): Buffer {
  return Buffer.from(address.split(".").map(Number));
}

export function readA(rr: ResourceRecord): string | null {
  return rr.type === TYPE.A && rr.rdata.length === 4 ? [...rr.rdata].join(".") : null;
}

/** The name in an NS/CNAME record, or the MNAME of a SOA (names may be compressed). */
export function readRdataName(msg: Buffer, rr: ResourceRecord): string {
  if (rr.rdataOffset === undefined) throw new Error("record was not decoded from a message");
  return readName(msg, rr.rdataOffset).name;
}

/** A query for one name and type; recursion desired only when asked (authoritative checks: no). */
export function encodeQuery(id: number, name: string, type: number, recursion = false): Buffer {
  return encodeMessage({ id, rd: recursion, questions: [{ name, type, class: CLASS.IN }] });
}

/** One SRV record's data (RFC 2782); the target is a host name. */
export interface SrvData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

/** SRV RDATA: priority, weight, port, then the target uncompressed (RFC 2782 forbids compressing it). */
export function srvRdata(srv: SrvData): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(srv.priority, 0);
  fixed.writeUInt16BE(srv.weight, 2);
  fixed.writeUInt16BE(srv.port, 4);
  return Buffer.concat([fixed, encodeName(srv.target)]);
}

/** The SRV record's data, or null for another type. Reads a compressed target too (some servers send one). */
export function readSrv(msg: Buffer, rr: ResourceRecord): SrvData | null {
  if (rr.type !== TYPE.SRV || rr.rdata.length < 7 || rr.rdataOffset === undefined) return null;
  const at = rr.rdataOffset;
  return { priority: msg.readUInt16BE(at), weight: msg.readUInt16BE(at + 2), port: msg.readUInt16BE(at + 4), target: readName(msg, at + 6).name };
}

/** The records of one RRset to write: its type, TTL and each record's RDATA. */
export interface RRsetInit {
  readonly type: number;
  readonly ttl: number;
  readonly rdata: readonly Buffer[];
}

/**
 * An RFC 2136 update for `zone` that replaces the RRset of `name` and `rrset.type` with
 * `rrset.rdata` (delete the RRset, then add each record: idempotent, so a retransmission does no
 * harm; the server applies the whole message or none of it).
 */
export function encodeReplaceRRset(id: number, zone: string, name: string, rrset: RRsetInit): Buffer {
  return encodeMessage({
    id,
    opcode: OPCODE.UPDATE,
    questions: [{ name: zone, type: TYPE.SOA, class: CLASS.IN }],
    authority: [
      { name, type: rrset.type, class: CLASS.ANY, ttl: 0, rdata: Buffer.alloc(0) },
      ...rrset.rdata.map((rdata) => ({ name, type: rrset.type, class: CLASS.IN, ttl: rrset.ttl, rdata })),
    ],
  });
}

// ---------------------------------------------------------------- TSIG (RFC 8945)

export type TsigAlgorithm = "hmac-sha256" | "hmac-sha512" | "hmac-sha1" | "hmac-md5";

const ALGORITHM_NAMES: Record<TsigAlgorithm, string> = {
  "hmac-sha256": "hmac-sha256",
  "hmac-sha512": "hmac-sha512",
  "hmac-sha1": "hmac-sha1",
  "hmac-md5": "hmac-md5.sig-alg.reg.int",
};
const HASHES: Record<TsigAlgorithm, string> = { "hmac-sha256": "sha256", "hmac-sha512": "sha512", "hmac-sha1": "sha1", "hmac-md5": "md5" };

export interface TsigKey {
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  /** The decoded key bytes (the config holds base64). */
  readonly secret: Buffer;
}

export interface TsigRecord {
  readonly algorithm: string;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  readonly error: number;
  readonly other: Buffer;
}

/** Canonical (lower-case, uncompressed) wire form, as TSIG digests need. */
const canonical = (name: string): Buffer => encodeName(normalizeName(name));

function uint48(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(seconds / 2 ** 32) & 0xffff, 0);
  b.writeUInt32BE(seconds % 2 ** 32, 2);
  return b;
}

/** The "TSIG variables" that follow the message in the digest (RFC 8945 §4.3.3). */
function tsigVariables(keyName: string, t: Omit<TsigRecord, "mac" | "originalId">): Buffer {
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(CLASS.ANY, 0);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(t.fudge, 0);
  tail.writeUInt16BE(t.error, 2);
  tail.writeUInt16BE(t.other.length, 4);
  return Buffer.concat([canonical(keyName), classTtl, canonical(t.algorithm), uint48(t.timeSigned), tail, t.other]);
}

function tsigRdata(t: TsigRecord): Buffer {
  const macSize = Buffer.alloc(2);
  macSize.writeUInt16BE(t.mac.length, 0);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(t.originalId, 0);
  tail.writeUInt16BE(t.error, 2);
  tail.writeUInt16BE(t.other.length, 4);
  const fudge = Buffer.alloc(2);
  fudge.writeUInt16BE(t.fudge, 0);
  return Buffer.concat([canonical(t.algorithm), uint48(t.timeSigned), fudge, macSize, t.mac, tail, t.other]);
}

export function parseTsigRdata(msg: Buffer, rr: ResourceRecord): TsigRecord {
  const { name: algorithm, next } = readName(msg, rr.rdataOffset!);
  const end = rr.rdataOffset! + rr.rdata.length;
  if (next + 10 > end) throw new Error("TSIG record cut short");
  const timeSigned = msg.readUInt16BE(next) * 2 ** 32 + msg.readUInt32BE(next + 2);
  const fudge = msg.readUInt16BE(next + 6);
  const macSize = msg.readUInt16BE(next + 8);
  const p = next + 10 + macSize;
  if (p + 6 > end) throw new Error("TSIG record cut short");
  const otherLen = msg.readUInt16BE(p + 4);
  return {
    algorithm,
    timeSigned,
    fudge,
    mac: Buffer.from(msg.subarray(next + 10, p)),
    originalId: msg.readUInt16BE(p),
    error: msg.readUInt16BE(p + 2),
    other: Buffer.from(msg.subarray(p + 6, p + 6 + otherLen)),
  };
}

/**
 * Signs `message` (no TSIG in it yet): returns the message with its TSIG record, and the MAC. A
 * response is signed over the request's MAC first (`requestMac`); `error` is the TSIG error field.
 */
export function signTsig(
  message: Buffer,
  key: TsigKey,
  nowSeconds: number,
  options: { fudge?: number; requestMac?: Buffer; error?: number } = {},
): { signed: Buffer; mac: Buffer } {
  const base = { algorithm: ALGORITHM_NAMES[key.algorithm], timeSigned: Math.floor(nowSeconds), fudge: options.fudge ?? 300, error: options.error ?? 0, other: Buffer.alloc(0) };
  const hmac = createHmac(HASHES[key.algorithm], key.secret);
  if (options.requestMac) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(options.requestMac.length, 0);
    hmac.update(len).update(options.requestMac);
  }
  const mac = hmac.update(message).update(tsigVariables(key.name, base)).digest();
  const rr = encodeRecord({ name: normalizeName(key.name), type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, rdata: tsigRdata({ ...base, mac, originalId: message.readUInt16BE(0) }) });
  const signed = Buffer.concat([message, rr]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

export type TsigCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "unsigned" | "wrong key" | "bad MAC" | "tsig error"; readonly error?: number; readonly detail: string };

/**
 * Checks the TSIG of a response to a request whose MAC was `requestMac` (RFC 8945 §5.3; null
 * checks a request, as a server does): the last
 * additional record must be a TSIG with our key's name and a MAC over the request MAC, the response
 * without its TSIG (original id, ARCOUNT less one) and the TSIG variables.
 */
export function verifyTsig(response: Buffer, decoded: DnsMessage, key: TsigKey, requestMac: Buffer | null): TsigCheck & { tsig?: TsigRecord } {
  const rr = decoded.additional.at(-1);
  if (!rr || rr.type !== TYPE.TSIG) return { ok: false, reason: "unsigned", detail: "the response carries no TSIG" };
  const t = parseTsigRdata(response, rr);
  if (t.error !== 0) return { ok: false, reason: "tsig error", error: t.error, detail: TSIG_ERRORS[t.error] ?? `TSIG error ${t.error}`, tsig: t };
  if (normalizeName(rr.name) !== normalizeName(key.name) || normalizeName(t.algorithm) !== ALGORITHM_NAMES[key.algorithm]) {
    return { ok: false, reason: "wrong key", detail: `signed with key ${rr.name} (${t.algorithm})`, tsig: t };
  }
  const stripped = Buffer.from(response.subarray(0, rr.offset));
  stripped.writeUInt16BE(t.originalId, 0);
  stripped.writeUInt16BE(decoded.additional.length - 1, 10);
  const hmac = createHmac(HASHES[key.algorithm], key.secret);
  if (requestMac) {
    const macLen = Buffer.alloc(2);
    macLen.writeUInt16BE(requestMac.length, 0);
    hmac.update(macLen).update(requestMac);
  }
  const expected = hmac.update(stripped).update(tsigVariables(rr.name, t)).digest();
  if (expected.length !== t.mac.length || !timingSafeEqual(expected, t.mac)) return { ok: false, reason: "bad MAC", detail: "the response's TSIG MAC does not verify", tsig: t };
  return { ok: true, tsig: t };
}
