// The part of STUN (RFC 5389, the same in RFC 8489) that learning a public address needs: Binding
// requests and responses, MAPPED-ADDRESS and XOR-MAPPED-ADDRESS, ERROR-CODE, SOFTWARE, and the
// checks of FINGERPRINT and MESSAGE-INTEGRITY (short-term credentials), which let the codec be
// tested against RFC 5769's test vectors. Encoding responses is here too: the tests' STUN server
// and the lab's use it.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";

export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_LENGTH = 20;

export const BINDING_REQUEST = 0x0001;
export const BINDING_SUCCESS = 0x0101;
export const BINDING_ERROR = 0x0111;

export const ATTR = {
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  XOR_MAPPED_ADDRESS: 0x0020,
  /** XOR-MAPPED-ADDRESS as some pre-RFC 5389 servers number it (comprehension-optional range). */
  XOR_MAPPED_ADDRESS_OLD: 0x8020,
  SOFTWARE: 0x8022,
  FINGERPRINT: 0x8028,
} as const;

const FINGERPRINT_XOR = 0x5354554e;

export interface StunAttribute {
  readonly type: number;
  readonly value: Buffer;
  /** Offset of the attribute's header in the message. */
  readonly offset: number;
}

export interface StunMessage {
  readonly type: number;
  readonly transactionId: Buffer;
  readonly attributes: readonly StunAttribute[];
}

export interface TransportAddress {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
}

/** A fresh 96-bit transaction id. */
export function newTransactionId(): Buffer {
  return randomBytes(12);
}

const pad4 = (n: number): number => (n + 3) & ~3;

/**
 * A message with these attributes (each padded to 4 bytes with zeros), and a FINGERPRINT last when
 * asked for.
 */
export function encodeMessage(
  type: number,
  transactionId: Buffer,
  attributes: readonly { type: number; value: Buffer }[],
  options: { fingerprint?: boolean } = {},
): Buffer {
  if (transactionId.length !== 12) throw new Error("a STUN transaction id is 12 bytes");
  const parts: Buffer[] = [];
  for (const a of attributes) {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(a.type, 0);
    head.writeUInt16BE(a.value.length, 2);
    parts.push(head, a.value, Buffer.alloc(pad4(a.value.length) - a.value.length));
  }
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt16BE(type & 0x3fff, 0);
  header.writeUInt16BE(body.length + (options.fingerprint ? 8 : 0), 2);
  header.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(header, 8);
  const message = Buffer.concat([header, body]);
  if (!options.fingerprint) return message;
  const fp = Buffer.alloc(8);
  fp.writeUInt16BE(ATTR.FINGERPRINT, 0);
  fp.writeUInt16BE(4, 2);
  fp.writeUInt32BE((crc32(message) ^ FINGERPRINT_XOR) >>> 0, 4);
  return Buffer.concat([message, fp]);
}

/** A Binding request: SOFTWARE when given, and a FINGERPRINT (servers may demand one). */
export function encodeBindingRequest(transactionId: Buffer, software?: string): Buffer {
  const attrs = software ? [{ type: ATTR.SOFTWARE, value: Buffer.from(software, "utf8") }] : [];
  return encodeMessage(BINDING_REQUEST, transactionId, attrs, { fingerprint: true });
}

/**
 * The message in `buf`, or null when it is not a STUN message: shorter than a header, top two bits
 * set, no magic cookie, a length that is not the datagram's, or an attribute running past the end.
 */
export function decodeMessage(buf: Buffer): StunMessage | null {
  if (buf.length < HEADER_LENGTH) return null;
  const type = buf.readUInt16BE(0);
  if ((type & 0xc000) !== 0) return null;
  const length = buf.readUInt16BE(2);
  if (length % 4 !== 0 || HEADER_LENGTH + length !== buf.length) return null;
  if (buf.readUInt32BE(4) !== MAGIC_COOKIE) return null;
  const attributes: StunAttribute[] = [];
  let offset = HEADER_LENGTH;
  while (offset < buf.length) {
    if (offset + 4 > buf.length) return null;
    const attrType = buf.readUInt16BE(offset);
    const attrLength = buf.readUInt16BE(offset + 2);
    const end = offset + 4 + attrLength;
    if (end > buf.length) return null;
    attributes.push({ type: attrType, value: buf.subarray(offset + 4, end), offset });
    offset += 4 + pad4(attrLength);
  }
  if (offset !== buf.length) return null;
  return { type, transactionId: Buffer.from(buf.subarray(8, 20)), attributes };
}

export function findAttribute(msg: StunMessage, type: number): StunAttribute | undefined {
  return msg.attributes.find((a) => a.type === type);
}

/** Whether the FINGERPRINT (which must be the last attribute) is right; undefined when absent. */
export function checkFingerprint(buf: Buffer, msg: StunMessage): boolean | undefined {
  const fp = findAttribute(msg, ATTR.FINGERPRINT);
  if (!fp) return undefined;
  if (fp.value.length !== 4 || fp.offset + 8 !== buf.length) return false;
  return fp.value.readUInt32BE(0) === (crc32(buf.subarray(0, fp.offset)) ^ FINGERPRINT_XOR) >>> 0;
}

/**
 * Whether MESSAGE-INTEGRITY is right for `key` (short-term credentials: the password's UTF-8
 * bytes, after SASLprep, which leaves plain ASCII as it is); undefined when absent. The HMAC-SHA1
 * covers the message up to the attribute, with the header's length counting up to its end.
 */
export function checkMessageIntegrity(buf: Buffer, msg: StunMessage, key: Buffer): boolean | undefined {
  const mi = findAttribute(msg, ATTR.MESSAGE_INTEGRITY);
  if (!mi) return undefined;
  if (mi.value.length !== 20) return false;
  const covered = Buffer.from(buf.subarray(0, mi.offset));
  covered.writeUInt16BE(mi.offset + 24 - HEADER_LENGTH, 2);
  const mac = createHmac("sha1", key).update(covered).digest();
  return timingSafeEqual(mac, mi.value);
}

/** MAPPED-ADDRESS (xor false) or XOR-MAPPED-ADDRESS (xor true) value; null when malformed. */
export function decodeAddress(value: Buffer, transactionId: Buffer, xor: boolean): TransportAddress | null {
  if (value.length < 4) return null;
  const family = value[1];
  const mask = xorMask(transactionId);
  let port = value.readUInt16BE(2);
  if (xor) port ^= MAGIC_COOKIE >>> 16;
  if (family === 0x01 && value.length === 8) {
    const bytes = [...value.subarray(4, 8)].map((b, i) => (xor ? b ^ mask[i]! : b));
    return { family: 4, address: bytes.join("."), port };
  }
  if (family === 0x02 && value.length === 20) {
    const bytes = [...value.subarray(4, 20)].map((b, i) => (xor ? b ^ mask[i]! : b));
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    return { family: 6, address: compressIPv6(groups), port };
  }
  return null;
}

/** The value of a (XOR-)MAPPED-ADDRESS attribute for this address. */
export function encodeAddress(addr: { address: string; port: number }, transactionId: Buffer, xor: boolean): Buffer {
  const mask = xorMask(transactionId);
  let bytes: number[];
  if (isIPv4(addr.address)) bytes = addr.address.split(".").map(Number);
  else if (isIPv6(addr.address)) bytes = ipv6Bytes(addr.address);
  else throw new Error(`not an IP address: ${addr.address}`);
  const value = Buffer.alloc(4 + bytes.length);
  value[1] = bytes.length === 4 ? 0x01 : 0x02;
  value.writeUInt16BE(xor ? addr.port ^ (MAGIC_COOKIE >>> 16) : addr.port, 2);
  bytes.forEach((b, i) => (value[4 + i] = xor ? b ^ mask[i]! : b));
  return value;
}

/** A Binding success response carrying XOR-MAPPED-ADDRESS (and MAPPED-ADDRESS when asked). */
export function encodeBindingSuccess(
  transactionId: Buffer,
  mapped: { address: string; port: number },
  options: { software?: string; plainMapped?: boolean; xorMapped?: boolean; fingerprint?: boolean } = {},
): Buffer {
  const attrs: { type: number; value: Buffer }[] = [];
  if (options.software) attrs.push({ type: ATTR.SOFTWARE, value: Buffer.from(options.software, "utf8") });
  if (options.xorMapped ?? true) attrs.push({ type: ATTR.XOR_MAPPED_ADDRESS, value: encodeAddress(mapped, transactionId, true) });
  if (options.plainMapped) attrs.push({ type: ATTR.MAPPED_ADDRESS, value: encodeAddress(mapped, transactionId, false) });
  return encodeMessage(BINDING_SUCCESS, transactionId, attrs, { fingerprint: options.fingerprint ?? true });
}

/** A Binding error response with an ERROR-CODE. */
export function encodeBindingError(transactionId: Buffer, code: number, reason: string): Buffer {
  const reasonBytes = Buffer.from(reason, "utf8");
  const value = Buffer.alloc(4 + reasonBytes.length);
  value[2] = Math.floor(code / 100) & 0x7;
  value[3] = code % 100;
  reasonBytes.copy(value, 4);
  return encodeMessage(BINDING_ERROR, transactionId, [{ type: ATTR.ERROR_CODE, value }], { fingerprint: true });
}

export type BindingOutcome =
  | { readonly ok: true; readonly mapped: TransportAddress; readonly via: "XOR-MAPPED-ADDRESS" | "MAPPED-ADDRESS"; readonly software?: string }
  | { readonly ok: false; readonly error: string };

/**
 * What a datagram says in answer to the Binding request `transactionId`; null when it is not an
 * answer to it (not STUN, another transaction, a request, a bad FINGERPRINT): keep waiting then.
 * XOR-MAPPED-ADDRESS wins over MAPPED-ADDRESS, which NATs that rewrite addresses in payloads
 * (ALGs) may have changed; MAPPED-ADDRESS is the fallback for RFC 3489 servers.
 */
export function parseBindingResponse(buf: Buffer, transactionId: Buffer): BindingOutcome | null {
  const msg = decodeMessage(buf);
  if (!msg || !msg.transactionId.equals(transactionId)) return null;
  if (checkFingerprint(buf, msg) === false) return null;
  if (msg.type === BINDING_ERROR) {
    const ec = findAttribute(msg, ATTR.ERROR_CODE);
    if (!ec || ec.value.length < 4) return { ok: false, error: "STUN error response without an ERROR-CODE" };
    const code = (ec.value[2]! & 0x7) * 100 + ec.value[3]!;
    const reason = ec.value.subarray(4).toString("utf8").trim();
    return { ok: false, error: `STUN error ${code}${reason ? ` ${reason}` : ""}` };
  }
  if (msg.type !== BINDING_SUCCESS) return null;
  const software = findAttribute(msg, ATTR.SOFTWARE)?.value.toString("utf8");
  const extra = software ? { software } : {};
  for (const type of [ATTR.XOR_MAPPED_ADDRESS, ATTR.XOR_MAPPED_ADDRESS_OLD]) {
    const a = findAttribute(msg, type);
    if (!a) continue;
    const mapped = decodeAddress(a.value, msg.transactionId, true);
    if (mapped) return { ok: true, mapped, via: "XOR-MAPPED-ADDRESS", ...extra };
  }
  const plain = findAttribute(msg, ATTR.MAPPED_ADDRESS);
  const mapped = plain ? decodeAddress(plain.value, msg.transactionId, false) : null;
  if (mapped) return { ok: true, mapped, via: "MAPPED-ADDRESS", ...extra };
  return { ok: false, error: "STUN success response without a usable (XOR-)MAPPED-ADDRESS" };
}

/** Magic cookie then transaction id: what XOR-MAPPED-ADDRESS is XORed with. */
function xorMask(transactionId: Buffer): Buffer {
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(mask, 4);
  return mask;
}

function ipv6Bytes(address: string): number[] {
  const [head = "", tail] = address.split("::");
  const words = (s: string): number[] => (s === "" ? [] : s.split(":").map((w) => parseInt(w, 16)));
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

/** RFC 5952 text: the longest run (≥ 2) of zero groups becomes "::". */
function compressIPv6(groups: string[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, as in zlib; `zlib.crc32` needs Node ≥ 20.15). */
export function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
